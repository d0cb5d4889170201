#include "adapters/sources/ssmix2_common/tree_source.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "daemon/util/error.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/name_text.hpp"

namespace sennen::ssmix2 {
namespace fs = std::filesystem;
namespace {

struct PrevUnit {
  UnitState state;
  char flag = 0;
};

std::string stem_of(const std::string& unit_name) {
  auto pos = unit_name.rfind('_');
  return pos == std::string::npos ? unit_name : unit_name.substr(0, pos);
}
char flag_of(const std::string& unit_name) { return unit_name.empty() ? 0 : unit_name.back(); }

bool same_content(const UnitState& s, const dirpoll::Entry& e) { return s.size == e.size && s.mtime_ns == e.mtime_ns; }

// A unit folder's state key below its root's ("<root>/000/001/..."), and where the units that
// left it are kept.
std::string below_root(const std::string& state_dir) { return state_dir.substr(state_dir.find('/') + 1); }
std::string gone_dir(const std::string& state_dir) { return std::string(kGone) + "/" + below_root(state_dir); }

}  // namespace

TreeSource::TreeSource(TreeSourceOptions options) : options_(std::move(options)) {}

std::string TreeSource::rel_join(const std::string& dir, const std::string& name) const {
  return dir.empty() ? name : dir + "/" + name;
}

const UnitState* TreeSource::find_unit(const std::vector<UnitState>& known, const std::string& name) {
  for (const auto& u : known)
    if (u.name == name) return &u;
  return nullptr;
}

void TreeSource::poll(SourceContext& ctx) {
  begin_poll(ctx);
  walk_roots(ctx);
  end_poll(ctx);
}

void TreeSource::begin_poll(SourceContext& ctx) {
  ctx.stats = SourceStats{};
  for (auto& [d, n] : deviations_) n.last_poll = 0;
}

void TreeSource::walk_roots(SourceContext& ctx) {
  for (std::size_t i = 0; i < options_.roots.size() && !ctx.stop_requested; ++i) {
    current_root_ = static_cast<int>(i);
    dirpoll::walk(options_.roots[i],
                  {5, std::to_string(i), name(), options_.cross_filesystems, options_.roots.size() == 1}, *this, ctx);
  }
}

void TreeSource::end_poll(SourceContext& ctx) {
  // Units are kept under "<root>/..." keys; other keys (kGone's, an adapter's own checkpoints)
  // are not files of the tree.
  ctx.stats.files_seen = ctx.state.unit_count() - ctx.state.units_with_status(kGone) - own_units(ctx);
  ctx.stats.skipped = ctx.state.units_with_status(dirpoll::kSkipped);
  if (!deviations_.empty()) ctx.stats.events[kEncodingEvent] = deviations_;
}

std::optional<TreeSource::Examined> TreeSource::examine_folder(const std::string& unit_dir, SourceContext& ctx) {
  std::optional<Examined> out;
  for (std::size_t i = 0; i < options_.roots.size() && !ctx.stop_requested; ++i) {
    const fs::path abs = options_.roots[i] / unit_dir;
    auto self = dirpoll::entry_at(abs);
    if (!self || self->type != dirpoll::Entry::Type::dir) continue;
    current_root_ = static_cast<int>(i);
    dirpoll::Listing listing{abs, unit_dir, dirpoll::list_directory(abs)};
    if (!out) out.emplace();
    out->settled &= on_unit_folder(listing, std::to_string(i) + "/" + unit_dir, ctx);
    for (const auto& e : listing.entries) out->names.push_back(e.name);
    ctx.sink.checkpoint();
  }
  return out;
}

std::string TreeSource::refusal(const dirpoll::Entry& e) const {
  return dirpoll::refusal(e, options_.allow_hard_links, options_.max_record_bytes, name());
}

std::string TreeSource::outside_profile(const Name& n, bool extended) const {
  auto list = [](const std::vector<int>& v) {
    std::string out;
    for (int i : v) out += (out.empty() ? "" : ", ") + std::to_string(i);
    return out;
  };
  const std::string profile = "the " + options_.vendor + " vendor profile of source " + name();
  if (!options_.accept.accepts_timestamp(n.timestamp.size()))
    return "its timestamp has " + std::to_string(n.timestamp.size()) + " digits; " + profile + " accepts " +
           list(options_.accept.timestamp_digits) +
           " (if this writer is genuine, add the width to timestamp_digits in the source's profile: key)";
  const int fields = n.dept.empty() ? 6 : 7;
  if (extended && !options_.accept.accepts_field_count(fields))
    return "its content folder name has " + std::to_string(fields) + " fields; " + profile + " accepts " +
           list(options_.accept.extended_field_counts) +
           " (if this writer is genuine, add the count to extended_field_counts in the source's profile: key)";
  if (extended && !options_.accept.accepts_type_field(n.type_field)) {
    std::string forms;
    for (TypeField f : options_.accept.extended_type_field)
      forms += (forms.empty() ? "" : ", ") + std::string(type_field_name(f));
    return std::string("the content folder names the type by its ") +
           (n.type_field == TypeField::local_code ? "local code " : "standard code ") +
           util::display_name(n.type_text) + " (type folder " + util::display_name(n.kind) + "); " + profile +
           " accepts " + forms + " (add " + std::string(type_field_name(n.type_field)) +
           " to extended_type_field in the source's profile: key if that is how this EMR writes it)";
  }
  return "";
}

const char* TreeSource::quarantine_when_stable(const fs::path& abs, const std::string& rel_path,
                                               const dirpoll::Entry& e, const std::string& reason,
                                               const UnitState* prev, SourceContext& ctx, bool by_reference) {
  if (prev && prev->status == kQuarantined && same_content(*prev, e)) return kQuarantined;
  if (!dirpoll::is_stable(e, ctx.clock.now(), options_.stable_after)) {
    ++ctx.stats.waiting;
    return kWaiting;
  }
  const std::string refused = refusal(e);
  if (by_reference || !refused.empty())
    ctx.sink.quarantine_by_reference(rel_path, refused.empty() ? reason : reason + "; it also " + refused, e.size);
  else
    ctx.sink.quarantine(abs, rel_path, reason);
  ++ctx.stats.quarantined;
  return kQuarantined;
}

bool TreeSource::quarantine_entry(const dirpoll::Listing& listing, const dirpoll::Entry& e, const std::string& reason,
                                  const std::string& state_dir, const std::vector<UnitState>& known, SourceContext& ctx,
                                  bool by_reference) {
  const char* status = quarantine_when_stable(listing.abs_dir / e.name, rel_join(listing.rel_dir, e.name), e, reason,
                                              find_unit(known, e.name), ctx, by_reference);
  ctx.state.put_unit(state_dir, {e.name, e.size, e.mtime_ns, e.ctime_ns, status});
  return status != std::string_view(kWaiting);
}

const char* TreeSource::unreadable(const std::string& state_dir, const std::vector<UnitState>& known,
                                   const dirpoll::Entry& e, const SourceFileError& why, SourceContext& ctx) const {
  if (why.kind() == SourceFileError::Kind::changed) {  // renamed or rewritten meanwhile: as if not yet stable
    log::debug("source " + name() + ": " + why.what());
    ++ctx.stats.waiting;
    return kWaiting;
  }
  dirpoll::note_unreadable(ctx, name(), state_dir, known, e, why);
  return kUnreadable;
}

bool TreeSource::on_stray_file(const fs::path& file, const std::string& rel_path, const dirpoll::Entry& entry,
                               const std::string& state_dir, SourceContext& ctx) {
  auto known = ctx.state.units(state_dir);
  const UnitState* prev = find_unit(known, entry.name);
  const char* status = quarantine_when_stable(
      file, rel_path, entry,
      "file is not where SS-MIX2 stores files (expected ROOT/PID[0:3]/PID[3:6]/PID/DATE/TYPE/FILE); "
      "check the export settings of the EMR",
      prev, ctx);
  ctx.state.put_unit(state_dir, {entry.name, entry.size, entry.mtime_ns, entry.ctime_ns, status});
  return status != std::string_view(kWaiting);
}

bool TreeSource::on_unit_folder(const dirpoll::Listing& listing, const std::string& state_dir, SourceContext& ctx) {
  const auto known = ctx.state.units(state_dir);
  std::map<std::string, PrevUnit> prev_by_stem;
  std::map<std::string, UnitState> prev_by_name;
  for (const auto& u : known) {
    prev_by_name.emplace(u.name, u);
    prev_by_stem[stem_of(u.name)] = {u, flag_of(u.name)};
  }

  std::vector<FoundUnit> units;
  bool settled = collect_units(listing, state_dir, known, ctx, units);
  std::set<std::string> present;  // unit names kept in this folder's state
  for (const auto& e : listing.entries) present.insert(e.name);

  // Keys whose last version flips from current to cancelled in this listing become deletes.
  std::map<std::string, std::vector<const FoundUnit*>> by_key;
  for (const auto& u : units) by_key[u.name.key()].push_back(&u);

  // A folder is read whole, even once a stop is asked for (SIGTERM, or the spool at its cap: the
  // walker stops before the next folder). Its versions are renamed together (1 -> 0 on a cancel),
  // and the delete they add up to is found only by comparing the whole listing with the state
  // before it: a stop half way committed the renames read so far without the delete, and the next
  // poll no longer saw a current version go. A standardized-storage folder holds one patient's
  // messages of one data type on one day.
  for (const auto& u : units) {
    const std::string stem = u.name.stem();
    const std::string rel = rel_join(listing.rel_dir, u.entry.name);
    auto prev = prev_by_stem.find(stem);
    const PrevUnit* p = prev == prev_by_stem.end() ? nullptr : &prev->second;
    std::string status;
    std::string version = std::to_string(current_root_) + ":" + stem;

    bool known_content =
        p && p->state.status != kWaiting && p->state.status != kUnreadable && same_content(p->state, u.entry);
    const char* moved = !p && options_.roots.size() > 1 ? moved_in(state_dir, rel, u.entry, ctx) : nullptr;
    // Read before, and its content changed since: the new content is a version of its own.
    const bool rewritten = p && p->state.status == kIngested && !known_content;
    if (known_content && p->state.status != kQuarantined) {
      status = p->state.status;  // the same version, perhaps renamed: nothing to send again
    } else if (known_content) {
      status = kQuarantined;
    } else if (moved) {
      status = moved;  // from another volume of this source: the same version, not sent again
    } else {
      if (rewritten) version += "#" + std::to_string(u.entry.mtime_ns);
      if (u.name.flag == Flag::superseded) {
        status = kHistory;
      } else if (u.name.flag == Flag::deleted) {
        status = kCancel;
      } else if (!u.stable) {
        status = kWaiting;
        ++ctx.stats.waiting;
      } else if (std::string refused = refusal(u.entry); !refused.empty()) {  // never opened
        ctx.sink.quarantine_by_reference(rel, refused, u.entry.size);
        ++ctx.stats.quarantined;
        status = kQuarantined;
      } else {
        Upsert up = make_upsert(u, rel, current_root_);
        if (up.file_error) {
          status = unreadable(state_dir, known, u.entry, *up.file_error, ctx);
        } else if (!up.draft) {
          status = quarantine_when_stable(listing.abs_dir / u.entry.name, rel, u.entry, up.quarantine_reason,
                                          p ? &p->state : nullptr, ctx);
        } else {
          up.draft->version = version;
          try {  // a failure of the spool itself is not the file's: it ends the poll
            if (!up.visit_date.empty()) ctx.sink.visit(up.draft->patient_id, up.draft->key, up.visit_date);
            ctx.sink.record(*up.draft);
            for (std::string_view d : up.deviations)
              if (std::find(options_.accept.encodings_tolerated.begin(), options_.accept.encodings_tolerated.end(),
                            d) == options_.accept.encodings_tolerated.end()) {
                auto& n = deviations_[std::string(d)];
                ++n.total;
                ++n.last_poll;
              }
            status = kIngested;
            ++ctx.stats.ingested;
            on_ingested(rel);
            ctx.stats.bytes += u.entry.size;
          } catch (const SourceFileError& e) {
            status = unreadable(state_dir, known, u.entry, e, ctx);
          }
        }
      }
    }
    if (status == kWaiting || status == kUnreadable) settled = false;
    if (status != kUnreadable) dirpoll::note_readable(name(), known, u.entry.name, listing.abs_dir / u.entry.name);
    if (p && p->state.name != u.entry.name && !present.count(p->state.name))
      ctx.state.erase_unit(state_dir, p->state.name);
    if (rewritten && status == kIngested)
      log::warning("source " + name() + ": " + util::display_name(rel) +
                   " was rewritten in place after it was read; its new content is taken as a new version");
    if (rewritten && (status == kWaiting || status == kUnreadable)) {
      // Not taken yet: the unit keeps the state of what was read, so the next poll still sees it
      // rewritten (a waiting state there would give the new content the old version's name, and
      // the spool would take it for the version it already holds).
      ctx.state.put_unit(state_dir, {u.entry.name, p->state.size, p->state.mtime_ns, p->state.ctime_ns, kIngested});
      continue;
    }
    ctx.state.put_unit(state_dir, {u.entry.name, u.entry.size, u.entry.mtime_ns, u.entry.ctime_ns, status});
  }

  for (const auto& [key, group] : by_key) {
    bool was_live = false, now_live = false;
    const FoundUnit* newest_cancel = nullptr;
    for (const auto* u : group) {
      auto prev = prev_by_stem.find(u->name.stem());
      if (prev != prev_by_stem.end() && prev->second.flag == '1' && prev->second.state.status == kIngested)
        was_live = true;
      if (u->name.flag == Flag::current) now_live = true;
      if (u->name.flag == Flag::deleted && (!newest_cancel || u->name.stem() > newest_cancel->name.stem()))
        newest_cancel = u;
    }
    if (!was_live || now_live || !newest_cancel) continue;
    RecordDraft del;
    del.source = name();
    del.key = key;
    del.version = std::to_string(current_root_) + ":" + key + "#deleted#" + newest_cancel->name.stem();
    del.patient_id = newest_cancel->name.patient_id;
    del.kind = newest_cancel->name.kind;
    del.path = rel_join(listing.rel_dir, newest_cancel->entry.name);
    del.event = Event::remove;
    ctx.sink.record(del);
  }

  for (const auto& [n, u] : prev_by_name)
    if (!present.count(n)) {
      keep_gone(state_dir, u, ctx);
      ctx.state.erase_unit(state_dir, n);
    }
  return settled;
}

void TreeSource::keep_gone(const std::string& state_dir, const UnitState& u, SourceContext& ctx) const {
  if (options_.roots.size() > 1 && u.status == kIngested)
    ctx.state.put_unit(gone_dir(state_dir), {u.name, u.size, u.mtime_ns, u.ctime_ns, kGone});
}

void TreeSource::on_vanished_folder(const std::string& key, SourceContext& ctx) {
  if (options_.roots.size() < 2) return;
  for (const auto& u : ctx.state.units(key)) keep_gone(key, u, ctx);
  for (const auto& child : ctx.state.child_dirs(key)) on_vanished_folder(child.path, ctx);
}

const char* TreeSource::moved_in(const std::string& state_dir, const std::string& rel, const dirpoll::Entry& e,
                                 SourceContext& ctx) const {
  // The name holds patient, date, type, key, timestamp and flag; with the size it identifies the
  // version (a move to another file system need not keep the modification time).
  auto same = [&](const UnitState& u) { return u.name == e.name && u.size == e.size; };
  for (std::size_t j = 0; j < options_.roots.size(); ++j) {
    if (static_cast<int>(j) == current_root_) continue;
    for (const auto& u : ctx.state.units(std::to_string(j) + "/" + below_root(state_dir)))
      if (same(u) && (u.status == kIngested || u.status == kHistory || u.status == kCancel)) {
        log::info("source " + name() + ": " + util::display_name(rel) + " is also in root " +
                  options_.roots[j].string() + ": the same record, not sent again");
        return u.status == kIngested ? kIngested : (u.status == kHistory ? kHistory : kCancel);
      }
  }
  for (const auto& u : ctx.state.units(gone_dir(state_dir)))
    if (same(u)) {
      ctx.state.erase_unit(gone_dir(state_dir), u.name);
      log::info("source " + name() + ": " + util::display_name(rel) +
                " moved here from another root: the same record, not sent again");
      return kIngested;
    }
  return nullptr;
}

std::optional<std::vector<ContentPart>> TreeSource::locate(std::string_view path, std::string_view version) const {
  auto colon = version.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::size_t root = std::stoul(std::string(version.substr(0, colon)));
  if (root >= options_.roots.size()) return std::nullopt;
  // "<root>:<stem>", plus "#<mtime ns>" for a file rewritten in place. Names are bytes and a stem
  // may hold '#' itself: the whole stem is tried first, then without a trailing "#<digits>".
  const std::string_view full = version.substr(colon + 1);
  std::vector<std::string_view> stems{full};
  const auto hash = full.rfind('#');
  if (hash != std::string_view::npos && hash + 1 < full.size() &&
      full.find_first_not_of("0123456789", hash + 1) == std::string_view::npos)
    stems.push_back(full.substr(0, hash));
  fs::path dir = options_.roots[root] / fs::path(std::string(path)).parent_path();
  for (std::string_view stem : stems)
    for (char flag : {'1', '2', '0'}) {
      fs::path candidate = dir / (std::string(stem) + "_" + flag);
      if (dirpoll::entry_at(candidate)) return parts_at(candidate);
    }
  return std::nullopt;
}

}  // namespace sennen::ssmix2
