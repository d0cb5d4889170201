#pragma once
// Record-level opt-out for a UKE file: copies it, streamed line by line (a 500 MB file never sits
// in memory), without the claim blocks (RE up to the next RE or GO) of the patients `decide`
// withholds, and writes a GO trailer recomputed for what is left. Every kept byte is the
// original's, in order.
//
// The patient of a claim is its RE カルテ番号等 (field 14), decoded from CP932 and put in the
// canonical form the gate compares IDs in (daemon/core/patient_id.hpp); a claim whose chart
// number is empty or not a valid ID cannot be attributed and `decide` is asked with nullopt.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sennen::dropbox {

enum class Withhold { none, stopped, not_notified, unattributed };

struct FilterCounts {
  std::uint64_t claims_kept = 0;
  std::uint64_t stopped = 0, not_notified = 0, unattributed = 0;  // claims removed, by reason
  std::uint64_t bytes_in = 0, bytes_out = 0;
};

// `in` must have passed scan_uke (the filter trusts its structure). `decide` gets the canonical
// chart number (or nullopt) of each claim; `write` receives the output in order.
FilterCounts filter_uke(const std::filesystem::path& in,
                        const std::function<Withhold(const std::optional<std::string>& patient)>& decide,
                        const std::function<void(std::string_view)>& write);

// The chart number of an RE line's field as the gate's canonical patient ID, or nullopt.
std::optional<std::string> chart_patient(std::string_view cp932_field);

}  // namespace sennen::dropbox
