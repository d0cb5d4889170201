#pragma once
// Canonical patient IDs: the one form in which IDs from the stop list, SS-MIX2 paths, HL7 PID-3
// and (later) DICOM PatientID are compared. Any two spellings staff or vendors produce for the same
// ID must map to the same canonical string; a collision only withholds more, never less.
#include <optional>
#include <string>
#include <string_view>

namespace sennen {

// Rules, applied in order, to UTF-8 input:
//  1. full-width ASCII (U+FF01..U+FF5E) -> ASCII; ideographic space U+3000 and NBSP -> space;
//  2. strip surrounding whitespace, one level of surrounding quotes, and Excel's ="..." wrapping;
//  3. letters upper-cased;
//  4. the result must be 1..64 chars of [0-9A-Z_-]; otherwise std::nullopt. Not allowed, because
//     a stop list could then no longer tell an ID from something else in its ID column: a space
//     inside ("1234 山田" would become an ID other than 1234, and patient 1234 would not be
//     stopped), and other characters, Japanese ones included (a name typed where the ID belongs
//     would be taken as an ID, silently, instead of stopping every delivery until it is fixed).
//     A source's ID that breaks this rule is never sent: it cannot be compared with the list;
//  5. an all-digit ID loses its leading zeros ("0001234" -> "1234"; "000" -> "0"), because
//     spreadsheets drop them and hospitals zero-pad to different widths.
// Details of rule 2: "whitespace" is ASCII whitespace (after rule 1); "quotes" are a matching pair
// of '"' or '\''; the quotes and the ="..." wrapping may each be removed once, in either order
// ("\"=\"\"0001234\"\"\"" is a CSV matter; the CSV reader unquotes it first), and whitespace is
// stripped again inside them (" 1234 " in quotes is 1234). Input that is not valid UTF-8 is never
// an ID. The length limit of rule 4 applies before rule 5 removes zeros.
std::optional<std::string> canonical_patient_id(std::string_view raw_utf8);

// Added: why raw_utf8 is not a patient ID ("has a space inside it", ...), in words that never
// quote the input (it may be a patient's name), so it is safe to log; "" when it is an ID.
// Agrees with canonical_patient_id: empty exactly when that returns a value.
std::string patient_id_problem(std::string_view raw_utf8);

// Added: rule 1 alone, for matching text width-insensitively (e.g. stop-list headers): full-width
// ASCII -> ASCII, U+3000 and NBSP -> ' '; everything else, including invalid UTF-8, is unchanged.
std::string fold_width(std::string_view utf8);

}  // namespace sennen
