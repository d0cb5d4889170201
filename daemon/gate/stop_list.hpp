#pragma once
// The 提供停止 stop list: a file hospital staff keep by hand (often in Excel). Every ID in it is
// withheld; lines that cannot be read are reported by number and reason, never by content (a
// line may hold a patient's name).
#include <cstddef>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sennen::gate {

struct StopListProblem {
  std::size_t line = 0;  // 1-based line number in the file
  std::string reason;    // e.g. "column 1 is not a patient ID (only letters, digits and '-' allowed)"
};

// Added: at most this many problems are kept (a 64 MiB file of garbage would otherwise need
// gigabytes for its report); problem_lines still counts them all.
inline constexpr std::size_t kMaxReportedProblems = 1000;

struct StopList {
  std::set<std::string> ids;              // canonical IDs (see canonical_patient_id)
  std::vector<StopListProblem> problems;  // one per unreadable line, in line order, at most kMaxReportedProblems
  std::size_t problem_lines = 0;          // added: every unreadable line, also those past the cap
  std::string sha256;                     // of the file's bytes, for the manifest's stop_list_sha256
  std::string encoding;  // what was detected: "utf-8", "utf-8-bom", "cp932", "utf-16le", "utf-16be", or
                         // "binary" (a workbook: no ID is read, one problem says so)
  std::size_t lines = 0;

  bool contains(std::string_view canonical_id) const { return ids.count(std::string(canonical_id)) > 0; }
};

// Accepts: UTF-8 with/without BOM, UTF-16 with BOM (Excel "Unicode text"), else CP932 (Shift_JIS
// with Microsoft extensions); CSV (comma, tab or semicolon separated, quoted fields) or one ID per
// line; blank lines; comment lines starting with '#' (after optional spaces); a header line (first
// non-comment line whose ID cell is not an ID, e.g. "患者ID,氏名"); when a header names an ID column
// (患者ID, 患者番号, カルテ番号, ID, patient_id, patient id; case/width-insensitive) that column
// is used, otherwise the first column.
//
// Decisions beyond the above, each chosen so that doubt withholds more or is reported:
//  - Line ends are CRLF, LF or CR. A quoted field never spans lines: an unmatched '"' must not
//    swallow the IDs below it. An unmatched '"' runs to the end of its line.
//  - Separator: whichever of tab, ';' and ',' (outside quotes and comments) separates two
//    non-empty cells in the most lines (else: occurs in the most lines), ties in that order; none:
//    one column. Full-width characters are folded first, so "１２３４，山田" works.
//  - A trailing comment is accepted: '#' outside quotes, at the start of a field or after
//    whitespace, ends the line ("1234 # moved"). '#' can never be part of an ID. "1234#5" is reported.
//  - Header: before the first ID, a line in which any cell names an ID column is the header (so
//    "No,患者ID" works although "NO" would be a valid ID); every named column is read (an ID in any
//    of them is withheld). Otherwise only the first content line may be a header, and only if its
//    first cell is not an ID and holds no digit (a mistyped first ID such as "12 34" is reported,
//    not taken as a header); if no line of the file holds an ID, it is reported after all.
//  - Only the ID column(s) are read; other columns (names, notes) are ignored, except that a line
//    with text that could not be decoded anywhere outside a comment is reported (the ID, when
//    readable, is still withheld): a wrong encoding guess must not pass silently.
//  - Reported: an ID cell that is not an ID, an empty ID cell on a line with other content.
//  - Without a BOM, a file in which at least 1/8 of the bytes are NUL, 90% of them at odd (or
//    even) offsets, is read as UTF-16LE (BE); text files have no NULs, UTF-16 ASCII is half NUL.
//  - A workbook saved in place of the list (a zip file: .xlsx, .ods; an OLE2 file: .xls) yields no
//    ID and one problem, so that even allow_unreadable_lines cannot go on with it.
// Never throws on any input; throws sennen::Error only if the system cannot convert CP932 at all.
StopList parse_stop_list(std::string_view bytes);

// Reads the file (at most 64 MiB) and parses it; throws sennen::Error naming the path when the
// file cannot be read.
StopList load_stop_list(const std::filesystem::path& path);

}  // namespace sennen::gate
