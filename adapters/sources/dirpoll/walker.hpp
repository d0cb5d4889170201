#pragma once
// The directory-poll engine shared by the file-tree adapters: walks a root, hands each "unit
// folder" (the depth where an adapter's units live) to a handler, and keeps per-directory state
// so that a poll which finds nothing changed does not list or stat what it already settled: a
// directory whose mtime/ctime are unchanged has the same entries, so only its known
// subdirectories are visited. Units themselves are write-once by convention; in-place rewrites
// are caught by the periodic full scan.
//
// Nothing below the root leads the walk out of it: symbolic links, devices, FIFOs and sockets are
// never opened, folders on another file system (mount points) are not descended into unless the
// source allows it, and a folder that is one of its own ancestors (a bind-mount loop) never is.
// Such entries are reported once and kept as "skipped" in the polling state. A folder that
// cannot be read below the root is reported (once, and again when it recovers) and tried again
// every poll, while the rest of the tree flows.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/source.hpp"

namespace sennen::dirpoll {

// Unit states the walker keeps for entries of a folder, beside the adapter's own.
inline constexpr const char* kUnreadable = "unreadable";  // cannot be read now: tried again every poll
inline constexpr const char* kSkipped = "skipped";        // never opened (see above)

struct Entry {
  std::string name;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  enum class Type { file, dir, link, special } type = Type::file;  // special: device, FIFO, socket
  std::uint64_t links = 1;                                         // hard links to it
  std::uint64_t dev = 0, ino = 0;                                  // its identity
  std::uint64_t mount = 0;  // the mount it is on (mount id; the device number where unknown)
  // Set by the walker for a folder it does not descend into (another file system, a loop).
  std::string foreign;
  bool skipped() const { return type == Type::link || type == Type::special || !foreign.empty(); }
};

// The entry at `path` (no link followed); nullopt when there is none. Throws SourceFileError
// (unreadable) when it cannot be looked up now.
std::optional<Entry> entry_at(const std::filesystem::path& path);

// Lists one directory without following links. Throws SourceFileError naming the directory:
// unreadable (saying what to grant) or changed (it vanished meanwhile).
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
  // become stable or readable), so the next poll may skip it while it stays unchanged. Entries
  // with skipped() are the walker's: it has reported them and keeps their state.
  virtual bool on_unit_folder(const Listing& listing, const std::string& state_dir, SourceContext& ctx) = 0;
  // A folder known from an earlier poll (state key `key`) is gone, with everything below it; its
  // state is erased after this returns.
  virtual void on_vanished_folder(const std::string& key, SourceContext& ctx) {
    (void)key;
    (void)ctx;
  }
  // A file above the unit depth, where the layout has none. Returns true when settled.
  virtual bool on_stray_file(const std::filesystem::path& file, const std::string& rel_path, const Entry& entry,
                             const std::string& state_dir, SourceContext& ctx) = 0;
};

struct WalkOptions {
  int unit_depth = 5;              // root/a/b/pid/date/TYPE: TYPE folders are at depth 5
  std::string state_root;          // prefix for state keys, unique per root of a source ("0", "1", ...)
  std::string source;              // the source's name, for log lines
  bool cross_filesystems = false;  // descend into folders on other file systems (never into loops)
  // The root found empty while folders were known below it fails the walk (a share not mounted
  // shows its empty mount point) instead of forgetting them. Not for a source of several roots:
  // there a volume emptied by a migration to another is expected, and its state tells the move.
  bool empty_root_fails = false;
};

// Walks the tree below `root`. Throws sennen::Error when the root itself is missing or unreadable.
void walk(const std::filesystem::path& root, const WalkOptions& options, UnitHandler& handler, SourceContext& ctx);

// Why a stable file of source `source` must not be read at all, or "": more than one hard link
// (unless allowed: a hard link can make any file of this machine appear in the tree), or larger
// than max_record_bytes. Such a file is quarantined by reference.
std::string refusal(const Entry& e, bool allow_hard_links, std::uint64_t max_record_bytes, const std::string& source);

// True when the file's last modification is at least `stable_after` in the past.
bool is_stable(const Entry& e, TimePoint now, std::chrono::seconds stable_after);

// Reports an entry of the folder `dir_key` that cannot be read now: logged when it first fails,
// counted in ctx.stats every time, kept as kUnreadable. `known`: the folder's unit states.
void note_unreadable(SourceContext& ctx, const std::string& source, const std::string& dir_key,
                     const std::vector<UnitState>& known, const Entry& e, const SourceFileError& why);
// Logs that an entry which could not be read before is readable again, if it was.
void note_readable(const std::string& source, const std::vector<UnitState>& known, const std::string& name,
                   const std::filesystem::path& abs);

}  // namespace sennen::dirpoll
