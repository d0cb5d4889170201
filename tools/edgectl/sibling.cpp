#include "tools/edgectl/sibling.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "daemon/util/fd.hpp"

namespace sennen::edgectl {

std::string sibling_program(const char* name, const char* env, const char* also_in) {
  if (const char* path = std::getenv(env); path && *path) return path;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto sibling = self.parent_path() / name;
    if (::access(sibling.c_str(), X_OK) == 0) return sibling.string();
  }
  if (also_in) {
    const auto there = std::filesystem::path(also_in) / name;
    if (::access(there.c_str(), X_OK) == 0) return there.string();
  }
  return name;
}

int run_program(const std::vector<std::string>& argv, std::string* out, const char* log) {
  util::Fd log_fd;
  if (log) {
    log_fd = util::Fd(::open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!log_fd) return 127;
  }
  int fds[2] = {-1, -1};
  if (out && ::pipe2(fds, O_CLOEXEC) != 0) return 127;
  const pid_t pid = ::fork();
  if (pid < 0) {
    if (out) {
      ::close(fds[0]);
      ::close(fds[1]);
    }
    return 127;
  }
  if (pid == 0) {
    if (out) ::dup2(fds[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC on the copy
    if (log_fd) ::dup2(log_fd.get(), STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::perror(("cannot run " + argv[0]).c_str());
    ::_exit(127);
  }
  if (out) {
    ::close(fds[1]);
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out->append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 128;
}

}  // namespace sennen::edgectl
