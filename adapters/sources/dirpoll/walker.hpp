#pragma once
// The directory-poll engine shared by the file-tree adapters: walks a root, hands each "unit
// folder" (the depth where an adapter's units live) to a handler, and keeps per-directory state
// so that a poll which finds nothing changed does not list or stat what it already settled: a
// directory whose mtime/ctime are unchanged has the same entries, so only its known
// subdirectories are visited. Units themselves are write-once by convention; in-place rewrites
// are caught by the periodic full scan.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "daemon/core/source.hpp"

namespace sennen::dirpoll {

struct Entry {
  std::string name;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  enum class Type { file, dir, other } type = Type::file;
};

// Lists one directory with lstat data (symlinks and devices come back as Type::other).
// Throws sennen::Error naming the directory when it cannot be read.
std::vector<Entry> list_directory(const std::filesystem::path& dir);

struct Listing {
  std::filesystem::path abs_dir;
  std::string rel_dir;  // relative to the root, '/'-separated; "" for the root
  std::vector<Entry> entries;
};

class UnitHandler {
 public:
  virtual ~UnitHandler() = default;
  // Examines a unit folder whose entries may have changed. `state_dir` is the key under which
  // its units' state is kept. Returns true when every unit in it is settled (nothing waits to
  // become stable), so the next poll may skip it while it stays unchanged.
  virtual bool on_unit_folder(const Listing& listing, const std::string& state_dir, SourceContext& ctx) = 0;
  // A file above the unit depth, where the layout has none. Returns true when settled.
  virtual bool on_stray_file(const std::filesystem::path& file, const std::string& rel_path, const Entry& entry,
                             const std::string& state_dir, SourceContext& ctx) = 0;
};

struct WalkOptions {
  int unit_depth = 5;       // root/a/b/pid/date/TYPE: TYPE folders are at depth 5
  std::string state_root;   // prefix for state keys, unique per root of a source ("0", "1", ...)
};

// Walks the tree below `root`. Throws sennen::Error when the root itself is missing or unreadable.
void walk(const std::filesystem::path& root, const WalkOptions& options, UnitHandler& handler, SourceContext& ctx);

// True when the file's last modification is at least `stable_after` in the past.
bool is_stable(const Entry& e, TimePoint now, std::chrono::seconds stable_after);

}  // namespace sennen::dirpoll
