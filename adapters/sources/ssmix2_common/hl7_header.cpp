#include "adapters/sources/ssmix2_common/hl7_header.hpp"

#include <algorithm>

#include <cstdio>

namespace sennen::ssmix2 {
namespace {

struct Separators {
  char field = '|';
  char component = '^';
  char repetition = '~';
};

Hl7ParseResult fail(std::string why) { return {std::nullopt, std::move(why)}; }

bool is_segment_end(char c) { return c == '\r' || c == '\n'; }

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Field `index` of a segment (0 = the segment name), or empty when the segment is shorter.
std::string_view field(std::string_view segment, char sep, std::size_t index) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < index; ++i) {
    std::size_t pos = segment.find(sep, start);
    if (pos == std::string_view::npos) return {};
    start = pos + 1;
  }
  return segment.substr(start, segment.find(sep, start) - start);
}

std::string_view before(std::string_view s, char c) { return s.substr(0, s.find(c)); }

// Up to 8 leading bytes, printable ones as text and the rest as hex, so a quarantine reason shows
// what the file actually starts with.
std::string describe_start(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 8)) {
    if (!out.empty()) out += ' ';
    if (c >= 0x21 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "0x%02x", c);
      out += hex;
    }
  }
  return out;
}

// The separator must not be something that occurs inside ordinary field text.
bool usable_separator(char c) {
  const auto u = static_cast<unsigned char>(c);
  const bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  return u > 0x20 && u < 0x7f && !alnum;
}

}  // namespace

Hl7ParseResult parse_hl7_header(std::string_view prefix) {
  if (prefix.empty()) return fail("empty file, not HL7");
  if (const std::size_t nul = prefix.find('\0'); nul != std::string_view::npos)
    return fail("binary data, not HL7 (NUL byte at offset " + std::to_string(nul) + ")");
  if (prefix == "MSH") return fail("ends right after \"MSH\": truncated, no field separator");
  if (prefix.size() < 4 || prefix.substr(0, 3) != "MSH")
    return fail("does not start with \"MSH\", not an HL7 v2 message (starts with: " + describe_start(prefix) + ")");

  Separators sep;
  sep.field = prefix[3];
  if (!usable_separator(sep.field))
    return fail("MSH-1 field separator " + describe_start(prefix.substr(3, 1)) +
                " is not a printable non-alphanumeric character");
  const std::string_view msh = prefix.substr(0, prefix.find_first_of("\r\n"));
  // MSH-1 is the separator itself, so splitting MSH on it puts MSH-n at index n-1.
  const std::string_view encoding = field(msh, sep.field, 1);
  if (!encoding.empty()) sep.component = encoding[0];
  if (encoding.size() >= 2) sep.repetition = encoding[1];

  Hl7Header h;
  h.message_time = trim_spaces(field(msh, sep.field, 6));
  h.message_type = trim_spaces(field(msh, sep.field, 8));
  h.control_id = trim_spaces(field(msh, sep.field, 9));

  // Segments end with CR; LF and CRLF are tolerated, and the empty "segments" they leave are skipped.
  std::size_t pos = msh.size();
  while (pos < prefix.size()) {
    while (pos < prefix.size() && is_segment_end(prefix[pos])) ++pos;
    std::size_t end = pos;
    while (end < prefix.size() && !is_segment_end(prefix[end])) ++end;
    const std::string_view segment = prefix.substr(pos, end - pos);
    pos = end;
    if (segment.size() < 3 || segment.substr(0, 3) != "PID" || (segment.size() > 3 && segment[3] != sep.field))
      continue;
    const std::string_view pid3 = field(segment, sep.field, 3);
    h.patient_id = trim_spaces(before(before(pid3, sep.repetition), sep.component));
    if (h.patient_id.empty())
      return fail("PID-3 (patient ID list) has no ID in its first repetition's first component");
    return {std::move(h), {}};
  }
  return fail("no PID segment in the first " + std::to_string(prefix.size()) + " bytes");
}

std::vector<std::string_view> encoding_deviations(std::string_view bytes) {
  bool seen[4] = {false, false, false, false};
  seen[0] = bytes.find("\x1b(J") != std::string_view::npos;
  seen[1] = bytes.find("\x1b(I") != std::string_view::npos;
  seen[2] = bytes.find("\x1b$@") != std::string_view::npos;
  seen[3] = std::any_of(bytes.begin(), bytes.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < kEncodingDeviations.size(); ++i)
    if (seen[i]) out.push_back(kEncodingDeviations[i]);
  return out;
}

}  // namespace sennen::ssmix2
