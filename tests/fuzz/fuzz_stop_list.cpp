// parse_stop_list on arbitrary bytes: the 提供停止 list is a file staff keep by hand, in whatever
// encoding and layout their tools write. Properties:
//  - every ID read is a canonical patient ID; problems are capped, counted, one per line, in line
//    order and within the file; the hash is the bytes' SHA-256; the encoding is one of the five;
//  - the same text in any encoding the parser accepts (UTF-8, UTF-8 with BOM, UTF-16LE/BE with BOM,
//    UTF-16 without BOM for ASCII text, CP932 where the text round-trips through it) and with any
//    line ends (LF, CRLF, CR) gives the same IDs, the same number of lines and the same problem
//    lines: an encoding or an editor's line ends never lets anyone out;
//  - a line added at the end never removes an ID (doubt withholds more, never less).
#include <iconv.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/patient_id.hpp"
#include "daemon/gate/stop_list.hpp"
#include "daemon/util/sha256.hpp"
#include "daemon/util/utf8.hpp"
#include "tests/fuzz/property.hpp"

using namespace sennen;

namespace {

struct IconvClose {
  void operator()(void* cd) const noexcept { ::iconv_close(static_cast<iconv_t>(cd)); }
};
using Iconv = std::unique_ptr<void, IconvClose>;

Iconv open_iconv(const char* to, const char* from) {
  iconv_t cd = ::iconv_open(to, from);
  if (cd == reinterpret_cast<iconv_t>(static_cast<std::intptr_t>(-1))) fuzz::broken("iconv cannot convert CP932");
  return Iconv(cd);
}

// The whole text converted, or nothing when any of it cannot be.
std::optional<std::string> convert(void* cd, std::string_view text) {
  ::iconv(static_cast<iconv_t>(cd), nullptr, nullptr, nullptr, nullptr);
  std::string out(text.size() * 4 + 16, '\0');
  char* in = const_cast<char*>(text.data());
  std::size_t in_left = text.size();
  char* o = out.data();
  std::size_t o_left = out.size();
  if (::iconv(static_cast<iconv_t>(cd), &in, &in_left, &o, &o_left) == static_cast<std::size_t>(-1))
    return std::nullopt;
  out.resize(out.size() - o_left);
  return out;
}

std::string utf16(std::string_view utf8, bool big_endian, bool bom) {
  std::string out;
  auto unit = [&](char32_t u) {
    const char hi = static_cast<char>(u >> 8), lo = static_cast<char>(u & 0xFF);
    out += big_endian ? std::string{hi, lo} : std::string{lo, hi};
  };
  if (bom) unit(0xFEFF);
  char32_t cp = 0;
  for (std::size_t i = 0, n = 0; i < utf8.size(); i += n) {
    n = util::utf8_sequence(utf8, i, cp);
    if (cp >= 0x10000) {
      unit(0xD800 + ((cp - 0x10000) >> 10));
      unit(0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else {
      unit(cp);
    }
  }
  return out;
}

std::string replace_all(std::string_view s, char from, std::string_view to) {
  std::string out;
  for (char c : s)
    if (c == from)
      out += to;
    else
      out += c;
  return out;
}

std::vector<std::size_t> problem_line_numbers(const gate::StopList& l) {
  std::vector<std::size_t> out;
  for (const auto& p : l.problems) out.push_back(p.line);
  return out;
}

void same_reading(const gate::StopList& a, std::string_view bytes, const char* variant) {
  const gate::StopList b = gate::parse_stop_list(bytes);
  if (a.ids != b.ids) fuzz::broken(std::string("the IDs differ in ") + variant);
  if (a.lines != b.lines || a.problem_lines != b.problem_lines || problem_line_numbers(a) != problem_line_numbers(b))
    fuzz::broken(std::string("the lines or problems differ in ") + variant);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Iconv to_cp932 = open_iconv("CP932", "UTF-8"), from_cp932 = open_iconv("UTF-8", "CP932");
  const std::string_view bytes = fuzz::as_text(data, size);
  const gate::StopList list = gate::parse_stop_list(bytes);

  for (const std::string& id : list.ids)
    fuzz::require(canonical_patient_id(id) == id, "the stop list holds an ID that is not canonical");
  fuzz::require(list.problems.size() == std::min(list.problem_lines, gate::kMaxReportedProblems),
                "problems and problem_lines disagree");
  std::size_t previous = 0;
  for (const auto& p : list.problems) {
    fuzz::require(p.line > previous && p.line <= list.lines, "problem lines are not in order within the file");
    fuzz::require(!p.reason.empty(), "a problem without a reason");
    previous = p.line;
  }
  fuzz::require(list.sha256 == util::sha256_hex(bytes), "sha256 is not the file's");
  const std::string& e = list.encoding;
  fuzz::require(e == "utf-8" || e == "utf-8-bom" || e == "cp932" || e == "utf-16le" || e == "utf-16be" ||
                    (e == "binary" && list.ids.empty() && list.problem_lines == 1),
                "unknown encoding, or a workbook read as a list");

  const bool has_nul = bytes.find('\0') != std::string_view::npos;
  if (!has_nul && !bytes.starts_with("\xFF\xFE") && !bytes.starts_with("\xFE\xFF")) {
    const gate::StopList longer = gate::parse_stop_list(std::string(bytes) + "\nZZ9\n");
    for (const std::string& id : list.ids)
      if (!longer.ids.contains(id)) fuzz::broken("a line added at the end released an ID");
  }

  // The same text in other encodings and with other line ends.
  if (has_nul || e != "utf-8") return 0;
  same_reading(list, "\xEF\xBB\xBF" + std::string(bytes), "UTF-8 with BOM");
  same_reading(list, utf16(bytes, false, true), "UTF-16LE with BOM");
  same_reading(list, utf16(bytes, true, true), "UTF-16BE with BOM");
  const bool ascii = std::all_of(bytes.begin(), bytes.end(), [](char c) { return (c & 0x80) == 0; });
  if (ascii && !bytes.empty()) {
    same_reading(list, utf16(bytes, false, false), "UTF-16LE without BOM");
    same_reading(list, utf16(bytes, true, false), "UTF-16BE without BOM");
  }
  if (auto cp932 = convert(to_cp932.get(), bytes); cp932 && *cp932 != bytes && !util::valid_utf8(*cp932)) {
    if (convert(from_cp932.get(), *cp932) == std::string(bytes)) same_reading(list, *cp932, "CP932");
  }
  if (bytes.find('\r') == std::string_view::npos) {
    same_reading(list, replace_all(bytes, '\n', "\r\n"), "CRLF line ends");
    same_reading(list, replace_all(bytes, '\n', "\r"), "CR line ends");
  }
  return 0;
}
