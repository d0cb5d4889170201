#pragma once
// The copy a quarantine entry keeps of what was found in a source tree. What is there may be
// hostile: a symbolic link to /etc/shadow or to the site's signing key, a hard link to a file
// outside the tree, a FIFO (opening it blocks), a device. Nothing is followed and nothing but a
// regular file with one link is ever opened: everything else is recorded by reference.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sennen::pipeline {

struct QuarantineCopy {
  bool copied = false;             // something was copied to the destination
  std::uint64_t size = 0;          // bytes of the regular file, or of a folder's regular files
  std::vector<std::string> notes;  // one line each (names in display form): what was not copied and why
};

// Copies `src` (a file or a content folder) to `dest` (a path the caller keeps inside its
// quarantine folder), at most `max_bytes` of file content in all:
//  - lstat first; a symbolic link is noted with its target, never followed;
//  - FIFOs, sockets and devices are noted by type and never opened;
//  - a regular file with more than one hard link is noted, not copied (it may be a name of a
//    file outside the tree);
//  - a folder is copied regular file by regular file (each opened with O_NOFOLLOW | O_NONBLOCK
//    and checked with fstat to be the regular, single-linked file listed), anything else in it noted.
// Errors writing `dest` throw sennen::Error; errors reading `src` become notes.
QuarantineCopy copy_for_quarantine(const std::filesystem::path& src, const std::filesystem::path& dest,
                                   std::uint64_t max_bytes);

}  // namespace sennen::pipeline
