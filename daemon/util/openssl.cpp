#include "daemon/util/openssl.hpp"

#include <openssl/err.h>

#include <array>

namespace sennen::openssl {

std::string errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    std::array<char, 256> text{};
    ERR_error_string_n(e, text.data(), text.size());
    if (!out.empty()) out += "; ";
    out += text.data();
  }
  return out;
}

}  // namespace sennen::openssl
