#pragma once
// One error type for failures an operator can act on. The message says what failed, where, and
// what to do; callers add context as the error travels up (see with_context).
#include <stdexcept>
#include <string>

namespace sennen {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Prefixes an error with where it happened: "reading /srv/x: permission denied".
[[noreturn]] inline void rethrow_with_context(const std::string& context, const std::exception& e) {
  throw Error(context + ": " + e.what());
}

}  // namespace sennen
