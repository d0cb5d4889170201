#include "daemon/gate/patient_id.hpp"

#include <cstddef>
#include <cstdint>

namespace sennen::gate {
namespace {

constexpr std::size_t kMaxIdLength = 64;

// Length of the well-formed UTF-8 sequence at s[i] (1..4), or 0 when it is not one (overlong
// forms, surrogates and code points above U+10FFFF are not well formed). Sets cp.
std::size_t utf8_sequence(std::string_view s, std::size_t i, char32_t& cp) {
  auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(s[k]); };
  const std::uint8_t b0 = byte(i);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    std::size_t n = utf8_sequence(s, i, cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Rule 2 on width-folded text: surrounding whitespace, one pair of quotes and one ="..." wrapping.
std::string_view unwrap(std::string_view s) {
  s = trim(s);
  bool quotes_done = false, excel_done = false;
  for (int round = 0; round < 2; ++round) {
    if (!excel_done && s.size() >= 3 && s.starts_with("=\"") && s.back() == '"') {
      s = trim(s.substr(2, s.size() - 3));
      excel_done = true;
    } else if (!quotes_done && s.size() >= 2 && (s.front() == '"' || s.front() == '\'') &&
               s.back() == s.front()) {
      s = trim(s.substr(1, s.size() - 2));
      quotes_done = true;
    } else {
      break;
    }
  }
  return s;
}

bool id_char(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '-'; }

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

struct Verdict {
  std::optional<std::string> id;
  const char* problem = "";
};

// The one implementation behind canonical_patient_id and patient_id_problem, so they cannot disagree.
Verdict judge(std::string_view raw) {
  if (!valid_utf8(raw)) return {std::nullopt, "is not valid UTF-8 text"};
  const std::string folded = fold_width(raw);
  const std::string_view core = unwrap(folded);
  if (core.empty()) return {std::nullopt, "is empty"};
  std::string id;
  id.reserve(core.size());
  bool space_inside = false, other = false;
  for (char c : core) {
    c = upper(c);
    if (is_space(c))
      space_inside = true;
    else if (!id_char(c))
      other = true;
    id.push_back(c);
  }
  if (space_inside) return {std::nullopt, "has a space inside it (an ID is one unbroken run of letters, digits and '-')"};
  if (other) return {std::nullopt, "contains characters other than letters, digits and '-'"};
  if (id.size() > kMaxIdLength) return {std::nullopt, "is longer than 64 characters"};
  if (id.find_first_not_of("0123456789") == std::string::npos) {
    std::size_t zeros = id.find_first_not_of('0');
    id.erase(0, zeros == std::string::npos ? id.size() - 1 : zeros);
  }
  return {std::move(id), ""};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

std::string fold_width(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    char32_t cp = 0;
    std::size_t n = utf8_sequence(utf8, i, cp);
    if (n == 0) {  // kept as is: callers decide what invalid text means
      out.push_back(utf8[i++]);
      continue;
    }
    if (cp >= 0xFF01 && cp <= 0xFF5E)
      append_utf8(out, cp - 0xFEE0);
    else if (cp == 0x3000 || cp == 0x00A0)
      out.push_back(' ');
    else
      out.append(utf8.substr(i, n));
    i += n;
  }
  return out;
}

std::optional<std::string> canonical_patient_id(std::string_view raw_utf8) { return judge(raw_utf8).id; }

std::string patient_id_problem(std::string_view raw_utf8) { return judge(raw_utf8).problem; }

}  // namespace sennen::gate
