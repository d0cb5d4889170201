// mml::parse_header on the first bytes of a file found in an MML drop tree, in whatever encoding
// its declaration names: exactly one of a header and an error; an accepted header has a patient
// and a document identity, both trimmed; the same bytes always give the same answer (no state
// kept between calls, nothing loaded from outside).
#include "adapters/sources/mml/mml_header.hpp"
#include "tests/fuzz/property.hpp"

using namespace sennen;

namespace {
bool trimmed(const std::string& s) {
  return !s.empty() && s.find_first_of(" \t\r\n") != 0 && s.find_last_of(" \t\r\n") != s.size() - 1;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  const mml::ParseResult r = mml::parse_header(input);
  fuzz::require(r.header.has_value() == r.error.empty(), "exactly one of header and error must be set");
  const mml::ParseResult again = mml::parse_header(input);
  fuzz::require(again.error == r.error && again.header.has_value() == r.header.has_value(),
                "the same bytes gave another answer");
  if (!r.header) return 0;
  fuzz::require(trimmed(r.header->patient_id), "an accepted patient ID is empty or untrimmed");
  fuzz::require(trimmed(r.header->uid), "an accepted uid is empty or untrimmed");
  fuzz::require(again.header->patient_id == r.header->patient_id && again.header->uid == r.header->uid,
                "the same bytes gave another header");
  (void)mml::declared_encoding(input);
  return 0;
}
