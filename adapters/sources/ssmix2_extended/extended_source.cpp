#include "adapters/sources/ssmix2_extended/extended_source.hpp"

#include <algorithm>

#include "daemon/core/error.hpp"
#include "daemon/util/log.hpp"

namespace sennen::ssmix2 {
namespace fs = std::filesystem;
namespace {

constexpr int kMaxNesting = 4;  // sub-folders inside a content folder, e.g. images/

// Every regular file below a content folder, names relative to it, sorted (the manifest order).
// `total` gets the files' sizes and newest mtime: what identifies the content. `activity_ns` also
// takes the folders' mtimes: a file added or removed just now means the folder is being written.
void collect_files(const fs::path& dir, const std::string& prefix, int depth, std::vector<ContentPart>& parts,
                   dirpoll::Entry& total, std::int64_t& activity_ns, bool& has_other) {
  for (const auto& e : dirpoll::list_directory(dir)) {
    std::string rel = prefix.empty() ? e.name : prefix + "/" + e.name;
    if (e.type == dirpoll::Entry::Type::dir && depth < kMaxNesting) {
      activity_ns = std::max(activity_ns, e.mtime_ns);
      collect_files(dir / e.name, rel, depth + 1, parts, total, activity_ns, has_other);
    } else if (e.type == dirpoll::Entry::Type::file) {
      parts.push_back({rel, dir / e.name, e.size});
      total.size += e.size;
      total.mtime_ns = std::max(total.mtime_ns, e.mtime_ns);
      total.ctime_ns = std::max(total.ctime_ns, e.ctime_ns);
      activity_ns = std::max(activity_ns, e.mtime_ns);
    } else {
      has_other = true;
    }
  }
}

class ExtendedSource final : public TreeSource {
 public:
  using TreeSource::TreeSource;

 protected:
  bool collect_units(const dirpoll::Listing& listing, const std::string& state_dir, const std::vector<UnitState>& known,
                     SourceContext& ctx, std::vector<FoundUnit>& units) override {
    bool settled = true;
    for (const auto& e : listing.entries) {
      if (e.type == dirpoll::Entry::Type::other) {
        ctx.state.put_unit(state_dir, {e.name, 0, e.mtime_ns, e.ctime_ns, kIgnored});
        continue;
      }
      FoundUnit u;
      u.entry = e;
      std::string problem;
      if (e.type == dirpoll::Entry::Type::file) {
        problem = "misplaced: a file directly in an extended-storage type folder (content belongs in a content folder)";
      } else {
        // The type folder's own name tells the type field apart from the rest exactly.
        std::string type_folder = listing.rel_dir.substr(listing.rel_dir.rfind('/') + 1);
        auto parsed = parse_extended_name(e.name, type_folder);
        if (!parsed.name)
          problem = "not an SS-MIX2 content folder name: " + parsed.error;
        else if (auto placement = check_placement(listing.rel_dir, *parsed.name); !placement.empty())
          problem = "misplaced: " + placement;
        else
          u.name = *parsed.name;
      }
      std::int64_t activity_ns = e.mtime_ns;
      if (problem.empty()) {
        dirpoll::Entry total = e;
        total.size = 0;
        total.mtime_ns = total.ctime_ns = 0;
        bool has_other = false;
        try {
          collect_files(listing.abs_dir / e.name, "", 0, u.parts, total, activity_ns, has_other);
        } catch (const Error& err) {
          log::warning("source " + name() + ": " + err.what());
          ctx.state.put_unit(state_dir, {e.name, 0, e.mtime_ns, e.ctime_ns, kWaiting});
          settled = false;
          continue;
        }
        std::sort(u.parts.begin(), u.parts.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
        u.entry = total;
        u.entry.name = e.name;
        if (has_other) problem = "content folder holds a symbolic link or device file; only regular files are sent";
      }
      if (!problem.empty()) {
        settled &= quarantine_entry(listing, u.entry, problem, state_dir, known, ctx);
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
    std::vector<ContentPart> parts;
    dirpoll::Entry total;
    std::int64_t activity_ns = 0;
    bool has_other = false;
    try {
      collect_files(abs, "", 0, parts, total, activity_ns, has_other);
    } catch (const Error&) {
      return std::nullopt;
    }
    std::sort(parts.begin(), parts.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return parts;
  }
};

}  // namespace

std::unique_ptr<Source> make_extended_source(TreeSourceOptions options) {
  return std::make_unique<ExtendedSource>(std::move(options));
}

}  // namespace sennen::ssmix2
