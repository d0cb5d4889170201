#pragma once
#include <cstddef>
#include <cstdio>
#include <string>

namespace sennen::test {

// stderr (where the log goes, and where a library left to itself prints) captured into a file
// while this lives.
class CapturedStderr {
 public:
  CapturedStderr();
  ~CapturedStderr();
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  std::string text();
  std::size_t count(const std::string& what);

 private:
  std::FILE* file_;
  int saved_;
};

}  // namespace sennen::test
