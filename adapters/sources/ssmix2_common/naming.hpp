#pragma once
// SS-MIX2 names and paths (pure functions, no I/O).
//   standardized storage: root/PID[0:3]/PID[3:6]/PID/<date|->/<type>/<file>
//     file = PID_date_type_orderNo_timestamp_dept_flag (7 fields, no extension)
//   extended storage:    root/PID[0:3]/PID[3:6]/PID/<date|->/<type folder>/<content folder>/<files>
//     content folder = PID_date_type_key_timestamp_dept_flag (7 fields) or without dept (6 fields);
//     the type field may itself hold '^' and Japanese (it equals the type folder's name, or one of
//     its components: TypeField), so fields are split off from both ends and the middle is the type.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sennen::ssmix2 {

enum class Flag { deleted = '0', current = '1', superseded = '2' };

// How an extended-storage content folder's type field names its type folder, whose name is
// `[local code]^local name^[local system]^standard code^standard name^standard system`
// (formats.md §1.9): the whole name (NHO's sample), or only its local code (component 1) or its
// standard code (component 4). Which forms a source accepts is its vendor profile's
// extended_type_field.
enum class TypeField { whole, local_code, standard_code };
inline const std::vector<std::string_view> kTypeFieldNames{"whole", "local_code", "standard_code"};
inline const std::vector<TypeField> kAllTypeFields{TypeField::whole, TypeField::local_code, TypeField::standard_code};
std::string_view type_field_name(TypeField form);

struct Name {
  std::string patient_id;
  std::string date;  // "YYYYMMDD" or "-"
  std::string kind;  // data type, e.g. "OMP-01", or an extended type folder's whole name
  // Extended storage: the type field as the content folder writes it, when that is a component of
  // the type folder's name (type_field says which) rather than `kind` itself; empty otherwise.
  std::string type_text;
  TypeField type_field = TypeField::whole;
  std::string order_no;   // order number (standard) or specific key (extended)
  std::string timestamp;  // 発生日時, 14..17 digits
  std::string dept;       // department code or "-"; empty when the 6-field form was used
  Flag flag = Flag::current;

  // Identity of this version across condition-flag renames: the name without its flag (with the
  // type field as written).
  std::string stem() const;
  // The logical record key: patient, date, kind, order number. With the type folder's whole name as
  // kind, so a record's key does not depend on how its content folder names the type.
  std::string key() const;
};

struct ParseResult {
  std::optional<Name> name;
  std::string error;  // why it is not an SS-MIX2 name, when name is empty
};

// Checks shared by both forms (each failure names the field and the offending value):
//   PID      1..64 chars of [0-9A-Za-z-]
//   date     "-" or 8 digits forming a real calendar date (YYYYMMDD)
//   timestamp 14..17 digits (the guideline says 17; 14- and 15-digit writers exist); not checked as a date
//   flag     one of 0/1/2
//   other fields non-empty. A name holding '/' or a NUL byte is refused (it cannot be a single path
//   component, and check_placement relies on that).

// Standardized storage file name: exactly 7 '_'-separated fields.
ParseResult parse_standard_name(std::string_view file_name);

// Extended storage content folder name, PID_date_type_key_timestamp[_dept]_flag.
// The PID and date are split off from the left, flag/dept/timestamp/key from the right, and the
// middle is the type, which may therefore hold '_' as well as '^' and UTF-8 Japanese. The key and
// dept may not hold '_'. Without the type folder's name, 6 vs 7 fields is decided by the
// second-to-last field: 14..17 digits means it is the timestamp (6-field form, no dept), otherwise
// it is the dept and the timestamp is the third-to-last field (7-field form). This misreads only a
// dept code of 14..17 digits (real codes are 2..3 characters or "-").
ParseResult parse_extended_name(std::string_view folder_name);
// Same, but the type must equal `expected_type` (the name of the type folder the content folder
// sits in). The outer fields are then located by that text, so the 6/7-field choice is exact and
// a type holding '_' or digit-only fields is never misread.
ParseResult parse_extended_name(std::string_view folder_name, std::string_view expected_type);
// Same, with the type field naming the type folder `type_folder` in one of the `accepted` forms:
// equal to its whole name or to one accepted non-empty component. Each distinct text is tried as
// above; exactly one must give a valid name, else the name is refused as ambiguous (every reading
// is named). The name's kind is the type folder's whole name; type_field says which form matched
// (the first accepted one, in TypeField order, when several components are the same text).
ParseResult parse_extended_name(std::string_view folder_name, std::string_view type_folder,
                                const std::vector<TypeField>& accepted);

// Checks that the directories above the file (standard) or content folder (extended) agree with
// its name: rel_dir = "PID[0:3]/PID[3:6]/PID/date/kind" ('/'-separated, relative to the root; one
// leading or trailing '/' is ignored). For a PID shorter than 6 characters each level directory is
// the available prefix (PID "12345" -> "123/45/12345"). For a PID of 3 or fewer characters the
// second level would be empty: both an empty component ("12//12/...") and no component at all
// ("12/12/...") are accepted; padding rules are not guessed (none is published).
// Returns an empty string when consistent, else one sentence per disagreement joined by "; ",
// e.g. "file name says patient 9999013 but it is filed under patient folder 0000001".
std::string check_placement(std::string_view rel_dir, const Name& name);

}  // namespace sennen::ssmix2
