#include "daemon/gate/stop_list.hpp"

#include "daemon/util/utf8.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include "daemon/util/cp932.hpp"
#include "daemon/util/error.hpp"
#include "daemon/core/patient_id.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/sha256.hpp"

namespace sennen::gate {
namespace {
using util::append_utf8;
using util::valid_utf8;
// Length of the well-formed UTF-8 sequence at s[i], or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  char32_t cp = 0;
  return util::utf8_sequence(s, i, cp);
}

constexpr std::size_t kMaxFileBytes = std::size_t{64} << 20;
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD marks undecodable input

// ---------------------------------------------------------------- decoding to UTF-8

// Invalid bytes become U+FFFD one by one; a line end is a valid byte, so lines keep their numbers.
std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// Lone surrogates and an odd trailing byte become U+FFFD.
std::string decode_utf16(std::string_view b, bool big_endian) {
  auto unit = [&](std::size_t k) -> char32_t {
    auto lo = static_cast<std::uint8_t>(b[big_endian ? k + 1 : k]);
    auto hi = static_cast<std::uint8_t>(b[big_endian ? k : k + 1]);
    return static_cast<char32_t>(hi << 8 | lo);
  };
  std::string out;
  out.reserve(b.size());
  std::size_t i = 0;
  for (; i + 1 < b.size(); i += 2) {
    char32_t u = unit(i);
    if (u >= 0xD800 && u <= 0xDBFF && i + 3 < b.size()) {
      char32_t low = unit(i + 2);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        append_utf8(out, 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00));
        i += 2;
        continue;
      }
    }
    if (u >= 0xD800 && u <= 0xDFFF)
      out += kReplacement;
    else
      append_utf8(out, u);
  }
  if (i < b.size()) out += kReplacement;
  return out;
}

// Byte by byte recovery: an invalid sequence becomes U+FFFD and decoding resumes at the next byte.
// CP932 trail bytes are 0x40..0xFC, so no line end, separator, quote or '#' is ever swallowed.
std::string decode_cp932(std::string_view bytes) {
  try {
    return util::Cp932ToUtf8().lenient(bytes);
  } catch (const Error& e) {
    throw Error(std::string("cannot read a CP932 (Shift_JIS) stop list: ") + e.what() + ", or save the list as UTF-8");
  }
}

// Excel and Notepad always write a BOM, but a BOM lost in copying must not turn a list into
// garbage: real text files have no NUL bytes, while UTF-16 ASCII has one in every other byte.
std::optional<bool> bomless_utf16_big_endian(std::string_view b) {
  std::size_t even = 0, odd = 0;
  for (std::size_t i = 0; i < b.size(); ++i)
    if (b[i] == '\0') ++((i % 2) ? odd : even);
  const std::size_t total = even + odd;
  if (total == 0 || total * 8 < b.size()) return std::nullopt;  // a stray NUL is not UTF-16
  if (odd * 10 >= total * 9) return false;                      // "1\0" : little endian
  if (even * 10 >= total * 9) return true;
  return std::nullopt;
}

struct Decoded {
  std::string_view text;  // UTF-8, U+FFFD where the input could not be decoded
  std::string encoding;   // StopList::encoding
  std::string label;      // for messages
};

// Converted text goes to storage; valid UTF-8 input is used in place (a 64 MiB list is not copied).
Decoded decode(std::string_view b, std::string& storage) {
  auto own = [&](std::string text, const char* encoding, const char* label) {
    storage = std::move(text);
    return Decoded{storage, encoding, label};
  };
  if (b.starts_with("\xEF\xBB\xBF")) return own(sanitize_utf8(b.substr(3)), "utf-8-bom", "UTF-8");
  if (b.starts_with("\xFF\xFE")) return own(decode_utf16(b.substr(2), false), "utf-16le", "UTF-16");
  if (b.starts_with("\xFE\xFF")) return own(decode_utf16(b.substr(2), true), "utf-16be", "UTF-16");
  if (auto big = bomless_utf16_big_endian(b))
    return own(decode_utf16(b, *big), *big ? "utf-16be" : "utf-16le", "UTF-16");
  if (valid_utf8(b)) return {b, "utf-8", "UTF-8"};
  return own(decode_cp932(b), "cp932", "CP932");
}

// ---------------------------------------------------------------- lines and fields

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n' && text[i] != '\r') continue;
    lines.push_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }

// Cells of one (width-folded) line. sep '\0' means one column. Quotes only open a field; an
// unmatched quote runs to the end of the line. '#' outside quotes, at a field start or after
// whitespace, starts a comment (no ID contains '#').
std::vector<std::string> split_fields(std::string_view line, char sep) {
  std::vector<std::string> cells;
  std::string cur;
  bool at_start = true, prev_space = false;
  for (std::size_t i = 0; i < line.size();) {
    const char c = line[i];
    if (at_start && c == '"') {
      cur.clear();  // whitespace before the opening quote
      for (++i; i < line.size(); ++i) {
        if (line[i] != '"') {
          cur.push_back(line[i]);
        } else if (i + 1 < line.size() && line[i + 1] == '"') {
          cur.push_back('"');
          ++i;
        } else {
          ++i;
          break;
        }
      }
      at_start = prev_space = false;
      continue;
    }
    ++i;
    if (sep != '\0' && c == sep) {
      cells.push_back(std::move(cur));
      cur.clear();
      at_start = true;
      prev_space = false;
      continue;
    }
    if (c == '#' && (at_start || prev_space)) break;
    prev_space = is_space(c);
    if (!prev_space) at_start = false;
    cur.push_back(c);
  }
  cells.push_back(std::move(cur));
  return cells;
}

// Empty for our purposes: nothing but whitespace, quotes and '=' (Excel's ="" is an empty cell).
bool cell_is_empty(std::string_view cell) {
  return std::all_of(cell.begin(), cell.end(), [](char c) { return is_space(c) || c == '"' || c == '\'' || c == '='; });
}

bool has_replacement(std::string_view s) { return s.find(kReplacement) != std::string_view::npos; }

// The separator (outside quotes and comments) that separates two non-empty cells in the most lines;
// if none does (e.g. "1234," everywhere), the one that occurs in the most lines. Ties go to tab,
// then ';' (a ';' file may use ',' as decimal mark), then ','.
char detect_separator(const std::vector<std::string_view>& lines) {
  char best = '\0';
  std::pair<std::size_t, std::size_t> best_score{0, 0};
  for (char sep : {'\t', ';', ','}) {
    std::pair<std::size_t, std::size_t> score{0, 0};
    for (const auto raw : lines) {
      // Cheap test first; full-width separators only count once folded.
      if (raw.find(sep) == std::string_view::npos && raw.find("\xEF\xBC") == std::string_view::npos) continue;
      const auto cells = split_fields(fold_width(raw), sep);
      if (cells.size() < 2) continue;
      ++score.second;
      if (std::count_if(cells.begin(), cells.end(), [](const std::string& c) { return !cell_is_empty(c); }) >= 2)
        ++score.first;
    }
    if (score > best_score) best = sep, best_score = score;
  }
  return best;
}

// Header names, compared after width folding, upper-casing and dropping spaces, '_', '-', '.'.
bool names_id_column(std::string_view cell) {
  static constexpr std::string_view kNames[] = {"患者ID", "患者番号",   "カルテ番号", "ｶﾙﾃ番号",  "ID",    "PATIENTID",
                                                "患者NO", "患者コード", "カルテNO",   "カルテID", "ｶﾙﾃNO", "ｶﾙﾃID"};
  std::string key;
  for (char c : cell) {
    if (is_space(c) || c == '_' || c == '-' || c == '.') continue;
    key.push_back((c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c);
  }
  return std::find(std::begin(kNames), std::end(kNames), key) != std::end(kNames);
}

std::string column_names(const std::vector<std::size_t>& cols) {
  std::string s = cols.size() == 1 ? "column " : "columns ";
  for (std::size_t k = 0; k < cols.size(); ++k) {
    if (k > 0) s += (k + 1 == cols.size()) ? " and " : ", ";
    s += std::to_string(cols[k] + 1);
  }
  return s;
}

class Parser {
 public:
  Parser(StopList& out, std::string label) : out_(out), label_(std::move(label)) {}

  void line(std::size_t number, const std::vector<std::string>& cells) {
    if (!any_id_) {
      std::vector<std::size_t> named;
      for (std::size_t c = 0; c < cells.size(); ++c)
        if (names_id_column(cells[c])) named.push_back(c);
      if (!named.empty()) {  // a header, wherever it sits before the first ID
        id_cols_ = std::move(named);
        any_content_ = true;
        return;
      }
      if (!any_content_ && looks_like_unnamed_header(cells[0])) {
        unnamed_header_ = number;
        any_content_ = true;
        return;
      }
    }
    any_content_ = true;
    read_ids(number, cells);
  }

  void finish() {
    // A "header" above no IDs at all was more likely a line of a broken list: say so.
    if (unnamed_header_ && !any_id_) {
      ++out_.problem_lines;
      out_.problems.insert(out_.problems.begin(), {*unnamed_header_,
                                                   "column 1 is not a patient ID and no line below it holds one, "
                                                   "so it was not taken as a header"});
      if (out_.problems.size() > kMaxReportedProblems) out_.problems.pop_back();
    }
  }

 private:
  static bool looks_like_unnamed_header(const std::string& cell) {
    return !cell_is_empty(cell) && !canonical_patient_id(cell) && cell.find_first_of("0123456789") == std::string::npos;
  }

  void read_ids(std::size_t number, const std::vector<std::string>& cells) {
    std::vector<std::string> issues;
    std::vector<std::size_t> empty_cols;
    bool read = false, undecodable_reported = false;
    for (std::size_t c : id_cols_) {
      const std::string_view cell = c < cells.size() ? std::string_view(cells[c]) : std::string_view();
      const std::string col = "column " + std::to_string(c + 1);
      if (cell_is_empty(cell)) {
        empty_cols.push_back(c);
      } else if (auto id = canonical_patient_id(cell)) {
        out_.ids.insert(std::move(*id));
        read = true;
      } else if (has_replacement(cell)) {
        issues.push_back(col + " holds text that could not be decoded as " + label_);
        undecodable_reported = true;
      } else {
        issues.push_back(col + " is not a patient ID: it " + patient_id_problem(cell));
      }
    }
    if (empty_cols.size() == id_cols_.size())
      issues.push_back(column_names(empty_cols) + (empty_cols.size() == 1 ? " is" : " are") +
                       " empty but the line is not; put the patient ID there or delete the line");
    if (!undecodable_reported) {
      auto bad = std::find_if(cells.begin(), cells.end(), [](const std::string& s) { return has_replacement(s); });
      if (bad != cells.end())
        issues.push_back("column " + std::to_string(bad - cells.begin() + 1) +
                         " holds text that could not be decoded as " + label_ +
                         " (is the file saved in another encoding?)");
    }
    if (read) any_id_ = true;
    if (issues.empty()) return;
    std::string reason;
    for (const auto& issue : issues) reason += (reason.empty() ? "" : "; ") + issue;
    if (read) reason += "; the ID that could be read is withheld";
    report(number, std::move(reason));
  }

  void report(std::size_t number, std::string reason) {
    ++out_.problem_lines;
    if (out_.problems.size() < kMaxReportedProblems) out_.problems.push_back({number, std::move(reason)});
  }

  StopList& out_;
  std::string label_;
  std::vector<std::size_t> id_cols_{0};
  bool any_id_ = false;       // no header after this
  bool any_content_ = false;  // an unnamed header only on the first content line
  std::optional<std::size_t> unnamed_header_;
};

// A workbook saved over the list is no text at all, and the short runs of digits its bytes happen
// to hold are no patient IDs: read as text, a few would count as IDs, enough for
// allow_unreadable_lines to go on with them while every ID really in it is missed.
std::optional<std::string> workbook(std::string_view b) {
  if (b.starts_with("PK\x03\x04")) return "a zip file (an Excel .xlsx or LibreOffice .ods workbook?)";
  if (b.starts_with("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")) return "an Excel 97-2003 .xls workbook";
  return std::nullopt;
}

}  // namespace

StopList parse_stop_list(std::string_view bytes) {
  StopList out;
  out.sha256 = util::sha256_hex(bytes);
  if (auto kind = workbook(bytes)) {
    out.encoding = "binary";
    out.lines = split_lines(bytes).size();
    out.problem_lines = 1;
    out.problems.push_back({1, "the file is " + *kind +
                                   ", not a text list; no patient ID is read from it: in Excel use Save As, "
                                   "CSV UTF-8 (or CSV), and import that file"});
    return out;
  }
  std::string storage;
  const Decoded decoded = decode(bytes, storage);
  out.encoding = decoded.encoding;

  const auto lines = split_lines(decoded.text);
  out.lines = lines.size();
  const char sep = detect_separator(lines);

  Parser parser(out, decoded.label);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    // Folding width first makes full-width separators, quotes and '#' typed in IME mode work.
    const auto cells = split_fields(fold_width(lines[i]), sep);
    if (std::all_of(cells.begin(), cells.end(), [](const std::string& c) { return cell_is_empty(c); }))
      continue;  // blank, separators only, or a comment
    parser.line(i + 1, cells);
  }
  parser.finish();
  return out;
}

StopList load_stop_list(const std::filesystem::path& path) {
  std::string bytes;
  try {
    bytes = util::read_small_file(path, kMaxFileBytes);
  } catch (const std::exception& e) {
    throw Error("cannot load the stop list (提供停止リスト) " + path.string() + ": " + e.what() +
                "; check opt-out stop_list in the configuration, that the file exists, is a regular "
                "file of at most 64 MiB and is readable by the sennen-edge user");
  }
  return parse_stop_list(bytes);
}

}  // namespace sennen::gate
