// A dropped DPC survey file (dropbox/dpc.hpp, dpc_filter.hpp), named as an EF file of the
// synthetic hospital, its content the input: the scan accepts or rejects it with a reason, never
// both; a file it accepts goes through the record-level opt-out filter, and then:
//  - with every row allowed, the filter gives back the very same bytes;
//  - with some rows withheld (through a データ識別番号 map built from the input's own rows), every
//    kept line is the original's, in order, the counts add up to the rows scanned, and what is left
//    (when a row is left) scans as a valid DPC file again, unless the line the scan judges the
//    encoding by is another than the original's and reads as UTF-8 (then it is rejected so).
#include <map>
#include <string>

#include "adapters/sources/dropbox/dpc.hpp"
#include "adapters/sources/dropbox/dpc_filter.hpp"
#include "adapters/sources/dropbox/lines.hpp"
#include "adapters/sources/dropbox/uke.hpp"
#include "daemon/core/patient_id.hpp"
#include "tests/fuzz/property.hpp"
#include "tests/fuzz/scratch.hpp"

using namespace sennen;

namespace {
const fuzz::ScratchFile scratch("fuzz_dpc");
constexpr const char* kFacility = "132345678";  // the synthetic hospital's (site.id without 点数表)
constexpr const char* kName = "EFn_132345678_2611.txt";

// Maps the データ識別番号 of every row whose canonical form ends in an even digit to itself, so
// some rows are attributed and some are not.
std::map<std::string, std::string> ids_of(std::string_view input) {
  std::map<std::string, std::string> ids;
  while (!input.empty()) {
    const std::size_t end = input.find('\n');
    const std::string_view line = input.substr(0, end);
    input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
    const auto fields = dropbox::split_fields(line, '\t');
    if (fields.size() < 2) continue;
    const auto id = canonical_patient_id(fields[1]);
    if (id && (id->back() - '0') % 2 == 0) ids[*id] = *id;
  }
  return ids;
}

// Whether the scan's encoding judgement (dropbox::saved_as_utf8 on the first line holding
// non-ASCII bytes) takes `text` for UTF-8.
bool judged_utf8(std::string_view text) {
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (dropbox::has_non_ascii(line)) return dropbox::saved_as_utf8(line);
  }
  return false;
}

Withhold some_withheld(const std::optional<std::string>& patient) {
  if (!patient) return Withhold::unattributed;
  return patient->size() % 2 == 0 ? Withhold::stopped : Withhold::none;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  const dropbox::DpcScan scan = dropbox::scan_dpc(scratch.write(input), kName, kFacility);
  if (scan.rejection) {
    fuzz::require(!scan.rejection->what_en.empty(), "a rejection without a reason");
    return 0;
  }
  fuzz::require(scan.facts.facility == kFacility, "an accepted file of another facility");

  const auto ids = ids_of(input);
  std::string same;
  const FilterCounts all = dropbox::filter_dpc(
      ids, fuzz::reader_of(input), [](const std::optional<std::string>&) { return Withhold::none; },
      [&](std::string_view s) { same += s; });
  fuzz::require(same == input, "with nobody withheld the filter changed the bytes");
  fuzz::require(all.kept == scan.facts.rows, "with nobody withheld not every row was kept");

  std::string part;
  const FilterCounts some =
      dropbox::filter_dpc(ids, fuzz::reader_of(input), some_withheld, [&](std::string_view s) { part += s; });
  fuzz::require(some.kept + some.stopped + some.not_notified + some.unattributed == scan.facts.rows,
                "the filter's counts do not add up to the rows scanned");
  fuzz::require(some.bytes_out == part.size(), "bytes_out is not what was written");
  fuzz::require(fuzz::lines_kept_in_order(part, input), "a kept line is not the original's, in order");
  if (some.kept == 0) return 0;
  const dropbox::DpcScan again = dropbox::scan_dpc(scratch.write(part), kName, kFacility);
  // The scan judges the encoding by the first line with non-ASCII bytes. When the filter removed
  // the original's, another line is judged, and may read as UTF-8 Japanese by chance: then, and
  // only then, a rejection for UTF-8 is the answer expected.
  if (judged_utf8(part)) {
    fuzz::require(again.rejection && again.rejection->what_en.find("UTF-8") != std::string::npos,
                  "what the filter left reads as UTF-8 but was not rejected as such");
    return 0;
  }
  fuzz::require(!again.rejection, "what the filter left is not a valid DPC file");
  fuzz::require(again.facts.rows == some.kept, "what the filter left does not hold the kept rows");
  return 0;
}
