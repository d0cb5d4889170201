#pragma once
// Owning file descriptor and the few file operations the pipeline needs, with errors that name
// the path and say what to do.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/util/error.hpp"

namespace sennen::util {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset();
  // Gives the descriptor up to a new owner (one that closes it), without closing it.
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// What open_for_read throws: the message names the path and what to do, error() is the errno
// (EINVAL for something that is not a regular file), so a caller can tell "gone" from "forbidden".
class OpenError : public Error {
 public:
  OpenError(const std::string& message, int err) : Error(message), err_(err) {}
  int error() const { return err_; }

 private:
  int err_;
};

// Opens a file for reading. Files from a source tree are opened without following a symlink in
// the last component (nothing in an export tree may point us elsewhere), and only when they are
// regular files (a FIFO put in place of a file neither blocks the open nor is read); files an
// administrator named in the configuration (stop list, certificates) may be links. Throws OpenError.
enum class Links { refuse, follow };
Fd open_for_read(const std::filesystem::path& path, Links links = Links::refuse);
// Reads up to buf.size() bytes; returns 0 at end of file. Retries EINTR; throws on error.
std::size_t read_some(const Fd& fd, std::span<std::byte> buf, const std::filesystem::path& path_for_errors);
void write_all(const Fd& fd, std::span<const std::byte> data, const std::filesystem::path& path_for_errors);
void fsync_or_throw(const Fd& fd, const std::filesystem::path& path_for_errors);
void fsync_directory(const std::filesystem::path& dir);
// syncfs(2) of the file system holding `dir`: one flush for many files written without fsync.
void sync_filesystem(const std::filesystem::path& dir);
// Reads a configured file (links followed) of at most max_bytes.
std::string read_small_file(const std::filesystem::path& path, std::size_t max_bytes);
std::string errno_text(int err);

// Writes to "<target>.tmp-<pid>", and only commit() fsyncs, renames over target and fsyncs the
// directory. Destroyed without commit(), it removes the temporary file: never a half-written target.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target, unsigned mode = 0640);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::span<const std::byte> data);
  void write(std::string_view data);
  const Fd& fd() const { return fd_; }
  const std::filesystem::path& temp_path() const { return temp_; }
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  Fd fd_;
  bool committed_ = false;
};

}  // namespace sennen::util
