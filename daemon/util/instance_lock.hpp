#pragma once
// One process at a time works on a state_dir: sennen-edged (service or --once) and
// `sennen-edgectl flush` when it delivers itself. state_dir/sennen-edged.pid holds the pid of the
// holder under an flock(2), so a stale file left by a crash never blocks anyone, and
// sennen-edgectl can find the running service to signal it.
#include <sys/types.h>

#include <filesystem>
#include <optional>

#include "daemon/util/fd.hpp"

namespace sennen::util {

inline constexpr const char* kPidFile = "sennen-edged.pid";

class InstanceLock {
 public:
  // Takes the lock without waiting (creating state_dir if needed) and writes our pid into the
  // file; nullopt when another process holds it. Throws sennen::Error when the file cannot be made.
  static std::optional<InstanceLock> try_acquire(const std::filesystem::path& state_dir);

 private:
  explicit InstanceLock(util::Fd fd) : fd_(std::move(fd)) {}
  util::Fd fd_;  // the lock lives as long as the descriptor
};

// The pid of the process holding the lock on state_dir, or nullopt when nobody does.
std::optional<pid_t> lock_holder(const std::filesystem::path& state_dir);

}  // namespace sennen::util
