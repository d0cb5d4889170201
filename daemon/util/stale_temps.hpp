#pragma once
// What util::AtomicFile leaves when its process dies between writing "<target>.tmp-<pid>" and the
// rename (a kill; or a power cut after the temp file's sync, which makes its folder entry durable
// while the rename is lost). The next write of the same target never completes it.
#include <filesystem>

namespace sennen::util {

// Removes "<target>.tmp-<digits>" beside `target`, except this process's own. Only where one
// process writes (state_dir is locked to one daemon; a destination folder has one site). Errors
// are ignored: what stays is clutter, and the next write tries again.
void remove_stale_temps(const std::filesystem::path& target);

}  // namespace sennen::util
