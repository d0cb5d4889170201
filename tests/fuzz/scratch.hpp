#pragma once
// What the fuzz targets of file parsers share: the input written to a scratch file (the parsers
// read paths, as the sources do), read back as a ContentReader, and a check that a filter's output
// is made of the input's lines in order.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "daemon/core/content_filter.hpp"
#include "tests/fuzz/property.hpp"

namespace sennen::fuzz {

// The folder for a target's scratch folders (the DICOM SCP's state): $SENNEN_FUZZ_SCRATCH
// (tools/run-fuzz makes one per run and removes it afterwards, whatever became of the target),
// else /dev/shm, else /tmp.
inline std::filesystem::path scratch_folder() {
  if (const char* d = std::getenv("SENNEN_FUZZ_SCRATCH"); d && *d) return d;
  return std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
}

// A file in memory (memfd) that the parsers open by its /proc path, as a source opens a dropped
// file; rewritten for each input, gone with the process.
class ScratchFile {
 public:
  explicit ScratchFile(const char* name) : fd_(::memfd_create(name, MFD_CLOEXEC)) {
    if (fd_ < 0) broken("memfd_create failed");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~ScratchFile() { ::close(fd_); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::filesystem::path& write(std::string_view bytes) const {
    if (::ftruncate(fd_, 0) != 0) broken("cannot empty the scratch file");
    for (std::size_t at = 0; at < bytes.size();) {
      const ssize_t n = ::pwrite(fd_, bytes.data() + at, bytes.size() - at, static_cast<off_t>(at));
      if (n <= 0) broken("cannot write the scratch file");
      at += static_cast<std::size_t>(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::filesystem::path path_;
};

inline ContentReader reader_of(std::string_view bytes) {
  return [bytes, at = std::size_t{0}](std::span<std::byte> buf) mutable {
    const std::size_t n = std::min(buf.size(), bytes.size() - at);
    std::memcpy(buf.data(), bytes.data() + at, n);
    at += n;
    return n;
  };
}

// True when every line of `part` (split after '\n'), except those starting with `except`, occurs
// in `whole` in the same order.
inline bool lines_kept_in_order(std::string_view part, std::string_view whole, std::string_view except = {}) {
  std::size_t at = 0;
  while (!part.empty()) {
    const std::size_t end = part.find('\n');
    const std::string_view line = part.substr(0, end == std::string_view::npos ? part.size() : end + 1);
    part.remove_prefix(line.size());
    if (!except.empty() && line.starts_with(except)) continue;
    const std::size_t found = whole.find(line, at);
    if (found == std::string_view::npos) return false;
    at = found + line.size();
  }
  return true;
}

}  // namespace sennen::fuzz
