#pragma once
// One error type for failures an operator can act on. The message says what failed, where, and
// what to do; a caller that knows more (which file, which source) catches it and throws a new Error
// that says so.
#include <stdexcept>
#include <string>

namespace sennen {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sennen
