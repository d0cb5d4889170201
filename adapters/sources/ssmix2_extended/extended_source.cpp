#include "adapters/sources/ssmix2_extended/extended_source.hpp"

#include <algorithm>

#include "daemon/util/error.hpp"
#include "daemon/util/log.hpp"

namespace sennen::ssmix2 {
namespace fs = std::filesystem;
namespace {

constexpr int kMaxNesting = 4;  // sub-folders inside a content folder, e.g. images/

// What a content folder holds: every regular file below it, names relative to it, sorted (the
// manifest order).
struct Content {
  std::vector<ContentPart> parts;
  dirpoll::Entry total;          // the files' sizes, newest mtime/ctime, most hard links: the content's identity
  std::int64_t activity_ns = 0;  // also the folders' mtimes: a file added or removed just now means it is being written
  std::string problem;           // why it cannot be sent as it is: something in it is never opened
};

// Lists a content folder; throws SourceFileError when a folder in it cannot be read. `mount`: the
// content folder's own (sub-folders on another file system are a problem unless `cross`).
void collect_files(const fs::path& dir, const std::string& prefix, int depth, std::uint64_t mount, bool cross,
                   Content& c) {
  for (const auto& e : dirpoll::list_directory(dir)) {
    std::string rel = prefix.empty() ? e.name : prefix + "/" + e.name;
    if (e.type == dirpoll::Entry::Type::dir && depth < kMaxNesting && (cross || e.mount == mount)) {
      c.activity_ns = std::max(c.activity_ns, e.mtime_ns);
      collect_files(dir / e.name, rel, depth + 1, mount, cross, c);
    } else if (e.type == dirpoll::Entry::Type::file) {
      c.parts.push_back({rel, dir / e.name, e.size});
      c.total.size += e.size;
      c.total.mtime_ns = std::max(c.total.mtime_ns, e.mtime_ns);
      c.total.ctime_ns = std::max(c.total.ctime_ns, e.ctime_ns);
      c.total.links = std::max(c.total.links, e.links);
      c.activity_ns = std::max(c.activity_ns, e.mtime_ns);
    } else if (c.problem.empty()) {
      c.problem = "content folder holds " + rel + ", " +
                  (e.type == dirpoll::Entry::Type::link      ? std::string("a symbolic link")
                   : e.type == dirpoll::Entry::Type::special ? std::string("a device, FIFO or socket")
                   : depth >= kMaxNesting ? "a folder nested more than " + std::to_string(kMaxNesting) + " deep"
                                          : std::string("a folder on another file system")) +
                  "; only regular files are sent, and this is never opened";
    }
  }
}

Content collect(const fs::path& dir, std::uint64_t mount, bool cross) {
  Content c;
  c.total.size = 0;
  c.total.mtime_ns = c.total.ctime_ns = 0;
  collect_files(dir, "", 0, mount, cross, c);
  std::sort(c.parts.begin(), c.parts.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return c;
}

class ExtendedSource final : public TreeSource {
 public:
  using TreeSource::TreeSource;

 protected:
  bool collect_units(const dirpoll::Listing& listing, const std::string& state_dir, const std::vector<UnitState>& known,
                     SourceContext& ctx, std::vector<FoundUnit>& units) override {
    bool settled = true;
    for (const auto& e : listing.entries) {
      if (e.skipped()) continue;  // links, devices, other file systems: the walker's
      FoundUnit u;
      u.entry = e;
      std::string problem;
      if (e.type == dirpoll::Entry::Type::file) {
        problem = "misplaced: a file directly in an extended-storage type folder (content belongs in a content folder)";
      } else {
        // The type folder's own name tells the type field apart from the rest exactly.
        std::string type_folder = listing.rel_dir.substr(listing.rel_dir.rfind('/') + 1);
        auto parsed = parse_extended_name(e.name, type_folder, options().accept.extended_type_field);
        if (!parsed.name) {
          // Named by a form of the type field the profile does not accept: say which setting to change.
          auto any = parse_extended_name(e.name, type_folder, kAllTypeFields);
          std::string outside = any.name ? outside_profile(*any.name, true) : std::string();
          problem =
              outside.empty() ? "not an SS-MIX2 content folder name: " + parsed.error : "not accepted: " + outside;
        } else if (auto placement = check_placement(listing.rel_dir, *parsed.name); !placement.empty())
          problem = "misplaced: " + placement;
        else if (auto outside = outside_profile(*parsed.name, true); !outside.empty())
          problem = "not accepted: " + outside;
        else
          u.name = *parsed.name;
      }
      std::int64_t activity_ns = e.mtime_ns;
      bool by_reference = false;
      if (e.type == dirpoll::Entry::Type::dir) {
        Content c;
        try {
          c = collect(listing.abs_dir / e.name, e.mount, options().cross_filesystems);
        } catch (const SourceFileError& err) {
          const char* status = unreadable(state_dir, known, e, err, ctx);
          ctx.state.put_unit(state_dir, {e.name, 0, e.mtime_ns, e.ctime_ns, status});
          settled = false;
          continue;
        }
        u.parts = std::move(c.parts);
        u.entry = c.total;
        u.entry.name = e.name;
        activity_ns = std::max(activity_ns, c.activity_ns);
        if (!c.problem.empty()) {  // never copied: the copy would open what is never opened
          problem = problem.empty() ? c.problem : problem + "; " + c.problem;
          by_reference = true;
        }
      }
      if (!problem.empty()) {
        settled &= quarantine_entry(listing, u.entry, problem, state_dir, known, ctx, by_reference);
        continue;
      }
      // An empty content folder is still being written.
      dirpoll::Entry activity = u.entry;
      activity.mtime_ns = activity_ns;
      u.stable = !u.parts.empty() && dirpoll::is_stable(activity, ctx.clock.now(), options().stable_after);
      units.push_back(std::move(u));
    }
    return settled;
  }

  Upsert make_upsert(const FoundUnit& unit, const std::string& rel_path, int root_index) override {
    Upsert up;
    RecordDraft d;
    d.source = name();
    d.key = unit.name.key();
    d.patient_id = unit.name.patient_id;
    d.kind = unit.name.kind;
    d.path = rel_path;
    d.event = Event::upsert;
    d.parts = unit.parts;
    d.attributes = {{"date", unit.name.date}, {"specific_key", unit.name.order_no}, {"issued_at", unit.name.timestamp}};
    if (!unit.name.dept.empty()) d.attributes.emplace_back("department", unit.name.dept);
    if (options().roots.size() > 1) d.attributes.emplace_back("root", std::to_string(root_index));
    up.draft = std::move(d);
    return up;
  }

  std::optional<std::vector<ContentPart>> parts_at(const fs::path& abs) const override {
    auto self = dirpoll::entry_at(abs);
    if (!self || self->type != dirpoll::Entry::Type::dir) return std::nullopt;
    try {
      Content c = collect(abs, self->mount, options().cross_filesystems);
      if (!c.problem.empty()) return std::nullopt;
      return std::move(c.parts);
    } catch (const SourceFileError& e) {
      if (e.kind() == SourceFileError::Kind::unreadable) throw;
      return std::nullopt;
    }
  }
};

}  // namespace

std::unique_ptr<Source> make_extended_source(TreeSourceOptions options) {
  return std::make_unique<ExtendedSource>(std::move(options));
}

}  // namespace sennen::ssmix2
