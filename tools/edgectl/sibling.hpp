#pragma once
// The programs sennen-edgectl hands work to, so that it never does their job a second way:
// sennen-verify-batches (verify-batch), sennen-edged --deliver-now (flush), and for the drill
// sennen-edged, sennen-synth-hospital and sennen-restore.
#include <string>
#include <vector>

namespace sennen::edgectl {

// The path in environment variable `env` when set, else `name` beside this binary (installed:
// /usr/bin; in the build tree a link made by tools/edgectl/CMakeLists.txt), else `name` in
// `also_in` when given and present there, else `name` (PATH).
std::string sibling_program(const char* name, const char* env, const char* also_in = nullptr);

// Runs argv and waits for it. Its stdout goes to `out` when given (else to ours); its stderr is
// appended to the file `log` when given (else ours); stdin is ours. Returns its exit status, 127
// when it could not be started (or `log` not opened), 128 + the signal number when a signal ended it.
int run_program(const std::vector<std::string>& argv, std::string* out = nullptr, const char* log = nullptr);

}  // namespace sennen::edgectl
