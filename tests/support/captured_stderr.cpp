#include "tests/support/captured_stderr.hpp"

#include <unistd.h>

namespace sennen::test {

CapturedStderr::CapturedStderr() : file_(std::tmpfile()), saved_(::dup(STDERR_FILENO)) {
  std::fflush(stderr);
  ::dup2(::fileno(file_), STDERR_FILENO);
}

CapturedStderr::~CapturedStderr() {
  std::fflush(stderr);
  ::dup2(saved_, STDERR_FILENO);
  ::close(saved_);
  std::fclose(file_);
}

std::string CapturedStderr::text() {
  std::fflush(stderr);
  std::string out;
  std::rewind(file_);
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, file_)) out.append(buf, n);
  return out;
}

std::size_t CapturedStderr::count(const std::string& what) {
  const std::string t = text();
  std::size_t n = 0;
  for (auto at = t.find(what); at != std::string::npos; at = t.find(what, at + 1)) ++n;
  return n;
}

}  // namespace sennen::test
