#pragma once
// Reads a dropped file line by line in constant memory (a 500 MB file never sits in memory), and
// tells how each line ended, so a UKE file's CRLF rule and an editor's LF can be told apart.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/content_filter.hpp"

namespace sennen::dropbox {

class LineReader {
 public:
  // Lines longer than this are cut and reported as too long (no record of the formats read here
  // comes near it; a file without line ends must not be read into memory whole).
  static constexpr std::size_t kMaxLine = 1 << 20;

  explicit LineReader(const std::filesystem::path& file);  // throws sennen::Error when it cannot be opened
  explicit LineReader(ContentReader read);                 // bytes from elsewhere (the spool)
  LineReader(const LineReader&) = delete;                  // read_ may refer to file_
  LineReader& operator=(const LineReader&) = delete;
  struct Line {
    std::string text;          // without its line end
    std::string raw_end;       // "\r\n", "\n", or "" (the last line without one)
    bool too_long = false;     // longer than kMaxLine: `text` holds its first kMaxLine bytes
    std::uint64_t number = 0;  // 1-based
  };
  // False at the end of the file.
  bool next(Line& line);
  std::uint64_t bytes_read() const { return offset_; }

 private:
  std::ifstream file_;
  ContentReader read_;
  std::vector<char> buf_;
  std::size_t pos_ = 0, end_ = 0;
  std::uint64_t offset_ = 0, number_ = 0;
  bool fill();
};

// Whether `s` is exactly `n` ASCII digits.
bool digits(std::string_view s, std::size_t n);
bool has_non_ascii(std::string_view s);
// Whether `s` reads as Japanese text saved in UTF-8: well-formed UTF-8 holding at least one
// character of three or more bytes (every kana and kanji is). Shift_JIS/CP932 Japanese is almost
// never well-formed UTF-8 (its lead bytes 0x81-0x9F and trail bytes 0x40-0x7E break the rules),
// but half-width katakana (single bytes 0xA1-0xDF) pair up into two-byte UTF-8 by chance: ﾅｶ is
// C5 B6, "Ŷ". Two-byte characters alone therefore say nothing. Still a judgement on a sample,
// not a proof: the scans look at the first line with non-ASCII bytes.
bool saved_as_utf8(std::string_view s);
// Whether `s` is well-formed CP932 (Windows-31J): single bytes 0x00-0x7F and 0xA1-0xDF, pairs of a
// lead byte 0x81-0x9F/0xE0-0xFC and a trail byte 0x40-0x7E/0x80-0xFC.
bool is_cp932(std::string_view s);

}  // namespace sennen::dropbox
