#include "adapters/sources/dirpoll/walker.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <set>

#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"

namespace sennen::dirpoll {
namespace fs = std::filesystem;
namespace {

std::int64_t ns(const struct statx_timestamp& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

Entry entry_from_statx(std::string name, const struct statx& st) {
  Entry e;
  e.name = std::move(name);
  e.size = st.stx_size;
  e.mtime_ns = ns(st.stx_mtime);
  e.ctime_ns = ns(st.stx_ctime);
  e.type = S_ISREG(st.stx_mode)   ? Entry::Type::file
           : S_ISDIR(st.stx_mode) ? Entry::Type::dir
           : S_ISLNK(st.stx_mode) ? Entry::Type::link
                                  : Entry::Type::special;
  e.links = st.stx_nlink;
  e.dev = makedev(st.stx_dev_major, st.stx_dev_minor);
  e.ino = st.stx_ino;
  e.mount = (st.stx_mask & STATX_MNT_ID) ? st.stx_mnt_id : e.dev;
  return e;
}

// statx of `name` in `dirfd` (or of a path with AT_FDCWD); no link followed, no automount
// triggered. Returns 0 or the errno.
int stat_entry(int dirfd, const char* name, int flags, Entry& out) {
  struct statx st {};
  if (::statx(dirfd, name, flags | AT_NO_AUTOMOUNT, STATX_BASIC_STATS | STATX_MNT_ID, &st) != 0) return errno;
  out = entry_from_statx(fs::path(name).filename().string(), st);
  return 0;
}

SourceFileError folder_error(const fs::path& dir, int err, const std::string& detail = "") {
  return SourceFileError::from_errno(
      err, dir,
      "cannot read folder " + dir.string() + ": " + util::errno_text(err) + detail +
          (err == EACCES || err == EPERM
               ? "; grant the service user sennen-edge read and execute permission on it (e.g. setfacl -m "
                 "u:sennen-edge:rx on the folder, or a group in the unit's SupplementaryGroups=)"
               : ""));
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

const UnitState* find(const std::vector<UnitState>& known, const std::string& name) {
  for (const auto& u : known)
    if (u.name == name) return &u;
  return nullptr;
}

std::string describe_skipped(const Entry& e, const fs::path& abs) {
  if (e.type == Entry::Type::special) return "a device, FIFO or socket, which is never read";
  if (!e.foreign.empty()) return e.foreign;
  std::error_code ec;
  fs::path target = fs::read_symlink(abs, ec);
  if (ec) return "a symbolic link, which is never followed";
  fs::path resolved = (target.is_absolute() ? target : abs.parent_path() / target).lexically_normal();
  Entry t;
  if (stat_entry(AT_FDCWD, resolved.c_str(), 0, t) == 0 && t.type == Entry::Type::dir)
    return "a symbolic link to the folder " + target.string() +
           ", which is never followed; if the files there belong to this source, add " + resolved.string() +
           " as another root of the source (sources[].root takes a list)";
  return "a symbolic link (to " + target.string() + "), which is never followed";
}

// True when `dir` can be listed and holds nothing.
bool is_empty_dir(const fs::path& dir) {
  std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
  if (!d) return false;
  while (struct dirent* de = ::readdir(d.get())) {
    const std::string_view name = de->d_name;
    if (name != "." && name != "..") return false;
  }
  return true;
}

class Walker {
 public:
  Walker(const WalkOptions& o, UnitHandler& h, SourceContext& c, std::uint64_t root_mount)
      : opt_(o), handler_(h), ctx_(c), root_mount_(root_mount) {}

  // Returns false when the folder could not be read: the caller keeps its own folder unsettled, so
  // the next poll lists it and tries this one again.
  bool visit(const fs::path& abs, const std::string& rel, const std::string& key, const std::string& parent_key,
             int depth, const Entry& self, const DirState* known) {
    if (ctx_.stop_requested) return true;
    DirState now{key, self.mtime_ns, self.ctime_ns, false, false, 0};
    bool unchanged = known && known->mtime_ns == now.mtime_ns && known->ctime_ns == now.ctime_ns && known->settled &&
                     !ctx_.full_scan;
    if (depth == opt_.unit_depth && unchanged) return true;
    path_.emplace_back(self.dev, self.ino);
    struct Pop {
      std::vector<std::pair<std::uint64_t, std::uint64_t>>& path;
      ~Pop() { path.pop_back(); }
    } pop{path_};

    if (depth == opt_.unit_depth) {
      Listing listing{abs, rel, {}};
      if (!list(abs, parent_key, self, listing.entries)) return false;
      note_skipped(key, listing.entries, abs, nullptr);
      now.settled = handler_.on_unit_folder(listing, key, ctx_) &&
                    std::none_of(listing.entries.begin(), listing.entries.end(),
                                 [](const Entry& e) { return !e.foreign.empty(); }) &&
                    !changed_just_now(self);
      now.listed_at = std::chrono::duration_cast<std::chrono::seconds>(ctx_.clock.now().time_since_epoch()).count();
      if (ctx_.stop_requested) return true;  // the handler may have stopped half way: list again next time
      ctx_.state.put_dir(parent_key, now);
      ctx_.sink.checkpoint();
      return true;
    }

    auto known_children = ctx_.state.child_dirs(key);
    std::map<std::string, DirState> by_key;
    for (auto& c : known_children) by_key.emplace(c.path, std::move(c));
    // The root empty while folders were known below it: most likely the export share is not
    // mounted and its empty mount point shows. Forgetting them would take the whole tree in again
    // once it is back, and miss what was cancelled meanwhile: the poll fails instead.
    if (depth == 0 && opt_.empty_root_fails && !by_key.empty() && is_empty_dir(abs))
      throw Error("source root " + abs.string() + " is empty, but " + std::to_string(by_key.size()) +
                  " folder(s) were known below it at the last poll: the export share may not be mounted (mount "
                  "it; nothing is forgotten meanwhile). If the tree was emptied on purpose, take the source out "
                  "of the configuration");

    if (unchanged) return visit_known(abs, rel, key, parent_key, depth, self, *known, by_key);

    std::vector<Entry> entries;
    if (!list(abs, parent_key, self, entries)) return false;
    const auto units = ctx_.state.units(key);
    note_skipped(key, entries, abs, &units);
    bool settled = true;
    std::set<std::string> present, names;
    for (const auto& e : entries) {
      if (ctx_.stop_requested) return true;
      names.insert(e.name);
      // A folder mounted over keeps what was known of it, for when it is unmounted; and its
      // parent is listed every poll, so an unmount or cross_filesystems being set takes effect.
      if (e.type == Entry::Type::dir) present.insert(join(key, e.name));
      if (!e.foreign.empty()) settled = false;
      if (e.skipped()) continue;
      if (e.type == Entry::Type::dir) {
        std::string child_key = join(key, e.name);
        auto it = by_key.find(child_key);
        if (!visit(abs / e.name, join(rel, e.name), child_key, key, depth + 1, e,
                   it == by_key.end() ? nullptr : &it->second)) {
          settled = false;
          continue;
        }
        note_readable(opt_.source, units, e.name, abs / e.name);
        if (find(units, e.name)) ctx_.state.erase_unit(key, e.name);
      } else {
        settled &= handler_.on_stray_file(abs / e.name, join(rel, e.name), e, key, ctx_);
      }
    }
    for (const auto& [child_key, child] : by_key)
      if (!present.count(child_key)) vanished(child_key);
    for (const auto& u : units)
      if (!names.count(u.name)) ctx_.state.erase_unit(key, u.name);
    if (ctx_.stop_requested) return true;
    now.settled = settled && !changed_just_now(self);
    now.has_subdirs = !present.empty();
    now.listed_at = std::chrono::duration_cast<std::chrono::seconds>(ctx_.clock.now().time_since_epoch()).count();
    ctx_.state.put_dir(parent_key, now);
    ctx_.sink.checkpoint();
    return true;
  }

 private:
  // True when folder `self` changed so shortly before it was listed that a change right after the
  // listing could fall in the same timestamp tick (FAT keeps 2 s; a share's server has its own
  // granularity) and leave its mtime and ctime as recorded: such a folder is listed again next
  // poll, or a file renamed into it meanwhile would wait for the next full scan. A folder dated
  // ahead of this machine's clock counts as just changed too.
  bool changed_just_now(const Entry& self) const {
    constexpr auto kSameTick = std::chrono::seconds(3);
    const auto changed = std::chrono::nanoseconds(std::max(self.mtime_ns, self.ctime_ns));
    return ctx_.clock.now().time_since_epoch() - changed < kSameTick;
  }

  // Same entries as when listed: only the known subdirectories are visited.
  bool visit_known(const fs::path& abs, const std::string& rel, const std::string& key, const std::string& parent_key,
                   int depth, const Entry& self, const DirState& known, const std::map<std::string, DirState>& by_key) {
    bool settled = true;
    for (const auto& [child_key, child] : by_key) {
      std::string name = child_key.substr(key.size() + 1);
      Entry e;
      int err = stat_entry(AT_FDCWD, (abs / name).c_str(), AT_SYMLINK_NOFOLLOW, e);
      if (err == ENOENT || err == ENOTDIR || (err == 0 && e.type != Entry::Type::dir)) {
        vanished(child_key);
        continue;
      }
      if (err != 0) {  // this folder can no longer be searched (its execute permission went)
        const auto why = folder_error(abs, err, " (its entries cannot be looked up)");
        if (path_.size() == 1) throw why;  // the root: the source as a whole cannot be read
        note_unreadable(ctx_, opt_.source, parent_key, ctx_.state.units(parent_key), self, why);
        return false;
      }
      e.name = name;
      mark_foreign(e, abs / name);
      if (!e.foreign.empty()) {  // mounted over since it was listed
        note_skipped(key, {e}, abs, nullptr);
        settled = false;
        continue;
      }
      if (!visit(abs / name, join(rel, name), child_key, key, depth + 1, e, &child)) settled = false;
      if (ctx_.stop_requested) return true;
    }
    if (!settled) {  // listed again next poll, which notices when the failing folder recovers
      DirState again = known;
      again.settled = false;
      ctx_.state.put_dir(parent_key, again);
    }
    return true;
  }

  // A folder known below is gone: the handler sees its state first, then it is forgotten.
  void vanished(const std::string& key) {
    handler_.on_vanished_folder(key, ctx_);
    ctx_.state.erase_dir_tree(key);
  }

  // Lists `abs` into `out`, or reports it (under its parent's key) and returns false. The root
  // failing is the source's failure: thrown.
  bool list(const fs::path& abs, const std::string& parent_key, const Entry& self, std::vector<Entry>& out) {
    try {
      out = list_directory(abs);
    } catch (const SourceFileError& e) {
      if (path_.size() == 1) throw;
      if (e.kind() == SourceFileError::Kind::unreadable)
        note_unreadable(ctx_, opt_.source, parent_key, ctx_.state.units(parent_key), self, e);
      return false;  // vanished: its parent, listed again next poll, no longer has it
    }
    for (auto& e : out)
      if (e.type == Entry::Type::dir) mark_foreign(e, abs / e.name);
    return true;
  }

  void mark_foreign(Entry& e, const fs::path& abs) const {
    for (std::size_t i = 0; i < path_.size(); ++i)
      if (path_[i] == std::pair(e.dev, e.ino)) {
        fs::path same = abs;
        for (std::size_t up = i; up < path_.size(); ++up) same = same.parent_path();
        e.foreign = "the same folder as " + same.string() +
                    " above it (a bind mount or similar loop), which is not descended into";
        return;
      }
    if (e.mount != root_mount_ && !opt_.cross_filesystems)
      e.foreign =
          "a folder on another file system (a mount point), which is not descended into; if it belongs to "
          "this source, set cross_filesystems: true on the source, or add it as another root";
  }

  // Entries never opened: reported when first seen, and a link again when it was made anew
  // (perhaps pointing elsewhere); kept as kSkipped. Not by ctime: chown or an ACL change on the
  // tree would repeat every report.
  void note_skipped(const std::string& key, const std::vector<Entry>& entries, const fs::path& abs,
                    const std::vector<UnitState>* units) {
    std::vector<UnitState> fetched;
    for (const auto& e : entries) {
      if (!e.skipped()) continue;
      if (!units) units = &(fetched = ctx_.state.units(key));
      const UnitState* prev = find(*units, e.name);
      if (!prev || prev->status != kSkipped || (e.type == Entry::Type::link && prev->mtime_ns != e.mtime_ns))
        log::warning("source " + opt_.source + ": skipping " + (abs / e.name).string() + ": " +
                     describe_skipped(e, abs / e.name));
      ctx_.state.put_unit(key, {e.name, 0, e.mtime_ns, e.ctime_ns, kSkipped});
    }
  }

  const WalkOptions& opt_;
  UnitHandler& handler_;
  SourceContext& ctx_;
  std::uint64_t root_mount_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> path_;  // (dev, ino) from the root to here
};

}  // namespace

std::optional<Entry> entry_at(const fs::path& path) {
  Entry e;
  int err = stat_entry(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, e);
  if (err == ENOENT || err == ENOTDIR) return std::nullopt;
  if (err != 0)
    throw SourceFileError(SourceFileError::Kind::unreadable, path,
                          "cannot look up " + path.string() + ": " + util::errno_text(err) +
                              "; grant the service user sennen-edge read and execute permission on its folders");
  return e;
}

std::vector<Entry> list_directory(const fs::path& dir) {
  util::Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) throw folder_error(dir, errno);
  int dfd = ::dup(fd.get());
  std::unique_ptr<DIR, DirCloser> d(::fdopendir(dfd));
  if (!d) {
    int err = errno;
    ::close(dfd);
    throw folder_error(dir, err);
  }
  std::vector<Entry> out;
  errno = 0;
  while (struct dirent* de = ::readdir(d.get())) {
    std::string_view name = de->d_name;
    if (name == "." || name == "..") continue;
    Entry e;
    int err = stat_entry(fd.get(), de->d_name, AT_SYMLINK_NOFOLLOW, e);
    if (err == ENOENT) continue;  // vanished meanwhile
    // Listed but not looked up: skipping the entry would make a folder's children look deleted.
    if (err != 0) throw folder_error(dir, err, " (its entries cannot be looked up)");
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

void walk(const fs::path& root, const WalkOptions& options, UnitHandler& handler, SourceContext& ctx) {
  Entry self;
  if (int err = stat_entry(AT_FDCWD, root.c_str(), 0, self); err != 0)
    throw Error("source root " + root.string() + " cannot be read: " + util::errno_text(err) +
                " (check the path in the config and that the export share is mounted)");
  if (self.type != Entry::Type::dir) throw Error("source root " + root.string() + " is not a directory");
  if (::access(root.c_str(), R_OK | X_OK) != 0)
    throw Error("source root " + root.string() + " is not readable by this user (grant read and execute access)");
  auto roots = ctx.state.child_dirs("");
  const DirState* known = nullptr;
  for (const auto& r : roots)
    if (r.path == options.state_root) known = &r;
  Walker w(options, handler, ctx, self.mount);
  w.visit(root, "", options.state_root, "", 0, self, known);
}

std::string refusal(const Entry& e, bool allow_hard_links, std::uint64_t max_record_bytes, const std::string& source) {
  if (e.links > 1 && !allow_hard_links)
    return "has " + std::to_string(e.links) +
           " hard links: a file linked from elsewhere is not read (a hard link "
           "can make any file of this machine appear in the export tree); if the EMR's export is made with hard "
           "links (some backup tools do), set allow_hard_links: true on source " +
           source;
  if (e.size > max_record_bytes)
    return "is " + std::to_string(e.size) + " bytes, more than max_record_bytes (" + std::to_string(max_record_bytes) +
           ") of source " + source +
           ": not read; if records this large are expected, raise max_record_bytes for the source, then run "
           "sennen-edgectl quarantine retry";
  return "";
}

bool is_stable(const Entry& e, TimePoint now, std::chrono::seconds stable_after) {
  auto mtime = TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(e.mtime_ns)));
  return now - mtime >= stable_after;
}

void note_unreadable(SourceContext& ctx, const std::string& source, const std::string& dir_key,
                     const std::vector<UnitState>& known, const Entry& e, const SourceFileError& why) {
  const UnitState* prev = find(known, e.name);
  if (!prev || prev->status != kUnreadable)
    log::warning("source " + source + ": " + why.what() +
                 "; the rest of the source is read meanwhile, and this is "
                 "tried again every poll");
  ctx.stats.add_unreadable(why.path());
  ctx.state.put_unit(dir_key, {e.name, 0, e.mtime_ns, e.ctime_ns, kUnreadable});
}

void note_readable(const std::string& source, const std::vector<UnitState>& known, const std::string& name,
                   const fs::path& abs) {
  const UnitState* prev = find(known, name);
  if (prev && prev->status == kUnreadable) log::notice("source " + source + ": " + abs.string() + " is readable again");
}

}  // namespace sennen::dirpoll
