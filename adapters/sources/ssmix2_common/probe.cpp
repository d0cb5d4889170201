// The SS-MIX2 sources' own doctor checks (adapters/kind.hpp): what the walker never follows in the
// top levels of each root, symbolic links and folders on another file system. sennen-edged skips
// them, so a site that keeps part of its tree behind a link learns here, before any data is
// missed, to list the link's target as another root.
#include <string>
#include <vector>

#include "adapters/sources/dirpoll/walker.hpp"
#include "adapters/sources/ssmix2_common/tree_options.hpp"

namespace sennen::ssmix2 {
namespace {

namespace fs = std::filesystem;

// Below the root, the patient-ID prefix folders (ROOT/123/456): where a site would link or mount
// part of its tree. Deeper levels hold one folder per patient: too many to list here.
constexpr int kLevels = 2;
constexpr std::size_t kShown = 10;

struct Found {
  fs::path path;
  std::string what;
};

void scan(const fs::path& dir, int level, std::uint64_t root_mount, bool cross, std::vector<Found>& out) {
  std::vector<dirpoll::Entry> entries;
  try {
    entries = dirpoll::list_directory(dir);
  } catch (const SourceFileError&) {
    return;  // the access checks and the daemon's own reports say which folders cannot be read
  }
  for (const auto& e : entries) {
    const fs::path p = dir / e.name;
    if (e.type == dirpoll::Entry::Type::link) {
      std::error_code ec;
      const fs::path target = fs::read_symlink(p, ec);
      const fs::path resolved = (target.is_absolute() ? target : dir / target).lexically_normal();
      out.push_back({p, "a symbolic link to " + (ec ? std::string("?") : target.string()) +
                            (fs::is_directory(resolved, ec)
                                 ? "; if its files belong to this source, add " + resolved.string() + " as another root"
                                 : "")});
    } else if (e.type == dirpoll::Entry::Type::dir && e.mount != root_mount && !cross) {
      out.push_back({p,
                     "a folder on another file system (a mount point); set cross_filesystems: true on the "
                     "source if it belongs to the tree"});
    } else if (e.type == dirpoll::Entry::Type::dir && level < kLevels) {
      scan(p, level + 1, root_mount, cross, out);
    }
  }
}

}  // namespace

void probe_tree(const config::Source& s, const config::Config&, adapters::Findings& out) {
  using Level = adapters::Finding::Level;
  const auto& o = s.options_as<TreeOptions>();
  for (const auto& root : o.roots) {
    std::optional<dirpoll::Entry> self;
    try {
      self = dirpoll::entry_at(root / ".");
    } catch (const SourceFileError&) {
    }
    if (!self) continue;  // the root's own access check reports it
    std::vector<Found> found;
    scan(root, 1, self->mount, o.cross_filesystems, found);
    const std::string name = "source " + s.name + " links";
    if (found.empty()) {
      out.push_back({Level::pass, name,
                     "no symbolic link or other file system in the top " + std::to_string(kLevels) +
                         " folder levels of " + root.string()});
      continue;
    }
    std::string list;
    for (std::size_t i = 0; i < found.size() && i < kShown; ++i)
      list += "\n    " + found[i].path.string() + ": " + found[i].what;
    if (found.size() > kShown) list += "\n    ... and " + std::to_string(found.size() - kShown) + " more";
    out.push_back({Level::warn, name,
                   std::to_string(found.size()) + " entr" + (found.size() == 1 ? "y" : "ies") + " below " +
                       root.string() + " that sennen-edged never follows (what is behind them is not read):" + list});
  }
}

}  // namespace sennen::ssmix2
