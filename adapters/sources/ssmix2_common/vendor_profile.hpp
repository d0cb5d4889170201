#pragma once
// Vendor profiles (issue 13): the variations of SS-MIX2 output the engine accepts, as data. A
// profile is a YAML file, <vendor>.yaml in the profiles folder (vendors/ in the source tree,
// /usr/share/sennen-edge/vendors installed), optionally based_on another; each entry of its
// `accept:` block has a `value` and a `source` saying where it comes from (a profile entry without
// one is refused). A site overrides any entry in the source's `profile:` key. No public
// specification of any vendor's output exists (formats.md §2): the shipped vendor profiles are the
// generic one until surveys say otherwise.
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/sources/ssmix2_common/naming.hpp"

namespace sennen::config {
class Node;
class Section;
}  // namespace sennen::config

namespace sennen::ssmix2 {

inline const std::vector<std::string_view> kVendors{"generic", "fujitsu", "nec",        "ssi",
                                                    "ibm",     "csi",     "corecreate", "canon"};
inline constexpr const char* kVendorProfilesDir = "/usr/share/sennen-edge/vendors";

// What the engine accepts. The defaults are the generic profile's values (vendors/generic.yaml
// states them), used for vendor: generic and when a source names no vendor, without reading a file.
struct Variations {
  std::vector<int> timestamp_digits{14, 15, 16, 17};  // 発生日時 widths in unit names
  std::vector<int> extended_field_counts{6, 7};       // content folder name fields (6: no 診療科)
  // How a content folder's type field may name its type folder (naming.hpp TypeField).
  std::vector<TypeField> extended_type_field{TypeField::whole};
  // Deviations from strict ISO-2022-JP (hl7_header.hpp kEncodingDeviations) expected of this
  // writer. Every deviation is accepted and named in the record's manifest attributes; one not
  // listed here is also counted as a problem in the heartbeat (sources[].events).
  std::vector<std::string> encodings_tolerated{};
  // What the site is expected to deliver per document kind (daemon/core/coverage.hpp ids:
  // "structured", "pdf_jpeg" or "none"), for the fleet's coverage table: a kind expected and not
  // delivered is highlighted there. Not a variation the engine accepts; kinds not listed have no
  // expectation. Entries add to (and replace) those of the base profile.
  std::map<std::string, std::string> expected_kinds{};

  bool accepts_timestamp(std::size_t digits) const;
  bool accepts_field_count(int fields) const;
  bool accepts_type_field(TypeField form) const;
};

// The keys of Variations, as a profile's `accept:` entries and a source's `profile:` block.
extern const std::vector<std::string_view> kVariationKeys;

// Reads <dir>/<vendor>.yaml (and what it is based_on) onto `out`. Throws config::ConfigError
// naming the file, line and column of every problem.
void load_vendor_profile(const std::filesystem::path& dir, const std::string& vendor, Variations& out);

// A source's `profile:` block: plain values (the site is their source) over the profile's.
void read_variation_overrides(const config::Node& block, Variations& out);

}  // namespace sennen::ssmix2
