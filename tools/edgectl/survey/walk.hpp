#pragma once
// The survey's walk over one root: read-only (folders are listed, files opened O_RDONLY without
// following links, only the head of a standardized-storage file is read), streaming (one folder
// listing per level of the tree is held at a time) and never fatal below the root: an unreadable
// folder or file is counted with its reason and the walk goes on. Links, devices and folders on
// other file systems are never followed, like sennen-edged's own walk (dirpoll/walker.hpp).
#include <cstddef>
#include <filesystem>
#include <functional>

#include "tools/edgectl/survey/tally.hpp"

namespace sennen::survey {

struct WalkOptions {
  std::size_t head_bytes = 8192;  // what is read of an HL7 file: MSH, PID and the escape sequences near them
  bool cross_filesystems = false;
  // Called every few hundred entries (the command draws its progress line from it).
  std::function<void(const Tally&, const std::filesystem::path& dir)> progress;
};

// Throws sennen::Error when the root itself cannot be listed (the command reports it and goes on
// with the other roots).
void walk_root(const std::filesystem::path& root, Tally& tally, const WalkOptions& options);

}  // namespace sennen::survey
