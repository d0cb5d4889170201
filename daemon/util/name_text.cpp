#include "daemon/util/name_text.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "daemon/util/cp932.hpp"
#include "daemon/util/error.hpp"

namespace sennen::util {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void hex_byte(std::string& out, unsigned char b) {
  out += "\\x";
  out += kHex[b >> 4];
  out += kHex[b & 0xF];
}

void code_point(std::string& out, char32_t cp) {
  std::string digits;
  for (char32_t v = cp; v; v >>= 4) digits.insert(digits.begin(), kHex[v & 0xF]);
  out += "\\u{" + digits + "}";
}

// Code points that move or break a line, or reorder what a reader sees, without showing.
bool invisible_control(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

void escape(std::string_view s, bool escape_backslash, std::string& out) {
  out.reserve(out.size() + s.size());
  char32_t cp = 0;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i, cp);
    if (n == 0) {
      hex_byte(out, static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    if (cp < 0x20 || cp == 0x7F)
      hex_byte(out, static_cast<unsigned char>(cp));
    else if (cp == '\\' && escape_backslash)
      out += "\\\\";
    else if (invisible_control(cp))
      code_point(out, cp);
    else
      out.append(s.substr(i, n));
    i += n;
  }
}

// `raw` as CP932 decoded to UTF-8, or nothing when any byte does not decode or this system has no
// CP932 converter (a name is then shown escaped: showing it never fails).
std::optional<std::string> from_cp932(std::string_view raw, std::optional<Cp932ToUtf8>& cp932) {
  try {
    if (!cp932) cp932.emplace();
  } catch (const Error&) {
    return std::nullopt;
  }
  return cp932->strict(raw);
}

}  // namespace

std::string display_name(std::string_view raw) {
  // Component by component: a path may hold a CP932 file name in a folder named in UTF-8, whose
  // bytes would also decode as (wrong) CP932. '/' is never part of a CP932 or UTF-8 character.
  std::string out;
  std::optional<Cp932ToUtf8> cp932;  // opened for the first component that is not UTF-8
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = std::min(raw.find('/', start), raw.size());
    const std::string_view part = raw.substr(start, end - start);
    std::optional<std::string> decoded;
    if (!valid_utf8(part)) decoded = from_cp932(part, cp932);
    escape(decoded ? std::string_view(*decoded) : part, true, out);
    if (end == raw.size()) return out;
    out += '/';
    start = end + 1;
  }
}

std::string one_line(std::string_view text) {
  std::string out;
  escape(text, false, out);
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 3; ++k) v = (v << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    for (std::size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(v >> (18 - 6 * k)) & 0x3F] : '=';
  }
  return out;
}

std::filesystem::path contained_path(std::string_view rel) {
  std::filesystem::path out;
  std::size_t start = 0;
  while (start <= rel.size()) {
    std::size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string_view part = rel.substr(start, end - start);
    if (part == ".")
      out /= "%2E";
    else if (part == "..")
      out /= "%2E%2E";
    else if (!part.empty())
      out /= std::string(part);
    start = end + 1;
  }
  return out.empty() ? std::filesystem::path("_") : out;
}

}  // namespace sennen::util
