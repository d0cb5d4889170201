#include "daemon/core/patient_id.hpp"

#include "daemon/util/utf8.hpp"

#include <cstddef>
#include <cstdint>

namespace sennen {
namespace {
using util::append_utf8;
using util::utf8_sequence;
using util::valid_utf8;

constexpr std::size_t kMaxIdLength = 64;

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
    } else if (!quotes_done && s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
      s = trim(s.substr(1, s.size() - 2));
      quotes_done = true;
    } else {
      break;
    }
  }
  return s;
}

bool id_char(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }

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
  if (space_inside)
    return {std::nullopt, "has a space inside it (an ID is one unbroken run of letters, digits, '-' and '_')"};
  if (other) return {std::nullopt, "contains characters other than letters, digits, '-' and '_'"};
  if (id.size() > kMaxIdLength) return {std::nullopt, "is longer than 64 characters"};
  if (id.find_first_not_of("0123456789") == std::string::npos) {
    std::size_t zeros = id.find_first_not_of('0');
    id.erase(0, zeros == std::string::npos ? id.size() - 1 : zeros);
  }
  return {std::move(id), ""};
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

}  // namespace sennen
