#pragma once
// The few HL7 v2 fields the pipeline needs, read from the start of a message without decoding
// anything else (content is carried byte-exact; Japanese text in ISO-2022-JP is never touched).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sennen::ssmix2 {

struct Hl7Header {
  std::string message_type;  // MSH-9 as written, e.g. "ADT^A01^ADT_A01"
  std::string message_time;  // MSH-7
  std::string control_id;    // MSH-10
  std::string patient_id;    // PID-3, first repetition, first component
};

struct Hl7ParseResult {
  std::optional<Hl7Header> header;
  std::string error;  // what is wrong, for the quarantine reason, when header is empty
};

// `prefix` is the first bytes of the file (callers pass up to 64 KiB). Segments end with CR; LF
// and CRLF are tolerated; the encoding characters come from MSH-1/MSH-2 (a short MSH-2 falls back
// to '^' and '~'). Errors: empty input; a NUL byte (binary file); does not start with "MSH" (the
// error shows the first bytes); MSH-1 not a printable non-alphanumeric character; no segment named
// exactly "PID" in the prefix; PID-3 empty. The MSH fields are not required: absent ones are
// empty. Values are trimmed of spaces and otherwise not unescaped or decoded.
Hl7ParseResult parse_hl7_header(std::string_view prefix);

// What in `bytes` goes beyond strict ISO-2022-JP as the guideline wants it (formats.md §1.7:
// 7-bit, ESC ( B and ESC $ B only), in this order, each once: "jis_roman" (ESC ( J),
// "jis_katakana" (ESC ( I, half-width kana), "jis_c_6226_1978" (ESC $ @), "eight_bit" (a byte of
// 0x80 or above, e.g. CP932 where a module skipped conversion). Such bytes are carried as they
// are; the deviation is only reported.
inline const std::vector<std::string_view> kEncodingDeviations{"jis_roman", "jis_katakana", "jis_c_6226_1978",
                                                               "eight_bit"};
std::vector<std::string_view> encoding_deviations(std::string_view bytes);

}  // namespace sennen::ssmix2
