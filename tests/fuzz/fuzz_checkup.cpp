// A dropped health-checkup document (dropbox/checkup.hpp: CDA R2, read with libxml2's streaming
// reader): identifiers only when the document is well-formed (never with an error), and the same
// bytes always give the same answer (no state between calls, no DTD or entity loaded from outside).
#include <string>

#include "adapters/sources/dropbox/checkup.hpp"
#include "tests/fuzz/property.hpp"
#include "tests/fuzz/scratch.hpp"

using namespace sennen;

namespace {
const fuzz::ScratchFile scratch("fuzz_checkup");
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& file = scratch.write(fuzz::as_text(data, size));
  const dropbox::CdaIds r = dropbox::cda_patient_ids(file);
  fuzz::require(r.error.empty() || r.ids.empty(), "identifiers given with an error");
  const dropbox::CdaIds again = dropbox::cda_patient_ids(file);
  fuzz::require(again.error == r.error && again.ids.size() == r.ids.size(), "the same bytes gave another answer");
  for (std::size_t i = 0; i < r.ids.size(); ++i)
    fuzz::require(again.ids[i].root == r.ids[i].root && again.ids[i].extension == r.ids[i].extension,
                  "the same bytes gave another identifier");
  return 0;
}
