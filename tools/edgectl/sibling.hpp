#pragma once
// The programs sennen-edgectl hands work to, so that it never does their job a second way:
// sennen-verify-batches (verify-batch) and sennen-edged --deliver-now (flush).
#include <string>
#include <vector>

namespace sennen::edgectl {

// The path in environment variable `env` when set, else `name` beside this binary (installed:
// /usr/bin; in the build tree a link made by tools/edgectl/CMakeLists.txt), else `name` (PATH).
std::string sibling_program(const char* name, const char* env);

// Runs argv and waits for it. Its stdout goes to `out` when given (else to ours); stdin and
// stderr are ours. Returns its exit status, 127 when it could not be started, 128 + the signal
// number when a signal ended it.
int run_program(const std::vector<std::string>& argv, std::string* out = nullptr);

}  // namespace sennen::edgectl
