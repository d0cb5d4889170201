#include "tools/edgectl/survey/tally.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "daemon/core/patient_id.hpp"
#include "daemon/util/name_text.hpp"

namespace sennen::survey {
namespace {

using json = nlohmann::json;

json counts_json(const Counts& c) { return json(c.by); }

json finding_json(const Finding& f) {
  json ex = json::array();
  for (const auto& [path, why] : f.examples) ex.push_back({{"path", path}, {"why", why}});
  return {{"count", f.count}, {"examples", std::move(ex)}};
}

// The shape of an extended-storage type folder name (formats.md §1.9): how many '^'-separated
// components, and whether it holds bytes beyond ASCII (Japanese names), e.g. "6 components, non-ASCII".
std::string type_shape(std::string_view kind) {
  const auto components = std::count(kind.begin(), kind.end(), '^') + 1;
  const bool ascii = std::all_of(kind.begin(), kind.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  return std::to_string(components) + (components == 1 ? " component" : " components") + (ascii ? "" : ", non-ASCII");
}

// The ISO 2022 designations in `bytes` (ESC ( F, ESC $ F, ESC $ ( F), each once, as text such as "ESC $ B".
std::set<std::string> designations(std::string_view bytes) {
  std::set<std::string> out;
  for (std::size_t i = bytes.find('\x1b'); i != std::string_view::npos; i = bytes.find('\x1b', i + 1)) {
    std::string seq = "ESC";
    for (std::size_t j = i + 1; j < bytes.size() && j < i + 4; ++j) {
      const char c = bytes[j];
      if (c < 0x20 || c > 0x7e) break;
      seq += ' ';
      seq += c;
      if (c >= 0x40) break;  // the final byte of the designation
    }
    out.insert(seq);
  }
  return out;
}

std::string lower_extension(std::string_view file_name) {
  const auto dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == file_name.size()) return "(none)";
  std::string ext(file_name.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext.size() > 8 ? std::string(kOther) : ext;
}

std::string list(const std::vector<int>& v) {
  std::string out;
  for (int i : v) out += (out.empty() ? "" : ", ") + std::to_string(i);
  return out;
}

std::string forms(const std::vector<ssmix2::TypeField>& v) {
  std::string out;
  for (auto f : v) out += (out.empty() ? "" : ", ") + std::string(ssmix2::type_field_name(f));
  return out;
}

template <class T>
bool has(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

void Counts::add(std::string_view key, std::uint64_t n) {
  auto it = by.find(std::string(key));
  if (it != by.end())
    it->second += n;
  else if (by.size() < kMaxKeys)
    by.emplace(std::string(key), n);
  else
    by[kOther] += n;
}

std::uint64_t Counts::total() const {
  std::uint64_t t = 0;
  for (const auto& [k, n] : by) t += n;
  return t;
}

void Tally::begin_root(const std::filesystem::path& root) {
  RootSummary r;
  r.root = root;
  roots_.push_back(std::move(r));
}

RootSummary& Tally::current() {
  if (roots_.empty()) roots_.emplace_back();
  return roots_.back();
}

void Tally::file(std::uint64_t size) {
  ++current().files;
  current().bytes += size;
}

std::uint64_t Tally::files() const {
  std::uint64_t n = 0;
  for (const auto& r : roots_) n += r.files;
  return n;
}

void Tally::note(Finding& f, std::string_view path, std::string_view why) {
  ++f.count;
  if (f.examples.size() < examples_) f.examples.emplace_back(util::display_name(path), std::string(why));
}

void Tally::unit(Storage storage, const ssmix2::Name& name, std::string_view rel_path, std::string_view placement) {
  RootSummary& r = current();
  if (storage == Storage::standard) {
    ++std_units_;
    ++r.standard_units;
  } else {
    ++ext_units_;
    ++r.extended_units;
    ext_fields_.add(name.dept.empty() ? "6" : "7");
    type_shapes_.add(type_shape(name.kind));
    type_fields_.add(ssmix2::type_field_name(name.type_field));
  }
  data_types_.add(util::display_name(name.kind));
  if (name.date == "-") {
    ++r.undated_units;
    years_.add("-");
  } else {
    years_.add(name.date.substr(0, 4));
    if (r.first_date.empty() || name.date < r.first_date) r.first_date = name.date;
    if (name.date > r.last_date) r.last_date = name.date;
  }
  flags_.add(std::string(1, static_cast<char>(name.flag)));
  ts_widths_.add(std::to_string(name.timestamp.size()));
  if (!placement.empty()) note(misplaced_, rel_path, placement);
}

void Tally::unparseable(Storage storage, std::string_view rel_path, std::string_view why) {
  note(unparseable_, rel_path,
       std::string(storage == Storage::standard ? "standardized-storage file: " : "extended-storage content folder: ") +
           std::string(why));
}

void Tally::misplaced(std::string_view rel_path, std::string_view why) { note(misplaced_, rel_path, why); }

void Tally::hl7(const ssmix2::Hl7ParseResult& header, std::string_view head, std::string_view rel_path,
                const ssmix2::Name& name) {
  if (!header.header) {
    note(not_hl7_, rel_path, header.error);
    return;
  }
  const auto& h = *header.header;
  message_types_.add(util::display_name(h.message_type.empty() ? "(empty)" : h.message_type));
  // MSH-18 (character set) is not one of the fields the product reads; its text is the 18th field of
  // the first line, taken with the field separator MSH-1 names.
  const std::string_view msh = head.substr(0, head.find_first_of("\r\n"));
  std::string_view charset;
  if (msh.size() > 3) {
    std::size_t start = 0;
    for (int i = 0; i < 17 && start != std::string_view::npos; ++i) {
      start = msh.find(msh[3], start);
      if (start != std::string_view::npos) ++start;
    }
    if (start != std::string_view::npos) charset = msh.substr(start, msh.find(msh[3], start) - start);
  }
  charsets_.add(charset.empty() ? "(empty)" : util::display_name(charset));
  for (const auto& seq : designations(head)) escapes_.add(seq);
  const auto dev = ssmix2::encoding_deviations(head);
  if (dev.empty()) deviations_.add("none");
  for (auto d : dev) deviations_.add(d);
  // Compared as the daemon compares them (canonical IDs: "0001" and "1" agree), so this counts what
  // sennen-edged would quarantine as misplaced.
  const auto from_name = canonical_patient_id(name.patient_id), from_pid3 = canonical_patient_id(h.patient_id);
  if (!from_name || !from_pid3 || *from_name != *from_pid3)
    note(pid_mismatch_, rel_path,
         "PID-3 says patient " + util::display_name(h.patient_id) + ", the file name " +
             util::display_name(name.patient_id));
}

void Tally::content_file(std::string_view file_name) { content_forms_.add(lower_extension(file_name)); }

void Tally::unreadable(std::string_view path, std::string_view why) { note(unreadable_, path, why); }

void Tally::skipped(std::string_view rel_path, std::string_view what) { note(skipped_, rel_path, what); }

ssmix2::Variations Tally::observed() const {
  ssmix2::Variations v;
  v.timestamp_digits.clear();
  v.extended_field_counts.clear();
  for (const auto& [w, n] : ts_widths_.by)
    if (w != kOther) v.timestamp_digits.push_back(std::stoi(w));
  for (const auto& [f, n] : ext_fields_.by) v.extended_field_counts.push_back(std::stoi(f));
  v.extended_type_field.clear();
  for (auto form : ssmix2::kAllTypeFields)
    if (type_fields_.by.count(std::string(ssmix2::type_field_name(form)))) v.extended_type_field.push_back(form);
  for (const auto& [d, n] : deviations_.by)
    if (d != "none") v.encodings_tolerated.push_back(d);
  return v;
}

json Tally::to_json() const {
  json roots = json::array();
  for (const auto& r : roots_)
    roots.push_back({{"root", r.root.string()},
                     {"layout", r.extended_units > r.standard_units ? "extended"
                                : r.standard_units > 0              ? "standard"
                                                                    : "unknown"},
                     {"files", r.files},
                     {"bytes", r.bytes},
                     {"folders", r.folders},
                     {"standard_units", r.standard_units},
                     {"extended_units", r.extended_units},
                     {"undated_units", r.undated_units},
                     {"first_date", r.first_date.empty() ? json(nullptr) : json(r.first_date)},
                     {"last_date", r.last_date.empty() ? json(nullptr) : json(r.last_date)}});
  json j = {{"volumes", std::move(roots)},
            {"files", files()},
            {"standard_units", std_units_},
            {"extended_units", ext_units_},
            {"data_types", counts_json(data_types_)},
            {"years", counts_json(years_)},
            {"condition_flags", counts_json(flags_)},
            {"timestamp_digits", counts_json(ts_widths_)},
            {"extended_field_counts", counts_json(ext_fields_)},
            {"extended_type_folder_shapes", counts_json(type_shapes_)},
            {"extended_type_fields", counts_json(type_fields_)},
            {"extended_content_files", counts_json(content_forms_)},
            {"hl7_message_types", counts_json(message_types_)},
            {"hl7_character_sets", counts_json(charsets_)},
            {"escape_sequences", counts_json(escapes_)},
            {"encoding_deviations", counts_json(deviations_)},
            {"unparseable", finding_json(unparseable_)},
            {"misplaced", finding_json(misplaced_)},
            {"not_hl7", finding_json(not_hl7_)},
            {"patient_mismatch", finding_json(pid_mismatch_)},
            {"unreadable", finding_json(unreadable_)},
            {"skipped", finding_json(skipped_)}};
  return j;
}

std::vector<ProfileFit> rank_profiles(const ssmix2::Variations& seen,
                                      const std::vector<std::pair<std::string, ssmix2::Variations>>& profiles) {
  std::vector<ProfileFit> fits;
  for (const auto& [vendor, p] : profiles) {
    ProfileFit f{vendor, {}, 0};
    for (int w : seen.timestamp_digits)
      if (!p.accepts_timestamp(static_cast<std::size_t>(w))) {
        ++f.refused;
        f.differences.push_back("timestamps of " + std::to_string(w) + " digits seen; the profile accepts " +
                                list(p.timestamp_digits));
      }
    for (int c : seen.extended_field_counts)
      if (!p.accepts_field_count(c)) {
        ++f.refused;
        f.differences.push_back(std::to_string(c) + "-field content folder names seen; the profile accepts " +
                                list(p.extended_field_counts));
      }
    for (auto form : seen.extended_type_field)
      if (!p.accepts_type_field(form)) {
        ++f.refused;
        f.differences.push_back("content folders naming the type by its " + std::string(ssmix2::type_field_name(form)) +
                                " seen; the profile's extended_type_field is [" + forms(p.extended_type_field) + "]");
      }
    for (const auto& d : seen.encodings_tolerated)
      if (!has(p.encodings_tolerated, d)) {
        ++f.refused;
        f.differences.push_back("encoding deviation " + d +
                                " seen; the profile does not list it (counted as a problem)");
      }
    for (int w : p.timestamp_digits)
      if (!has(seen.timestamp_digits, w))
        f.differences.push_back("the profile accepts " + std::to_string(w) + "-digit timestamps; none seen");
    for (int c : p.extended_field_counts)
      if (!seen.extended_field_counts.empty() && !has(seen.extended_field_counts, c))
        f.differences.push_back("the profile accepts " + std::to_string(c) + "-field content folder names; none seen");
    for (const auto& d : p.encodings_tolerated)
      if (!has(seen.encodings_tolerated, d)) f.differences.push_back("the profile tolerates " + d + "; none seen");
    fits.push_back(std::move(f));
  }
  std::stable_sort(fits.begin(), fits.end(), [](const ProfileFit& a, const ProfileFit& b) {
    return a.refused != b.refused ? a.refused < b.refused : a.differences.size() < b.differences.size();
  });
  return fits;
}

std::string suggest_sources(const Tally& t, const ProfileFit& best, const ssmix2::Variations& accepts) {
  const ssmix2::Variations seen = t.observed();
  std::vector<std::string> std_roots, ext_roots;
  for (const auto& r : t.roots()) {
    if (r.standard_units >= r.extended_units && r.standard_units > 0) std_roots.push_back(r.root.string());
    if (r.extended_units > r.standard_units) ext_roots.push_back(r.root.string());
  }
  auto overrides = [&](bool extended) {
    std::string out;
    std::vector<int> widths = accepts.timestamp_digits;
    for (int w : seen.timestamp_digits)
      if (!has(widths, w)) widths.push_back(w);
    std::sort(widths.begin(), widths.end());
    if (widths != accepts.timestamp_digits) out += "      timestamp_digits: [" + list(widths) + "]\n";
    if (extended) {
      std::vector<int> fields = accepts.extended_field_counts;
      for (int c : seen.extended_field_counts)
        if (!has(fields, c)) fields.push_back(c);
      std::sort(fields.begin(), fields.end());
      if (fields != accepts.extended_field_counts) out += "      extended_field_counts: [" + list(fields) + "]\n";
      std::vector<ssmix2::TypeField> type_fields;  // in TypeField order
      for (auto form : ssmix2::kAllTypeFields)
        if (accepts.accepts_type_field(form) || has(seen.extended_type_field, form)) type_fields.push_back(form);
      if (type_fields.size() != accepts.extended_type_field.size())
        out += "      extended_type_field: [" + forms(type_fields) + "]\n";
    }
    std::vector<std::string> dev = accepts.encodings_tolerated;
    for (const auto& d : seen.encodings_tolerated)
      if (!has(dev, d)) dev.push_back(d);
    if (dev != accepts.encodings_tolerated) {
      std::string l;
      for (const auto& d : dev) l += (l.empty() ? "" : ", ") + d;
      out += "      encodings_tolerated: [" + l + "]\n";
    }
    return out.empty() ? out : "    profile:   # what this tree shows beyond the profile (survey)\n" + out;
  };
  auto source = [&](const char* name, const char* type, const std::vector<std::string>& roots, bool extended) {
    std::string s =
        std::string("  - name: ") + name + "\n    type: " + type + "\n    vendor: " + best.vendor + "\n    root:\n";
    for (const auto& r : roots) s += "      - " + json(r).dump() + "\n";
    return s + overrides(extended);
  };
  if (std_roots.empty() && ext_roots.empty()) return "sources: []   # no SS-MIX2 unit found under the roots surveyed\n";
  std::string out = "sources:\n";
  if (!std_roots.empty()) out += source("ssmix2-std", "ssmix2", std_roots, false);
  if (!ext_roots.empty()) out += source("ssmix2-ext", "ssmix2-extended", ext_roots, true);
  return out;
}

}  // namespace sennen::survey
