#include "adapters/sources/ssmix2_common/vendor_profile.hpp"

#include <algorithm>
#include <optional>

#include "adapters/sources/ssmix2_common/hl7_header.hpp"
#include "daemon/core/coverage.hpp"
#include "daemon/config/reader.hpp"

namespace sennen::ssmix2 {
namespace {

// Reads a list of distinct integers in [min, max] into `out` (left alone on a problem).
void read_ints(const config::Node& n, long min, long max, std::vector<int>& out) {
  std::vector<int> v;
  bool ok = true;
  for (const auto& item : n.items("number")) {
    auto i = item.integer(min, max);
    if (!i) {
      ok = false;
    } else if (std::find(v.begin(), v.end(), static_cast<int>(*i)) != v.end()) {
      item.problem(std::to_string(*i) + " is listed twice");
      ok = false;
    } else {
      v.push_back(static_cast<int>(*i));
    }
  }
  if (ok && !v.empty()) out = std::move(v);
}

// A list of encoding deviation names (an empty list is allowed: strict ISO-2022-JP).
void read_deviations(const config::Node& n, std::vector<std::string>& out) {
  std::vector<std::string> v;
  bool ok = true;
  if (!n.is_empty_list())
    for (const auto& item : n.items("deviation")) {
      auto t = item.choice(kEncodingDeviations, "a deviation from strict ISO-2022-JP");
      if (t && std::find(v.begin(), v.end(), *t) == v.end())
        v.push_back(*t);
      else
        ok = ok && t.has_value();
    }
  if (ok) out = std::move(v);
}

// The forms of the type field (at least one; each once).
void read_type_fields(const config::Node& n, std::vector<TypeField>& out) {
  std::vector<TypeField> v;
  bool ok = true;
  for (const auto& item : n.items("form")) {
    auto t = item.choice(kTypeFieldNames, "a form of the content folder's type field");
    if (!t) {
      ok = false;
      continue;
    }
    const auto form =
        static_cast<TypeField>(std::find(kTypeFieldNames.begin(), kTypeFieldNames.end(), *t) - kTypeFieldNames.begin());
    if (std::find(v.begin(), v.end(), form) != v.end()) {
      item.problem(*t + " is listed twice");
      ok = false;
    } else {
      v.push_back(form);
    }
  }
  if (ok && !v.empty()) out = std::move(v);
}

// kind -> form, over what is already there (an empty mapping {} adds nothing).
void read_expected(const config::Node& n, std::map<std::string, std::string>& out) {
  std::vector<std::string_view> ids;
  for (const auto& k : kCoverageKinds) ids.push_back(k.id);
  config::Section s(n, ids);
  for (std::string_view id : ids)
    if (auto e = s.optional(id))
      if (auto form = e->choice({kStructured, kPdfJpeg, kNone}, "the form this site delivers the kind in"))
        out.insert_or_assign(std::string(id), *form);
}

// One variation's value, from either form.
void read_variation(std::string_view key, const config::Node& value, Variations& out) {
  if (key == "encodings_tolerated")
    read_deviations(value, out.encodings_tolerated);
  else if (key == "timestamp_digits")
    read_ints(value, 14, 17, out.timestamp_digits);
  else if (key == "extended_field_counts")
    read_ints(value, 6, 7, out.extended_field_counts);
  else if (key == "extended_type_field")
    read_type_fields(value, out.extended_type_field);
  else if (key == "expected_kinds")
    read_expected(value, out.expected_kinds);
}

void load(const std::filesystem::path& dir, const std::string& vendor, Variations& out, int depth) {
  const std::filesystem::path file = dir / (vendor + ".yaml");
  std::optional<std::string> base;
  config::read_yaml_file(file, [&](const config::Node& root) {
    config::Section s(root, {"vendor", "based_on", "source", "accept"});
    if (auto v = s.required("vendor", "vendor: " + vendor))
      if (auto t = v->text("the vendor's name"); t && *t != vendor)
        v->problem("names vendor " + config::in_quotes(*t) + " but the file is " + vendor + ".yaml");
    s.required("source", "source: \"where this profile's entries come from\"");
    if (auto b = s.optional("based_on"))
      if (auto t = b->choice(kVendors, "another vendor profile")) {
        if (*t == vendor || depth > static_cast<int>(kVendors.size()))
          b->problem("profiles are based on each other in a loop");
        else
          base = *t;
      }
    if (base) load(dir, *base, out, depth + 1);
    if (auto a = s.required("accept", "accept: {} (the variations this profile accepts beyond its base)")) {
      config::Section accept(*a, kVariationKeys);
      for (std::string_view key : kVariationKeys)
        if (auto entry = accept.optional(key)) {
          // Every entry says where it comes from: a profile must not pretend to know more than it does.
          config::Section e(*entry, {"value", "source"});
          auto src = e.required("source", "source: \"guideline ..., a public document, or a named survey\"");
          if (src) src->text("where this entry comes from");
          if (auto v = e.required("value", "value: [...]")) read_variation(key, *v, out);
        }
    }
  });
}

}  // namespace

const std::vector<std::string_view> kVariationKeys{"timestamp_digits", "extended_field_counts", "extended_type_field",
                                                   "encodings_tolerated", "expected_kinds"};

bool Variations::accepts_timestamp(std::size_t digits) const {
  return std::find(timestamp_digits.begin(), timestamp_digits.end(), static_cast<int>(digits)) !=
         timestamp_digits.end();
}
bool Variations::accepts_field_count(int fields) const {
  return std::find(extended_field_counts.begin(), extended_field_counts.end(), fields) != extended_field_counts.end();
}

bool Variations::accepts_type_field(TypeField form) const {
  return std::find(extended_type_field.begin(), extended_type_field.end(), form) != extended_type_field.end();
}

void load_vendor_profile(const std::filesystem::path& dir, const std::string& vendor, Variations& out) {
  load(dir, vendor, out, 0);
}

void read_variation_overrides(const config::Node& block, Variations& out) {
  config::Section s(block, kVariationKeys);
  for (std::string_view key : kVariationKeys)
    if (auto v = s.optional(key)) read_variation(key, *v, out);
}

}  // namespace sennen::ssmix2
