#pragma once
// The keys of an SS-MIX2 source (type: ssmix2 and type: ssmix2-extended share them), with their
// defaults. config/sennen-edge.yaml documents each.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/kind.hpp"
#include "adapters/sources/ssmix2_common/tree_source.hpp"
#include "adapters/sources/ssmix2_common/vendor_profile.hpp"
#include "daemon/config/catalog.hpp"

namespace sennen::config {
class Section;
}

namespace sennen::ssmix2 {

// The largest record read when max_record_bytes is not given; a larger one is quarantined by
// reference. Why these values: config/sennen-edge.yaml.
inline constexpr std::uint64_t kMaxRecordBytesStandard = 256ull << 20;  // type: ssmix2 (HL7 v2 messages)
inline constexpr std::uint64_t kMaxRecordBytesExtended = 2ull << 30;    // type: ssmix2-extended (documents, images)

struct TreeOptions final : config::SourceOptions {
  std::string vendor = "generic";  // one of kVendors (vendor_profile.hpp)
  std::filesystem::path vendor_profiles = kVendorProfilesDir;
  Variations accept;  // the vendor's profile with the source's `profile:` overrides
  std::vector<std::filesystem::path> roots;
  std::chrono::seconds stable_after{30};
  std::chrono::seconds full_scan_interval{24 * 3600};  // re-stat every file this often, even in unchanged folders
  std::uint64_t max_record_bytes = kMaxRecordBytesStandard;
  bool allow_hard_links = false;           // read files with more than one hard link
  bool cross_filesystems = false;          // descend into folders on other file systems below a root
  std::optional<IndexDbOptions> index_db;  // type: ssmix2 only

  std::vector<std::filesystem::path> folders() const override { return roots; }
  std::optional<std::chrono::seconds> full_scan_every() const override { return full_scan_interval; }
  std::string vendor_profile() const override { return vendor; }
  std::map<std::string, std::string> expected_kinds() const override { return accept.expected_kinds; }
};

// The keys both types read (config/catalog.hpp SourceType::keys), and type: ssmix2's (with index_db).
extern const std::vector<std::string_view> kTreeKeys;
extern const std::vector<std::string_view> kStandardKeys;
// `index_db`: whether the type reads the index_db key (type: ssmix2).
std::shared_ptr<const config::SourceOptions> read_tree_options(const config::Section& s,
                                                               std::uint64_t default_max_record_bytes,
                                                               bool index_db = false);
// The engine's options for a configured source of either type.
TreeSourceOptions tree_source_options(const config::Source& source);

// Doctor's look at each root (adapters/kind.hpp SourceKind::probe), both types.
void probe_tree(const config::Source& source, const config::Config& config, adapters::Findings& out);

}  // namespace sennen::ssmix2
