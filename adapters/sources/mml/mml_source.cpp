#include "adapters/sources/mml/mml_source.hpp"

#include <climits>

#include "adapters/sources/dirpoll/walker.hpp"
#include "adapters/sources/mml/mml_header.hpp"
#include "daemon/core/patient_id.hpp"
#include "daemon/core/read_prefix.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/name_text.hpp"

namespace sennen::mml {
namespace fs = std::filesystem;
namespace {

// MmlHeader and the first docInfo come first; a creator's toc rarely exceeds a few KiB.
constexpr std::size_t kHeaderPrefix = 1 << 20;
// Files may lie at any depth below a root: the walker hands every one over as a "stray" file.
constexpr int kNoUnitDepth = INT_MAX;

constexpr const char* kIngested = "ingested";
constexpr const char* kWaiting = "waiting";
constexpr const char* kQuarantined = "quarantined";

bool same_content(const UnitState& s, const dirpoll::Entry& e) { return s.size == e.size && s.mtime_ns == e.mtime_ns; }

class MmlSource final : public Source, dirpoll::UnitHandler {
 public:
  explicit MmlSource(Options o) : o_(std::move(o)) {}
  const std::string& name() const override { return o_.name; }

  void poll(SourceContext& ctx) override {
    ctx.stats = SourceStats{};
    for (std::size_t i = 0; i < o_.roots.size() && !ctx.stop_requested; ++i) {
      root_ = static_cast<int>(i);
      cached_dir_.reset();
      dirpoll::walk(o_.roots[i], {kNoUnitDepth, std::to_string(i), name(), o_.cross_filesystems, o_.roots.size() == 1},
                    *this, ctx);
    }
    cached_dir_.reset();
    ctx.stats.files_seen = ctx.state.unit_count();
    ctx.stats.skipped = ctx.state.units_with_status(dirpoll::kSkipped);
  }

  std::optional<std::vector<ContentPart>> locate(std::string_view path, std::string_view version) const override {
    const auto colon = version.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const std::size_t root = std::stoul(std::string(version.substr(0, colon)));
    if (root >= o_.roots.size()) return std::nullopt;
    const fs::path abs = o_.roots[root] / std::string(path);
    auto e = dirpoll::entry_at(abs);
    if (!e || e->type != dirpoll::Entry::Type::file) return std::nullopt;
    return std::vector<ContentPart>{{"", abs, e->size}};
  }

 private:
  bool on_unit_folder(const dirpoll::Listing&, const std::string&, SourceContext&) override { return true; }
  bool on_stray_file(const fs::path& file, const std::string& rel, const dirpoll::Entry& e,
                     const std::string& state_dir, SourceContext& ctx) override;

  // The state of the folder's files, read once per folder (not once per file).
  std::vector<UnitState>& known(const std::string& state_dir, SourceContext& ctx) {
    if (cached_dir_ != state_dir) {
      cached_units_ = ctx.state.units(state_dir);
      cached_dir_ = state_dir;
    }
    return cached_units_;
  }
  void put(const std::string& state_dir, const dirpoll::Entry& e, const char* status, SourceContext& ctx) {
    UnitState s{e.name, e.size, e.mtime_ns, e.ctime_ns, status};
    ctx.state.put_unit(state_dir, s);
    auto& units = known(state_dir, ctx);
    for (auto& u : units)
      if (u.name == e.name) {
        u = s;
        return;
      }
    units.push_back(std::move(s));
  }
  const char* ingest(const fs::path& file, const std::string& rel, const dirpoll::Entry& e,
                     const std::string& state_dir, SourceContext& ctx);
  const char* quarantine(const fs::path& file, const std::string& rel, const std::string& reason, SourceContext& ctx) {
    ctx.sink.quarantine(file, rel, reason);
    ++ctx.stats.quarantined;
    return kQuarantined;
  }

  Options o_;
  int root_ = 0;
  std::optional<std::string> cached_dir_;
  std::vector<UnitState> cached_units_;
};

bool MmlSource::on_stray_file(const fs::path& file, const std::string& rel, const dirpoll::Entry& e,
                              const std::string& state_dir, SourceContext& ctx) {
  auto& units = known(state_dir, ctx);
  const UnitState* prev = nullptr;
  for (const auto& u : units)
    if (u.name == e.name) prev = &u;
  if (prev && same_content(*prev, e) && prev->status != std::string_view(kWaiting) &&
      prev->status != std::string_view(dirpoll::kUnreadable))
    return true;  // already dealt with, and unchanged
  if (prev && prev->status == std::string_view(kIngested))
    log::warning("source " + name() + ": " + util::display_name(rel) +
                 " was rewritten in place after it was read; its new content is taken as a new version");
  const char* status = nullptr;
  if (!dirpoll::is_stable(e, ctx.clock.now(), o_.stable_after)) {
    ++ctx.stats.waiting;
    status = kWaiting;
  } else if (std::string refused = dirpoll::refusal(e, o_.allow_hard_links, o_.max_record_bytes, name());
             !refused.empty()) {
    ctx.sink.quarantine_by_reference(rel, refused, e.size);
    ++ctx.stats.quarantined;
    status = kQuarantined;
  } else {
    try {
      status = ingest(file, rel, e, state_dir, ctx);
    } catch (const SourceFileError& why) {
      if (why.kind() == SourceFileError::Kind::changed) {  // renamed or rewritten meanwhile
        log::debug("source " + name() + ": " + why.what());
        ++ctx.stats.waiting;
        status = kWaiting;
      } else {
        dirpoll::note_unreadable(ctx, name(), state_dir, units, e, why);
        status = dirpoll::kUnreadable;
      }
    }
  }
  if (status != std::string_view(dirpoll::kUnreadable)) dirpoll::note_readable(name(), units, e.name, file);
  put(state_dir, e, status, ctx);
  return status != std::string_view(kWaiting) && status != std::string_view(dirpoll::kUnreadable);
}

const char* MmlSource::ingest(const fs::path& file, const std::string& rel, const dirpoll::Entry& e, const std::string&,
                              SourceContext& ctx) {
  bool complete = false;
  std::string prefix = read_prefix(file, e.size, kHeaderPrefix, complete);
  const ParseResult parsed = parse_header(prefix);
  if (!parsed.header) {
    std::string reason = "not an MML instance this source can place: " + parsed.error;
    if (!complete) reason += " (only the first " + std::to_string(kHeaderPrefix) + " bytes are read for the header)";
    return quarantine(file, rel, reason, ctx);
  }
  const Header& h = *parsed.header;
  if (std::string problem = patient_id_problem(h.patient_id); !problem.empty())
    return quarantine(file, rel, "MmlHeader/masterId is not a patient ID: it " + problem, ctx);

  RecordDraft d;
  d.source = name();
  d.patient_id = h.patient_id;
  d.kind = h.module_type.empty() ? "MML" : "MML-" + h.module_type;
  d.path = rel;
  const std::string version = std::to_string(root_) + ":" + rel + "#" + std::to_string(e.mtime_ns);
  d.attributes = {{"uid", h.uid},
                  {"mml_version", h.version},
                  {"create_date", h.create_date},
                  {"encoding", h.encoding.empty() ? "UTF-8 (not declared)" : h.encoding}};
  if (!h.parent_id.empty()) {
    if (h.parent_relation == "oldEdition") d.attributes.emplace_back("supersedes", h.parent_id);
    d.attributes.emplace_back("parent_id", h.parent_id);
    d.attributes.emplace_back("parent_relation", h.parent_relation);
  }
  if (o_.roots.size() > 1) d.attributes.emplace_back("root", std::to_string(root_));
  if (!o_.deletion_purpose.empty() && h.purpose == o_.deletion_purpose) {
    // A tombstone: the document its parentId names (or, without one, its own uid) is deleted.
    d.key = h.parent_id.empty() ? h.uid : h.parent_id;
    d.version = version + "#deleted";
    d.event = Event::remove;
    ctx.sink.record(d);
    ++ctx.stats.ingested;
    return kIngested;
  }
  d.key = h.uid;
  d.version = version;
  d.event = Event::upsert;
  d.parts = {ContentPart{"", file, e.size}};
  if (complete) d.parts[0].bytes = std::make_shared<const std::string>(std::move(prefix));
  ctx.sink.record(d);
  ++ctx.stats.ingested;
  ctx.stats.bytes += e.size;
  return kIngested;
}

}  // namespace

std::unique_ptr<Source> make_mml_source(Options options) { return std::make_unique<MmlSource>(std::move(options)); }

}  // namespace sennen::mml
