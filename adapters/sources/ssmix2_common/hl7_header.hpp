#pragma once
// The few HL7 v2 fields the pipeline needs, read from the start of a message without decoding
// anything else (content is carried byte-exact; Japanese text in ISO-2022-JP is never touched).
#include <optional>
#include <string>
#include <string_view>

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

}  // namespace sennen::ssmix2
