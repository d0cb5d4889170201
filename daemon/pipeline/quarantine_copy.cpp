#include "daemon/pipeline/quarantine_copy.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/name_text.hpp"

namespace sennen::pipeline {
namespace fs = std::filesystem;
namespace {

constexpr int kMaxDepth = 8;  // folders inside a content folder (the source reads 4)

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

const char* kind_of(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

class Copier {
 public:
  Copier(std::uint64_t max_bytes, QuarantineCopy& out) : max_(max_bytes), left_(max_bytes), out_(out) {}

  // One entry `name` of the folder open as `dir_fd` (AT_FDCWD with an absolute name for the top).
  void entry(int dir_fd, const std::string& name, const std::string& shown, const fs::path& dest, int depth) {
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      note(shown + ": cannot be examined: " + util::errno_text(errno));
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      note(shown + ": symbolic link to " + link_target(dir_fd, name) + "; not followed, nothing copied");
    } else if (S_ISDIR(st.st_mode)) {
      folder(dir_fd, name, shown, dest, depth);
    } else if (S_ISREG(st.st_mode)) {
      out_.size += static_cast<std::uint64_t>(st.st_size);
      file(dir_fd, name, shown, dest, st);
    } else {
      note(shown + ": " + kind_of(st.st_mode) + "; recorded by type, never opened");
    }
  }

 private:
  void note(std::string line) { out_.notes.push_back(std::move(line)); }

  static std::string link_target(int dir_fd, const std::string& name) {
    char buf[4096];
    ssize_t n = ::readlinkat(dir_fd, name.c_str(), buf, sizeof buf);
    return n < 0 ? "(unreadable: " + util::errno_text(errno) + ")" : util::display_name(std::string(buf, n));
  }

  void file(int dir_fd, const std::string& name, const std::string& shown, const fs::path& dest,
            const struct stat& listed) {
    if (listed.st_nlink > 1) {
      note(shown + ": a file with " + std::to_string(listed.st_nlink) +
           " hard links (it may be a name of a file outside the tree); recorded by reference, not copied");
      return;
    }
    if (static_cast<std::uint64_t>(listed.st_size) > left_) {
      note(shown + ": " + std::to_string(listed.st_size) + " bytes, over the quarantine's copy limit (" +
           std::to_string(max_) + " bytes in all); not copied");
      return;
    }
    // O_NONBLOCK: a FIFO put in its place since the fstatat must not block the open.
    util::Fd in(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    struct stat st {};
    if (!in || ::fstat(in.get(), &st) != 0) {
      note(shown + ": cannot be opened: " + util::errno_text(errno));
      return;
    }
    if (!S_ISREG(st.st_mode) || st.st_ino != listed.st_ino || st.st_dev != listed.st_dev || st.st_nlink != 1) {
      note(shown + ": changed while being examined; not copied");
      return;
    }
    // Not fsynced: a copy for people to look at (the file stays in the source tree); thousands of
    // bad files in one poll must not cost two fsyncs each.
    util::Fd copy(::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640));
    if (!copy) {
      const int err = errno;
      throw Error("cannot create " + util::display_name(dest.string()) + ": " + util::errno_text(err));
    }
    std::vector<std::byte> buf(64 * 1024);
    std::uint64_t copied = 0;
    for (;;) {
      std::size_t n = 0;
      try {
        n = util::read_some(in, buf, fs::path(name));
      } catch (const std::exception& e) {
        note(shown + ": read failed after " + std::to_string(copied) + " bytes: " + e.what());
        break;
      }
      if (n == 0) break;
      if (copied + n > left_) {
        note(shown + ": grew while being copied; the copy holds its first " + std::to_string(copied) + " bytes");
        break;
      }
      util::write_all(copy, std::span(buf.data(), n), dest);
      copied += n;
    }
    left_ -= copied;
    out_.copied = true;
  }

  void folder(int dir_fd, const std::string& name, const std::string& shown, const fs::path& dest, int depth) {
    if (depth >= kMaxDepth) {
      note(shown + ": a folder nested deeper than " + std::to_string(kMaxDepth) + "; not copied");
      return;
    }
    util::Fd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      note(shown + ": cannot be opened: " + util::errno_text(errno));
      return;
    }
    int listing_fd = ::dup(fd.get());
    std::unique_ptr<DIR, DirCloser> d(listing_fd < 0 ? nullptr : ::fdopendir(listing_fd));
    if (!d) {
      if (listing_fd >= 0) ::close(listing_fd);
      note(shown + ": cannot be listed: " + util::errno_text(errno));
      return;
    }
    std::error_code ec;
    fs::create_directories(dest, ec);
    if (ec) throw Error("cannot create " + util::display_name(dest.string()) + ": " + ec.message());
    out_.copied = true;
    while (struct dirent* de = ::readdir(d.get())) {
      const std::string child = de->d_name;
      if (child == "." || child == "..") continue;
      entry(fd.get(), child, shown + "/" + util::display_name(child), dest / child, depth + 1);
    }
  }

  const std::uint64_t max_;
  std::uint64_t left_;
  QuarantineCopy& out_;
};

}  // namespace

QuarantineCopy copy_for_quarantine(const fs::path& src, const fs::path& dest, std::uint64_t max_bytes) {
  QuarantineCopy out;
  std::error_code ec;
  fs::remove_all(dest, ec);  // a copy left by an earlier quarantine of the same path
  fs::create_directories(dest.parent_path(), ec);
  if (ec) throw Error("cannot create " + util::display_name(dest.parent_path().string()) + ": " + ec.message());
  Copier(max_bytes, out)
      .entry(AT_FDCWD, fs::absolute(src).string(), util::display_name(src.filename().string()), dest, 0);
  return out;
}

}  // namespace sennen::pipeline
