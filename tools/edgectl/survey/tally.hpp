#pragma once
// sennen-edgectl survey (issue 13): what an SS-MIX2 tree really is. The Tally is the aggregation
// alone, fed one observation at a time by the walk (walk.hpp), so memory stays bounded on a
// storage of any size: counters keyed by small value sets (each capped at kMaxKeys distinct keys,
// the rest counted under "(other)") and at most `examples` example paths per finding. It reuses the
// product's own parsers (ssmix2/naming.hpp, hl7_header.hpp): what the survey calls unparseable is
// exactly what sennen-edged would quarantine.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "adapters/sources/ssmix2_common/hl7_header.hpp"
#include "adapters/sources/ssmix2_common/naming.hpp"
#include "adapters/sources/ssmix2_common/vendor_profile.hpp"

namespace sennen::survey {

inline constexpr std::size_t kMaxKeys = 500;
inline constexpr const char* kOther = "(other)";

// A counter map that never holds more than kMaxKeys keys.
struct Counts {
  std::map<std::string, std::uint64_t> by;
  void add(std::string_view key, std::uint64_t n = 1);
  std::uint64_t total() const;
};

// A finding with its count and the first few examples (path relative to its root, and why).
struct Finding {
  std::uint64_t count = 0;
  std::vector<std::pair<std::string, std::string>> examples;
};

enum class Storage { standard, extended };

struct RootSummary {
  std::filesystem::path root;
  std::uint64_t files = 0, bytes = 0, folders = 0;
  std::uint64_t standard_units = 0, extended_units = 0;
  std::string first_date, last_date;  // date folders seen (YYYYMMDD), "" when none
  std::uint64_t undated_units = 0;    // under the "-" date folder
};

class Tally {
 public:
  explicit Tally(std::size_t examples = 5) : examples_(examples) {}

  void begin_root(const std::filesystem::path& root);
  void folder() { ++current().folders; }
  void file(std::uint64_t size);  // every regular file below the root
  // A standardized-storage file or an extended-storage content folder whose name parsed.
  // `placement`: check_placement's verdict ("" when it agrees with its folders).
  void unit(Storage storage, const ssmix2::Name& name, std::string_view rel_path, std::string_view placement);
  // A unit whose name is not an SS-MIX2 name (the parser's reason).
  void unparseable(Storage storage, std::string_view rel_path, std::string_view why);
  // A file or folder where the layout has none (above the unit depth, a file directly in an
  // extended type folder).
  void misplaced(std::string_view rel_path, std::string_view why);
  // The head of a standardized-storage file: its parsed MSH/PID and the escape sequences in it.
  void hl7(const ssmix2::Hl7ParseResult& header, std::string_view head, std::string_view rel_path,
           const ssmix2::Name& name);
  // A file of an extended-storage content folder (its name, for the document forms).
  void content_file(std::string_view file_name);
  void unreadable(std::string_view path, std::string_view why);
  void skipped(std::string_view rel_path, std::string_view what);  // links, devices, other file systems

  const std::vector<RootSummary>& roots() const { return roots_; }
  std::uint64_t files() const;
  std::uint64_t units(Storage s) const { return s == Storage::standard ? std_units_ : ext_units_; }
  const Counts& data_types() const { return data_types_; }
  const Counts& years() const { return years_; }
  const Counts& flags() const { return flags_; }
  const Counts& timestamp_widths() const { return ts_widths_; }
  const Counts& extended_field_counts() const { return ext_fields_; }
  const Counts& type_folder_shapes() const { return type_shapes_; }
  // Content folders per form of their type field (whole, local_code, standard_code).
  const Counts& extended_type_fields() const { return type_fields_; }
  const Counts& content_forms() const { return content_forms_; }
  const Counts& escape_sequences() const { return escapes_; }
  const Counts& encoding_deviations() const { return deviations_; }
  const Counts& character_sets() const { return charsets_; }  // MSH-18 as written
  const Counts& message_types() const { return message_types_; }
  const Finding& unparseable_units() const { return unparseable_; }
  const Finding& misplaced_units() const { return misplaced_; }
  const Finding& not_hl7() const { return not_hl7_; }
  const Finding& patient_mismatch() const { return pid_mismatch_; }
  const Finding& unreadable_paths() const { return unreadable_; }
  const Finding& skipped_entries() const { return skipped_; }

  // The variations this tree shows, in the vendor profile's terms (vendor_profile.hpp).
  ssmix2::Variations observed() const;
  nlohmann::json to_json() const;

 private:
  RootSummary& current();
  void note(Finding& f, std::string_view path, std::string_view why);

  std::size_t examples_;
  std::vector<RootSummary> roots_;
  std::uint64_t std_units_ = 0, ext_units_ = 0;
  Counts data_types_, years_, flags_, ts_widths_, ext_fields_, type_shapes_, type_fields_, content_forms_, escapes_,
      deviations_, charsets_, message_types_;
  Finding unparseable_, misplaced_, not_hl7_, pid_mismatch_, unreadable_, skipped_;
};

// How well a vendor profile fits what the tree shows.
struct ProfileFit {
  std::string vendor;
  std::vector<std::string> differences;  // what the tree shows that the profile does not accept, and vice versa
  int refused = 0;                       // variations seen that the profile would quarantine or flag
};
// Fits of every profile, best first (fewest refused variations, then fewest differences; ties keep
// the order of `profiles`).
std::vector<ProfileFit> rank_profiles(const ssmix2::Variations& seen,
                                      const std::vector<std::pair<std::string, ssmix2::Variations>>& profiles);

// A `sources:` block for config/sennen-edge.yaml: one source per storage kind found, its roots, the
// best profile, and a `profile:` override for each variation that profile would not accept.
std::string suggest_sources(const Tally& t, const ProfileFit& best, const ssmix2::Variations& best_accepts);

}  // namespace sennen::survey
