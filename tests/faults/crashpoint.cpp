// Named crash points for the fault campaign, from outside the daemon: an LD_PRELOAD library that
// kills the process (SIGKILL, as the OOM killer would) at one file-system call. It is built only
// under tests/ and never linked into anything shipped: the daemon under test is the unchanged
// binary. For windows too narrow for a kill from outside to hit by chance, e.g. between a batch's
// commit marker reaching the destination and the spool's record of it (tests/faults/crash.py).
//
//   SENNEN_CRASH_AT="<call>:<when>:<pattern>:<n>"
//     call     rename | remove | fsync | fdatasync | write
//              rename is matched on its new name, remove on its path (unlink and remove both),
//              fsync, fdatasync and write on the path of their file descriptor (/proc/self/fd)
//     when     before | after   (after: only once the call succeeded)
//     pattern  fnmatch(3) pattern for that path, e.g. "*/export/*.json"
//     n        the n-th matching call kills (1 = the first)
//   SENNEN_CRASH_NOTE=FILE   written ("<spec> <path>") just before the kill, so the campaign knows
//                            the point was reached (not only that the process died).
//   SENNEN_CRASH_SIGNAL=STOP the process stops itself (SIGSTOP) instead: the power-cut campaign
//                            then shuts the file system down under it and kills it, a power cut
//                            at exactly that point.
//
// Unset: every call goes straight through. Malformed: reported once on stderr, nothing armed.
#include <dlfcn.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

enum class Call { none, rename, remove, fsync, fdatasync, write };

struct Spec {
  Call call = Call::none;
  bool after = false;
  char pattern[512] = {};
  long n = 0;
  std::atomic<long> seen{0};
};

// Parsed once, at the first intercepted call (the environment does not change under us).
Spec* armed() {
  static Spec spec;
  static const bool on = [] {
    const char* s = std::getenv("SENNEN_CRASH_AT");
    if (!s || !*s) return false;
    char name[32], when[16];
    int used = 0;
    bool ok = std::sscanf(s, "%31[^:]:%15[^:]:%n", name, when, &used) == 2;
    const char* rest = s + used;
    const char* last = ok ? std::strrchr(rest, ':') : nullptr;
    ok = last && static_cast<std::size_t>(last - rest) < sizeof spec.pattern;
    if (ok) {
      std::memcpy(spec.pattern, rest, static_cast<std::size_t>(last - rest));
      char* end = nullptr;
      spec.n = std::strtol(last + 1, &end, 10);
      ok = end && !*end && spec.n >= 1;
    }
    const std::string_view c = ok ? name : "";
    spec.call = c == "rename"      ? Call::rename
                : c == "remove"    ? Call::remove
                : c == "fsync"     ? Call::fsync
                : c == "fdatasync" ? Call::fdatasync
                : c == "write"     ? Call::write
                                   : Call::none;
    const std::string_view w = ok ? when : "";
    spec.after = w == "after";
    if (spec.call == Call::none || (w != "after" && w != "before")) {
      std::fprintf(stderr, "crashpoint: cannot read SENNEN_CRASH_AT=%s; no crash point is armed\n", s);
      return false;
    }
    return true;
  }();
  return on ? &spec : nullptr;
}

template <typename Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

ssize_t real_write(int fd, const void* data, std::size_t size) {
  static const auto real = next<ssize_t (*)(int, const void*, std::size_t)>("write");
  return real(fd, data, size);
}

[[noreturn]] void die(const char* path) {
  if (const char* note = std::getenv("SENNEN_CRASH_NOTE"); note && *note) {
    const int fd = ::open(note, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      char line[1200];
      const int len = std::snprintf(line, sizeof line, "%s %s\n", std::getenv("SENNEN_CRASH_AT"), path);
      if (len > 0) (void)!real_write(fd, line, std::min<std::size_t>(static_cast<std::size_t>(len), sizeof line - 1));
      ::close(fd);  // no fsync: a process kill keeps the page cache
    }
  }
  const char* sig = std::getenv("SENNEN_CRASH_SIGNAL");
  if (sig && std::string_view(sig) == "STOP") {
    std::raise(SIGSTOP);  // the campaign kills it while it is stopped
    for (;;) ::pause();
  }
  std::raise(SIGKILL);
  std::abort();  // not reached
}

// Whether this call, at this moment (before or after it), is the one that kills.
bool hit(Call c, bool after, const char* path) {
  Spec* s = armed();
  if (!s || s->call != c || s->after != after || !path) return false;
  if (fnmatch(s->pattern, path, 0) != 0) return false;
  return s->seen.fetch_add(1) + 1 == s->n;
}

const char* fd_path(int fd, char* buf, std::size_t size) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(link, buf, size - 1);
  if (n < 0) return nullptr;
  buf[n] = 0;
  return buf;
}

template <typename Fn, typename... Args>
auto around(Call c, const char* path, Fn real, Args... args) {
  if (hit(c, false, path)) die(path);
  auto r = real(args...);
  if (r >= 0 && hit(c, true, path)) die(path);
  return r;
}

// fsync and friends: the path is looked up only when a crash point for that call is armed.
template <typename Fn, typename... Args>
auto on_fd(Call c, int fd, Fn real, Args... args) {
  Spec* s = armed();
  if (!s || s->call != c) return real(args...);
  char buf[1024];
  return around(c, fd_path(fd, buf, sizeof buf), real, args...);
}

}  // namespace

extern "C" {

int rename(const char* from, const char* to) {
  static const auto real = next<int (*)(const char*, const char*)>("rename");
  return around(Call::rename, to, real, from, to);
}

int unlink(const char* path) {
  static const auto real = next<int (*)(const char*)>("unlink");
  return around(Call::remove, path, real, path);
}

int remove(const char* path) {
  static const auto real = next<int (*)(const char*)>("remove");
  return around(Call::remove, path, real, path);
}

int fsync(int fd) {
  static const auto real = next<int (*)(int)>("fsync");
  return on_fd(Call::fsync, fd, real, fd);
}

int fdatasync(int fd) {
  static const auto real = next<int (*)(int)>("fdatasync");
  return on_fd(Call::fdatasync, fd, real, fd);
}

ssize_t write(int fd, const void* data, std::size_t size) { return on_fd(Call::write, fd, real_write, fd, data, size); }

}  // extern "C"
