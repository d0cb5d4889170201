#include "adapters/sources/ssmix2/standard_source.hpp"

#include <set>

#include "adapters/sources/ssmix2_common/hl7_header.hpp"
#include "daemon/core/checkpoint_table.hpp"
#include "daemon/core/patient_id.hpp"
#include "daemon/util/error.hpp"
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

// Where the feed keeps its state in SourceState, beside the tree's "<root>/..." keys: the
// watermark, and the files the index named that are not ingested yet (a file missing or not yet
// stable: looked at again every poll).
constexpr const char* kIndexState = "index_db";
constexpr const char* kWatermarkKey = "watermark";
constexpr const char* kPendingState = "index_db/pending";
constexpr const char* kMissing = "missing";      // the file the row names is not there
constexpr const char* kUnsettled = "unsettled";  // its folder has a file not yet stable or readable

struct PendingCodec {
  static void encode(const std::string& what, UnitState& out) { out.status = what; }
  static std::optional<std::string> decode(const UnitState& stored) { return stored.status; }
};

// A failure of the index DB itself (not of the spool, not of a file): the poll walks instead.
struct IndexUnavailable {
  std::string why;
};

// Runs a read of the index DB: its failure is the index's, not the poll's.
template <typename F>
auto read_index(F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    throw IndexUnavailable{e.what()};
  }
}

// The unit folder and name of a pending key "<unit folder>/<file>" ("" for the folder itself).
std::pair<std::string, std::string> split_pending(const std::string& key) {
  const auto slash = key.rfind('/');
  return {key.substr(0, slash), key.substr(slash + 1)};
}

class StandardSource final : public TreeSource {
 public:
  StandardSource(TreeSourceOptions options, IndexReaderFactory index)
      : TreeSource(std::move(options)), index_(std::move(index)) {}

  void poll(SourceContext& ctx) override {
    if (!index_) return TreeSource::poll(ctx);
    begin_poll(ctx);
    for (auto& [event, n] : events_) n.last_poll = 0;
    CheckpointTable<Watermark, WatermarkCodec> marks(ctx.state, kIndexState);
    const auto mark = marks.get(kWatermarkKey);
    std::unique_ptr<IndexReader> db;
    std::string failure;
    try {
      db = index_();
    } catch (const Error& e) {
      failure = e.what();
    }
    try {
      if (db && mark) follow(*db, *mark, marks, ctx);
    } catch (const IndexUnavailable& e) {
      failure = e.why;
    }
    // The walk: the first time (the index says what changed since, not what was there), every
    // full_scan_interval (catching what the index missed), and whenever the index cannot be read.
    if (!db || !failure.empty() || !mark || ctx.full_scan) {
      std::optional<std::optional<Watermark>> newest;  // the table's last row before the walk
      try {
        if (db && failure.empty() && !mark) newest = read_index([&] { return db->newest(); });
      } catch (const IndexUnavailable& e) {
        failure = e.why;
      }
      if (!failure.empty()) {
        log::warning("source " + name() + ": " + failure +
                     "; the tree is walked instead this poll, the index DB is tried again next poll");
        count(kIndexFallbackEvent, 1);
      }
      reconciling_ = mark && failure.empty();
      pending_dirs_.clear();
      for (const auto& [key, what] : CheckpointTable<std::string, PendingCodec>(ctx.state, kPendingState).all())
        pending_dirs_.insert(split_pending(key).first);
      walk_roots(ctx);
      reconciling_ = false;
      if (!ctx.stop_requested && (ctx.full_scan || !mark)) {
        // What the index named and was not there has been looked for in the whole tree now.
        CheckpointTable<std::string, PendingCodec>(ctx.state, kPendingState).clear();
        if (auto it = events_.find(kIndexMissingEvent); it != events_.end()) it->second.last_poll = 0;
      }
      if (newest && !ctx.stop_requested) {
        marks.put(kWatermarkKey, newest->value_or(Watermark{}));
        log::info("source " + name() + ": following the index DB " + db->describe() + " from here on");
      }
    }
    for (const auto& [event, n] : events_) ctx.stats.events[event][kIndexPeer] = n;
    end_poll(ctx);
  }

 protected:
  void on_ingested(const std::string& rel_path) override {
    if (!reconciling_) return;
    const std::string dir = rel_path.substr(0, rel_path.rfind('/'));
    if (pending_dirs_.count(dir)) return;  // the index named it; it was waiting to become stable
    log::warning("source " + name() + ": " + util::display_name(rel_path) +
                 " was not named by the index DB; the reconciliation walk found it");
    count(kIndexMissedEvent, 1);
  }

  std::uint64_t own_units(SourceContext& ctx) const override {
    return ctx.state.units(kIndexState).size() + ctx.state.units(kPendingState).size();
  }

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

  void count(const char* event, std::uint64_t n) {
    auto& c = events_[event];
    c.total += n;
    c.last_poll += n;
  }

  // Reads the rows after `mark`, page by page, and looks at each file they name; the watermark
  // moves past a page once its files were handed over (same transaction: kill-safe).
  void follow(IndexReader& db, Watermark mark, CheckpointTable<Watermark, WatermarkCodec>& marks, SourceContext& ctx) {
    CheckpointTable<std::string, PendingCodec> pending(ctx.state, kPendingState);
    std::map<std::string, TreeSource::Examined> seen;  // unit folders listed in this page
    for (const auto& [key, what] : pending.all()) {
      if (ctx.stop_requested) return;
      auto [dir, file] = split_pending(key);
      look(dir, file, seen, pending, ctx);
    }
    for (;;) {
      if (ctx.stop_requested) return;
      seen.clear();
      const auto rows = read_index([&] { return db.after(mark, index_options().page_size); });
      for (const auto& row : rows) {
        if (ctx.stop_requested) return;  // the watermark stays before this page: read again
        const RowTarget t = map_row(row, index_options());
        if (t.other_volume) continue;
        if (!t.problem.empty()) {
          log::warning("source " + name() + ": the index DB row of " + util::display_name(row.directory) + " " +
                       util::display_name(row.file) + " (" + index_options().watermark_column + " " + row.watermark +
                       ") is not used: " + t.problem);
          count(kIndexBadRowEvent, 1);
          continue;
        }
        look(t.unit_dir, t.file, seen, pending, ctx);
      }
      if (rows.empty()) break;
      const Watermark next{rows.back().watermark, rows.back().directory, rows.back().file};
      if (next == mark) break;  // a driver that rounds the watermark: no progress, go on next poll
      mark = next;
      marks.put(kWatermarkKey, mark);
      ctx.sink.checkpoint();
      if (rows.size() < index_options().page_size) break;
    }
    std::uint64_t missing = 0;
    for (const auto& [key, what] : pending.all()) missing += what == kMissing;
    if (missing) events_[kIndexMissingEvent].last_poll = missing;  // reset with the others at the start of a poll
  }

  // Looks at the unit folder a row (or a pending entry) names, as the walker would, and keeps it
  // pending while the file is not there or the folder not settled.
  void look(const std::string& dir, const std::string& file, std::map<std::string, TreeSource::Examined>& seen,
            CheckpointTable<std::string, PendingCodec>& pending, SourceContext& ctx) {
    auto it = seen.find(dir);
    if (it == seen.end()) {
      TreeSource::Examined ex;
      try {
        auto found = examine_folder(dir, ctx);
        if (found)
          ex = std::move(*found);
        else
          ex.settled = true;  // no root has the folder: the file is missing (below)
      } catch (const SourceFileError& e) {
        if (e.kind() == SourceFileError::Kind::unreadable) ctx.stats.add_unreadable(e.path());
        log::warning("source " + name() + ": " + e.what());
        ex.settled = false;
      }
      it = seen.emplace(dir, std::move(ex)).first;
    }
    const auto& ex = it->second;
    if (ex.settled)
      pending.erase(dir + "/");
    else
      pending.put(dir + "/", kUnsettled);
    if (file.empty()) return;
    // Renamed since the row was written (a later update made it _2, a cancel _0): the same file.
    const std::string stem = file.substr(0, file.rfind('_'));
    const bool there = std::any_of(ex.names.begin(), ex.names.end(), [&](const std::string& n) {
      return n == file || n.substr(0, n.rfind('_')) == stem;
    });
    const std::string key = dir + "/" + file;
    if (there) {
      pending.erase(key);
    } else if (!pending.get(key)) {
      log::warning("source " + name() + ": the index DB names " + util::display_name(key) +
                   ", which is in no root; it is looked for again every poll, and the reconciliation walk "
                   "(full_scan_interval) reads the whole tree");
      ++events_[kIndexMissingEvent].total;
      pending.put(key, kMissing);
    }
  }

  const IndexDbOptions& index_options() const { return *options().index_db; }

  IndexReaderFactory index_;
  bool reconciling_ = false;                          // the walk under way is the reconciliation walk
  std::set<std::string> pending_dirs_;                // unit folders the index named that were not settled
  std::map<std::string, SourceStats::Count> events_;  // by event, peer kIndexPeer
};

void StandardSource::log_ignored(const std::string& rel, const std::string& what) const {
  log::warning("source " + name() + ": ignoring " + util::display_name(rel) + ": " + what);
}

}  // namespace

std::unique_ptr<Source> make_standard_source(TreeSourceOptions options, IndexReaderFactory index) {
  if (options.index_db && !index) index = [o = *options.index_db] { return open_odbc_index(o); };
  return std::make_unique<StandardSource>(std::move(options), std::move(index));
}

}  // namespace sennen::ssmix2
