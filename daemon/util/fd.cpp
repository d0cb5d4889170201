#include "daemon/util/fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/util/error.hpp"
#include "daemon/util/name_text.hpp"

namespace sennen::util {

std::string errno_text(int err) { return std::strerror(err); }

namespace {
// Paths may come from a source tree: any bytes, shown in their display form. Keeps errno, which
// the messages below read in the same expression.
std::string shown(const std::filesystem::path& p) {
  const int saved = errno;
  std::string out = display_name(p.string());
  errno = saved;
  return out;
}
}  // namespace

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Fd open_for_read(const std::filesystem::path& path, Links links) {
  const bool tree = links == Links::refuse;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | (tree ? O_NOFOLLOW | O_NONBLOCK : 0)));
  if (!fd) {
    int err = errno;
    if (err == ELOOP)
      throw OpenError("cannot read " + shown(path) + ": it is a symbolic link, which is not followed", err);
    throw OpenError("cannot open " + shown(path) + ": " + errno_text(err) +
                        (err == EACCES ? " (grant the sennen-edge user read access)" : ""),
                    err);
  }
  struct stat st {};
  if (tree && (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)))
    throw OpenError("cannot read " + shown(path) + ": not a regular file (a device, FIFO or socket is never read)",
                    EINVAL);
  return fd;
}

std::size_t read_some(const Fd& fd, std::span<std::byte> buf, const std::filesystem::path& path) {
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) throw Error("cannot read " + shown(path) + ": " + errno_text(errno));
  }
}

void write_all(const Fd& fd, std::span<const std::byte> data, const std::filesystem::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      throw Error("cannot write " + shown(path) + ": " + errno_text(err) +
                  (err == ENOSPC ? " (free disk space on that file system)" : ""));
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
}

void fsync_or_throw(const Fd& fd, const std::filesystem::path& path) {
  if (::fsync(fd.get()) != 0) throw Error("cannot fsync " + shown(path) + ": " + errno_text(errno));
}

void fsync_directory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw Error("cannot open directory " + shown(dir) + ": " + errno_text(errno));
  fsync_or_throw(fd, dir);
}

void sync_filesystem(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw Error("cannot open directory " + shown(dir) + ": " + errno_text(errno));
  if (::syncfs(fd.get()) != 0)
    throw Error("cannot flush the file system holding " + shown(dir) + " to disk: " + errno_text(errno));
}

std::string read_small_file(const std::filesystem::path& path, std::size_t max_bytes) {
  Fd fd = open_for_read(path, Links::follow);
  std::string out;
  std::byte buf[65536];
  for (;;) {
    std::size_t n = read_some(fd, buf, path);
    if (n == 0) break;
    if (out.size() + n > max_bytes)
      throw Error(shown(path) + " is larger than " + std::to_string(max_bytes) + " bytes");
    out.append(reinterpret_cast<const char*>(buf), n);
  }
  return out;
}

AtomicFile::AtomicFile(std::filesystem::path target, unsigned mode) : target_(std::move(target)) {
  temp_ = target_;
  temp_ += ".tmp-" + std::to_string(::getpid());
  fd_ = Fd(::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd_) throw Error("cannot create " + shown(temp_) + ": " + errno_text(errno));
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    fd_.reset();
    ::unlink(temp_.c_str());
  }
}

void AtomicFile::write(std::span<const std::byte> data) { write_all(fd_, data, temp_); }
void AtomicFile::write(std::string_view data) { write(std::as_bytes(std::span(data.data(), data.size()))); }

void AtomicFile::commit() {
  fsync_or_throw(fd_, temp_);
  fd_.reset();
  if (::rename(temp_.c_str(), target_.c_str()) != 0)
    throw Error("cannot rename " + shown(temp_) + " to " + shown(target_) + ": " + errno_text(errno));
  committed_ = true;
  fsync_directory(target_.parent_path().empty() ? "." : target_.parent_path());
}

}  // namespace sennen::util
