// parse_hl7_header on the first bytes of a file found in an SS-MIX2 standardized-storage tree:
// the properties of exercise_hl7 (tests/adapters/sources/ssmix2/exercise.hpp, shared with the
// random doctest), plus the separators a field may never hold.
#include "tests/adapters/sources/ssmix2/exercise.hpp"
#include "tests/fuzz/property.hpp"

using namespace sennen;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  if (const std::string why = ssmix2::test::exercise_hl7(input); !why.empty()) fuzz::broken(why);

  const ssmix2::Hl7ParseResult r = ssmix2::parse_hl7_header(input);
  if (!r.header) return 0;
  // The encoding characters as MSH-1 and MSH-2 declare them (defaults '^' and '~').
  const char field_sep = input[3];
  const std::string_view msh = input.substr(0, input.find_first_of("\r\n"));
  std::string_view encoding = msh.substr(4);
  encoding = encoding.substr(0, encoding.find(field_sep));
  const char component = encoding.size() >= 1 ? encoding[0] : '^';
  const char repetition = encoding.size() >= 2 ? encoding[1] : '~';
  const ssmix2::Hl7Header& h = *r.header;
  for (const std::string* value : {&h.message_type, &h.message_time, &h.control_id, &h.patient_id}) {
    fuzz::require(value->find_first_of(std::string{'\r', '\n', field_sep}) == std::string::npos,
                  "an HL7 field holds a segment end or the field separator");
    fuzz::require(value->empty() || (value->front() != ' ' && value->back() != ' '), "an HL7 field is not trimmed");
  }
  fuzz::require(h.patient_id.find(component) == std::string::npos && h.patient_id.find(repetition) == std::string::npos,
                "PID-3 holds more than the first repetition's first component");
  return 0;
}
