#pragma once
// UTF-8 decoding and encoding, strict: overlong forms, surrogates, code points above U+10FFFF and
// cut sequences are not well formed.
#include <cstddef>
#include <string>
#include <string_view>

namespace sennen::util {

// Length (1..4) of the well-formed UTF-8 sequence at s[i], or 0; sets cp when well formed.
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp);
bool valid_utf8(std::string_view s);
void append_utf8(std::string& out, char32_t cp);

}  // namespace sennen::util
