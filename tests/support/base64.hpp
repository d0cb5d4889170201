#pragma once
// What a reader of a manifest does with a `<field>_b64` (RFC 4648 base64, with padding).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sennen::test {

inline std::string unbase64(std::string_view text) {
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t v = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const auto pos = alphabet.find(c);
    if (pos == std::string_view::npos) throw std::invalid_argument("not base64: " + std::string(text));
    v = (v << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((v >> bits) & 0xFF));
    }
  }
  return out;
}

}  // namespace sennen::test
