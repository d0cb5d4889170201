// The データ識別番号 map a hospital keeps for DPC files (dpc_id_map; dropbox/dpc_filter.hpp), saved
// by hand or by Excel in any encoding: read_dpc_id_map never fails on content, and every pair it
// gives is of two canonical patient IDs (what the filter and the gate compare), the same each time.
#include <string>

#include "adapters/sources/dropbox/dpc_filter.hpp"
#include "daemon/core/patient_id.hpp"
#include "tests/fuzz/property.hpp"
#include "tests/fuzz/scratch.hpp"

using namespace sennen;

namespace {
const fuzz::ScratchFile scratch("fuzz_dpc_id_map");
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& file = scratch.write(fuzz::as_text(data, size));
  const auto ids = dropbox::read_dpc_id_map(file);
  for (const auto& [data_id, patient] : ids) {
    fuzz::require(canonical_patient_id(data_id) == data_id, "a データ識別番号 that is not canonical");
    fuzz::require(canonical_patient_id(patient) == patient, "a patient ID that is not canonical");
  }
  fuzz::require(dropbox::read_dpc_id_map(file) == ids, "the same bytes gave another map");
  return 0;
}
