#include "adapters/sources/ssmix2/standard_source.hpp"

#include "adapters/sources/ssmix2_common/hl7_header.hpp"
#include "daemon/util/error.hpp"
#include "daemon/core/patient_id.hpp"
#include "daemon/core/read_prefix.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/name_text.hpp"

namespace sennen::ssmix2 {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kHeaderPrefix = 64 * 1024;  // MSH and PID come first; never parse more

// The data types whose records are evidence that the patient came to the hospital (and so was
// shown the opt-out notice): outpatient visit registration and admission.
bool is_visit_kind(const std::string& kind) { return kind == "ADT-12" || kind == "ADT-22"; }

class StandardSource final : public TreeSource {
 public:
  using TreeSource::TreeSource;

 protected:
  bool collect_units(const dirpoll::Listing& listing, const std::string& state_dir, const std::vector<UnitState>& known,
                     SourceContext& ctx, std::vector<FoundUnit>& units) override {
    bool settled = true;
    for (const auto& e : listing.entries) {
      if (e.skipped()) continue;  // links, devices: the walker's
      if (e.type == dirpoll::Entry::Type::dir) {
        if (!find_unit(known, e.name))
          log_ignored(rel_join(listing.rel_dir, e.name), "a folder inside a data type folder");
        ctx.state.put_unit(state_dir, {e.name, 0, e.mtime_ns, e.ctime_ns, kIgnored});
        continue;
      }
      auto parsed = parse_standard_name(e.name);
      std::string problem = parsed.name ? check_placement(listing.rel_dir, *parsed.name) : parsed.error;
      if (!problem.empty()) {
        settled &=
            quarantine_entry(listing, e, parsed.name ? "misplaced: " + problem : "not an SS-MIX2 file name: " + problem,
                             state_dir, known, ctx);
        continue;
      }
      if (std::string outside = outside_profile(*parsed.name, false); !outside.empty()) {
        settled &= quarantine_entry(listing, e, "not accepted: " + outside, state_dir, known, ctx);
        continue;
      }
      FoundUnit u;
      u.entry = e;
      u.name = *parsed.name;
      u.parts = {ContentPart{"", listing.abs_dir / e.name, e.size}};
      u.stable = dirpoll::is_stable(e, ctx.clock.now(), options().stable_after);
      units.push_back(std::move(u));
    }
    return settled;
  }

  Upsert make_upsert(const FoundUnit& unit, const std::string& rel_path, int root_index) override {
    Upsert up;
    std::string prefix;
    bool complete = false;
    try {
      prefix = read_prefix(unit.parts[0].file, unit.parts[0].size, kHeaderPrefix, complete);
    } catch (const SourceFileError& e) {
      up.file_error = e;
      return up;
    }
    auto hl7 = parse_hl7_header(prefix);
    if (!hl7.header) {
      up.quarantine_reason = "not an HL7 v2 message: " + hl7.error;
      return up;
    }
    auto from_name = canonical_patient_id(unit.name.patient_id);
    auto from_pid3 = canonical_patient_id(hl7.header->patient_id);
    if (!from_name || !from_pid3 || *from_name != *from_pid3) {
      up.quarantine_reason = "misplaced: PID-3 names patient " + util::display_name(hl7.header->patient_id) +
                             " but the file is stored as patient " + unit.name.patient_id;
      return up;
    }
    RecordDraft d;
    d.source = name();
    d.key = unit.name.key();
    d.patient_id = unit.name.patient_id;
    d.kind = unit.name.kind;
    d.path = rel_path;
    d.event = Event::upsert;
    d.parts = unit.parts;
    // Deviations from ISO-2022-JP are accepted as they are, never re-encoded, and named so the
    // central side knows (formats.md §1.7). Only the bytes read are looked at: the whole message
    // when it fits the header read.
    up.deviations = encoding_deviations(prefix);
    // Most SS-MIX2 messages fit in the header read: hand the bytes on instead of reading twice.
    if (complete) d.parts[0].bytes = std::make_shared<const std::string>(std::move(prefix));
    d.attributes = {{"date", unit.name.date},
                    {"order_no", unit.name.order_no},
                    {"issued_at", unit.name.timestamp},
                    {"department", unit.name.dept},
                    {"message_type", hl7.header->message_type},
                    {"message_control_id", hl7.header->control_id}};
    if (options().roots.size() > 1) d.attributes.emplace_back("root", std::to_string(root_index));
    if (!up.deviations.empty()) {
      std::string names;
      for (std::string_view v : up.deviations) names += (names.empty() ? "" : ",") + std::string(v);
      d.attributes.emplace_back("encoding_deviations", names);
    }
    if (is_visit_kind(unit.name.kind) && unit.name.date != "-") up.visit_date = unit.name.date;
    up.draft = std::move(d);
    return up;
  }

  std::optional<std::vector<ContentPart>> parts_at(const fs::path& abs) const override {
    auto e = dirpoll::entry_at(abs);
    if (!e || e->type != dirpoll::Entry::Type::file) return std::nullopt;
    return std::vector<ContentPart>{{"", abs, e->size}};
  }

 private:
  void log_ignored(const std::string& rel, const std::string& what) const;
};

void StandardSource::log_ignored(const std::string& rel, const std::string& what) const {
  log::warning("source " + name() + ": ignoring " + util::display_name(rel) + ": " + what);
}

}  // namespace

std::unique_ptr<Source> make_standard_source(TreeSourceOptions options) {
  return std::make_unique<StandardSource>(std::move(options));
}

}  // namespace sennen::ssmix2
