#pragma once
// Feeds one arbitrary input through every SS-MIX2 parsing function and checks the properties that
// must hold for any input. Shared by the libFuzzer targets (tests/fuzz) and the always-on random
// doctest.
// Returns an empty string, or a description of the first property that was broken.
#include <string>
#include <string_view>

#include "adapters/sources/ssmix2_common/hl7_header.hpp"
#include "adapters/sources/ssmix2_common/naming.hpp"

namespace sennen::ssmix2::test {

// The directory a well-placed name belongs in, built independently of check_placement.
inline std::string expected_rel_dir(const Name& n) {
  const std::string& p = n.patient_id;
  return p.substr(0, 3) + "/" + (p.size() > 3 ? p.substr(3, 3) : std::string()) + "/" + p + "/" + n.date + "/" + n.kind;
}

inline std::string check_name_result(std::string_view input, const ParseResult& r, const char* fn) {
  const std::string where = std::string(fn) + ": ";
  if (r.name.has_value() == !r.error.empty()) return where + "exactly one of name and error must be set";
  if (!r.name) return {};
  const Name& n = *r.name;
  if (n.stem() + "_" + static_cast<char>(n.flag) != input) return where + "stem + flag does not give back the input";
  if (n.stem().rfind(n.key(), 0) != 0) return where + "key is not a prefix of stem";
  if (n.patient_id.empty() || n.kind.empty() || n.order_no.empty())
    return where + "an accepted name has an empty field";
  if (n.timestamp.size() < 14 || n.timestamp.size() > 17) return where + "bad timestamp accepted";
  if (std::string why = check_placement(expected_rel_dir(n), n); !why.empty())
    return where + "check_placement rejects the name's own directory: " + why;
  return {};
}

// The name parsers and check_placement (standard and extended storage).
inline std::string exercise_names(std::string_view data) {
  std::string err = check_name_result(data, parse_standard_name(data), "parse_standard_name");
  if (!err.empty()) return err;

  const ParseResult ext = parse_extended_name(data);
  err = check_name_result(data, ext, "parse_extended_name");
  if (!err.empty()) return err;
  if (ext.name) {
    // Knowing the type folder must never change how an already unambiguous name is read.
    const ParseResult typed = parse_extended_name(data, ext.name->kind);
    if (!typed.name || typed.name->stem() != ext.name->stem() || typed.name->dept != ext.name->dept ||
        typed.name->order_no != ext.name->order_no)
      return "parse_extended_name with the type folder disagrees with the plain form";
  }
  // An arbitrary slice as the expected type.
  const std::string_view guess = data.substr(data.size() / 4, data.size() / 3);
  const ParseResult typed = parse_extended_name(data, guess);
  err = check_name_result(data, typed, "parse_extended_name(expected_type)");
  if (!err.empty()) return err;
  if (typed.name && typed.name->kind != guess) return "expected-type parse returned another type";
  // The slice as the standard code of a type folder, every form of the type field accepted: an
  // accepted name gives back the input, its kind is the type folder's whole name.
  const std::string type_folder = "L^n^^" + std::string(guess) + "^s^LN";
  const ParseResult coded = parse_extended_name(data, type_folder, kAllTypeFields);
  if (coded.name.has_value() == !coded.error.empty())
    return "parse_extended_name(forms): name and error both or neither";
  if (coded.name) {
    const Name& n = *coded.name;
    if (n.stem() + "_" + static_cast<char>(n.flag) != data)
      return "parse_extended_name(forms): stem + flag does not give back the input";
    if (n.kind != type_folder) return "parse_extended_name(forms): kind is not the type folder's name";
    if ((n.type_field == TypeField::whole) != n.type_text.empty())
      return "parse_extended_name(forms): the type text disagrees with the form";
  }

  Name fixed;
  fixed.patient_id = "12";
  fixed.date = "-";
  fixed.kind = "ADT-00";
  fixed.order_no = "9";
  fixed.timestamp = "20200101000000";
  (void)check_placement(data, fixed);
  if (ext.name) (void)check_placement(data, *ext.name);
  return {};
}

// parse_hl7_header.
inline std::string exercise_hl7(std::string_view data) {
  const Hl7ParseResult h = parse_hl7_header(data);
  if (h.header.has_value() == !h.error.empty()) return "parse_hl7_header: exactly one of header and error";
  if (h.header) {
    const std::string& id = h.header->patient_id;
    if (data.substr(0, 3) != "MSH") return "parse_hl7_header accepted input not starting with MSH";
    if (data.find('\0') != std::string_view::npos) return "parse_hl7_header accepted a NUL byte";
    if (id.empty() || id.front() == ' ' || id.back() == ' ') return "PID-3 empty or untrimmed";
    if (id.find_first_of("\r\n") != std::string::npos) return "PID-3 spans a segment end";
  }
  return {};
}

inline std::string exercise(std::string_view data) {
  std::string err = exercise_names(data);
  return err.empty() ? exercise_hl7(data) : err;
}

}  // namespace sennen::ssmix2::test
