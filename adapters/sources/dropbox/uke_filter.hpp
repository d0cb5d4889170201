#pragma once
// Record-level opt-out for a UKE file: copies it, streamed line by line (a 500 MB file never sits
// in memory), without the claim blocks (RE up to the next RE or GO) of the patients `decide`
// withholds, and writes a GO trailer recomputed for what is left (with nothing withheld, the GO
// line is the original's too, so the output is the very file). Every kept byte is the original's,
// in order.
//
// The patient of a claim is its RE カルテ番号等 (field 14), decoded from CP932 and put in the
// canonical form the gate compares IDs in (daemon/core/patient_id.hpp); a claim whose chart
// number is empty or not a valid ID cannot be attributed and `decide` is asked with nullopt.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/core/content_filter.hpp"
#include "daemon/util/cp932.hpp"

namespace sennen::dropbox {

// `in` must have passed scan_uke (the filter trusts its structure). `decide` gets the canonical
// chart number (or nullopt) of each claim; `write` receives the output in order. Counts are of
// claims. The content filter "uke" (daemon/core/content_filter.hpp).
FilterCounts filter_uke(const ContentReader& in, const PatientGate& decide, const ContentWriter& write);

// The chart number of an RE line's field as the gate's canonical patient ID, or nullopt; decoded
// through `cp932`, which the caller opens once for a whole file.
std::optional<std::string> chart_patient(std::string_view cp932_field, util::Cp932ToUtf8& cp932);

}  // namespace sennen::dropbox
