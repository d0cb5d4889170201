// A dropped UKE claim file (dropbox/uke.hpp, uke_filter.hpp), as bytes from a Windows share: the
// scan accepts or rejects it with a reason, never both; a file it accepts goes through the
// record-level opt-out filter, and then:
//  - with every patient allowed, the filter gives back the very same bytes (its GO trailer is
//    recomputed, and it was checked against the same counts when scanned);
//  - with some claims withheld, every kept line is the original's, in order, the counts add up to
//    the claims scanned, and what is left scans as a valid UKE file again (its GO agrees).
#include <string>

#include "adapters/sources/dropbox/uke.hpp"
#include "adapters/sources/dropbox/uke_filter.hpp"
#include "tests/fuzz/property.hpp"
#include "tests/fuzz/scratch.hpp"

using namespace sennen;

namespace {
const fuzz::ScratchFile scratch("fuzz_uke");
constexpr const char* kSite = "1312345678";  // the synthetic hospital's, as the seeds are written

// Withholds by the chart number's last character, so a claim's fate follows from its own bytes.
Withhold some_withheld(const std::optional<std::string>& patient) {
  if (!patient) return Withhold::unattributed;
  if (patient->back() % 3 == 0) return Withhold::stopped;
  if (patient->back() % 3 == 1) return Withhold::not_notified;
  return Withhold::none;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  const dropbox::UkeScan scan = dropbox::scan_uke(scratch.write(input), kSite);
  if (scan.rejection) {
    fuzz::require(!scan.rejection->what_en.empty(), "a rejection without a reason");
    return 0;
  }
  fuzz::require(dropbox::looks_like_uke(input), "an accepted file that does not look like UKE");

  std::string same;
  const FilterCounts all = dropbox::filter_uke(
      fuzz::reader_of(input), [](const std::optional<std::string>&) { return Withhold::none; },
      [&](std::string_view s) { same += s; });
  fuzz::require(same == input, "with nobody withheld the filter changed the bytes");
  fuzz::require(all.kept == scan.facts.claims, "with nobody withheld not every claim was kept");

  std::string part;
  const FilterCounts some =
      dropbox::filter_uke(fuzz::reader_of(input), some_withheld, [&](std::string_view s) { part += s; });
  fuzz::require(some.kept + some.stopped + some.not_notified + some.unattributed == scan.facts.claims,
                "the filter's counts do not add up to the claims scanned");
  fuzz::require(some.bytes_out == part.size(), "bytes_out is not what was written");
  fuzz::require(fuzz::lines_kept_in_order(part, input, "GO,"), "a kept line is not the original's, in order");
  const dropbox::UkeScan again = dropbox::scan_uke(scratch.write(part), kSite);
  fuzz::require(!again.rejection, "what the filter left is not a valid UKE file");
  fuzz::require(again.facts.claims == some.kept, "what the filter left does not hold the kept claims");
  return 0;
}
