// sennen-edgectl survey ROOT...: what an SS-MIX2 tree really is (issue 13), before a source is
// configured for it. Read-only and streaming (survey/walk.hpp), so it is safe on a live storage of
// any size; the figures come from the product's own parsers, so what it calls unparseable or
// misplaced is what sennen-edged would quarantine.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include <nlohmann/json.hpp>

#include "daemon/config/config.hpp"
#include "daemon/util/name_text.hpp"
#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/survey/walk.hpp"

namespace sennen::edgectl {
namespace {

using json = nlohmann::json;
using survey::Counts;
using survey::Finding;

// The progress line (stderr, terminals only): redrawn at most 5 times a second.
class Progress {
 public:
  Progress() : tty_(::isatty(STDERR_FILENO) != 0) {}
  ~Progress() {
    if (drawn_) std::cerr << "\r\033[K" << std::flush;
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void operator()(const survey::Tally& t, const std::filesystem::path& dir) {
    if (!tty_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    drawn_ = true;
    std::string where = util::display_name(dir.string());
    if (where.size() > 60) where = "..." + where.substr(where.size() - 57);
    std::cerr << "\r\033[Ksurvey: " << t.files() << " files, " << t.units(survey::Storage::standard)
              << " standard units, " << t.units(survey::Storage::extended) << " extended units; " << where
              << std::flush;
  }

 private:
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

void print_counts(const char* title, const Counts& c) {
  if (c.by.empty()) return;
  std::cout << title << ":\n";
  for (const auto& [k, n] : c.by) std::cout << "  " << k << ": " << n << "\n";
}

void print_finding(const char* title, const Finding& f) {
  std::cout << title << ": " << f.count << "\n";
  for (const auto& [path, why] : f.examples) std::cout << "  e.g. " << path << "\n      " << why << "\n";
}

}  // namespace

int survey_tree(const SurveyArgs& a) {
  survey::Tally tally(a.examples);
  Progress progress;
  survey::WalkOptions options;
  options.cross_filesystems = a.cross_filesystems;
  options.progress = [&](const survey::Tally& t, const std::filesystem::path& dir) { progress(t, dir); };
  std::vector<std::string> root_errors;
  for (const auto& root : a.roots) {
    try {
      // Absolute, so the suggested sources: block holds wherever the config file is.
      auto path = std::filesystem::absolute(root).lexically_normal();
      if (path.filename().empty()) path = path.parent_path();  // "ext/" -> "ext"
      survey::walk_root(path, tally, options);
    } catch (const Error& e) {
      root_errors.push_back(e.what());
    }
  }

  // Every profile that can be read, in kVendors order (generic first, so it wins ties).
  std::vector<std::pair<std::string, ssmix2::Variations>> profiles;
  std::vector<std::string> profile_errors;
  for (std::string_view v : ssmix2::kVendors) {
    ssmix2::Variations p;
    try {
      if (v != "generic") ssmix2::load_vendor_profile(a.vendor_profiles, std::string(v), p);
      profiles.emplace_back(v, p);
    } catch (const config::ConfigError& e) {
      profile_errors.push_back(std::string(v) + ": " + e.what());
    }
  }
  const auto fits = survey::rank_profiles(tally.observed(), profiles);
  const auto best =
      std::find_if(profiles.begin(), profiles.end(), [&](const auto& p) { return p.first == fits[0].vendor; });
  const std::string suggestion = survey::suggest_sources(tally, fits[0], best->second);

  if (a.suggest_config_only) {
    std::cout << suggestion;
    return root_errors.empty() ? 0 : 2;
  }
  if (a.json) {
    json j = tally.to_json();
    j["format"] = "sennen-edge-survey/1";
    j["root_errors"] = root_errors;
    json ranked = json::array();
    for (const auto& f : fits)
      ranked.push_back({{"vendor", f.vendor}, {"refused", f.refused}, {"differences", f.differences}});
    j["vendor_profiles"] = {{"best", fits[0].vendor}, {"ranked", std::move(ranked)}, {"unreadable", profile_errors}};
    j["suggested_sources"] = suggestion;
    std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return root_errors.empty() ? 0 : 2;
  }

  for (const auto& e : root_errors) std::cout << "ERROR " << e << "\n";
  std::cout << "Volumes:\n";
  for (const auto& r : tally.roots())
    std::cout << "  " << r.root.string() << ": "
              << (r.extended_units > r.standard_units ? "extended storage"
                  : r.standard_units > 0              ? "standardized storage"
                                                      : "no SS-MIX2 unit found")
              << "; " << r.files << " files, " << r.bytes << " bytes, " << r.folders << " folders; " << r.standard_units
              << " standard units, " << r.extended_units << " extended units (" << r.undated_units
              << " undated); dates " << (r.first_date.empty() ? "-" : r.first_date) << " to "
              << (r.last_date.empty() ? "-" : r.last_date) << "\n";
  print_counts("Data types", tally.data_types());
  print_counts("Years (date folder; - = undated)", tally.years());
  print_counts("Condition flags (1 current, 2 superseded, 0 deleted)", tally.flags());
  print_counts("Timestamp (発生日時) widths, digits", tally.timestamp_widths());
  print_counts("Extended content folder name fields", tally.extended_field_counts());
  print_counts("Extended type folder shapes", tally.type_folder_shapes());
  print_counts("Extended type field forms (profile: extended_type_field)", tally.extended_type_fields());
  print_counts("Extended content files by extension", tally.content_forms());
  print_counts("HL7 message types (MSH-9)", tally.message_types());
  print_counts("HL7 character sets (MSH-18)", tally.character_sets());
  print_counts("Escape sequences (files holding each)", tally.escape_sequences());
  print_counts("Encoding beyond strict ISO-2022-JP (files)", tally.encoding_deviations());
  print_finding("Unparseable names", tally.unparseable_units());
  print_finding("Misplaced", tally.misplaced_units());
  print_finding("Not HL7", tally.not_hl7());
  print_finding("PID-3 disagreeing with the file name", tally.patient_mismatch());
  print_finding("Unreadable", tally.unreadable_paths());
  print_finding("Never followed (links, devices, other file systems)", tally.skipped_entries());
  std::cout << "Vendor profile best matching: " << fits[0].vendor << "\n";
  for (const auto& f : fits) {
    std::cout << "  " << f.vendor << ": " << f.refused << " variation(s) it would not accept\n";
    for (const auto& d : f.differences) std::cout << "    - " << d << "\n";
  }
  for (const auto& e : profile_errors) std::cout << "  (profile not readable: " << e << ")\n";
  std::cout << "Suggested sources: block (config/sennen-edge.yaml):\n" << suggestion;
  return root_errors.empty() ? 0 : 2;
}

}  // namespace sennen::edgectl
