#include "adapters/sources/dirpoll/walker.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <memory>

#include "daemon/core/error.hpp"
#include "daemon/util/fd.hpp"

namespace sennen::dirpoll {
namespace fs = std::filesystem;
namespace {

std::int64_t ns(const struct timespec& t) { return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

Entry entry_from_stat(std::string name, const struct stat& st) {
  Entry e;
  e.name = std::move(name);
  e.size = static_cast<std::uint64_t>(st.st_size);
  e.mtime_ns = ns(st.st_mtim);
  e.ctime_ns = ns(st.st_ctim);
  e.type = S_ISREG(st.st_mode) ? Entry::Type::file : S_ISDIR(st.st_mode) ? Entry::Type::dir : Entry::Type::other;
  return e;
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

class Walker {
 public:
  Walker(const WalkOptions& o, UnitHandler& h, SourceContext& c) : opt_(o), handler_(h), ctx_(c) {}

  void visit(const fs::path& abs, const std::string& rel, const std::string& key, const std::string& parent_key,
             int depth, const struct stat& st, const DirState* known) {
    if (ctx_.stop_requested) return;
    DirState now{key, ns(st.st_mtim), ns(st.st_ctim), false, false, 0};
    bool unchanged = known && known->mtime_ns == now.mtime_ns && known->ctime_ns == now.ctime_ns && known->settled &&
                     !ctx_.full_scan;
    if (depth == opt_.unit_depth) {
      if (unchanged) return;
      Listing listing{abs, rel, list_directory(abs)};
      now.settled = handler_.on_unit_folder(listing, key, ctx_);
      now.listed_at = std::chrono::duration_cast<std::chrono::seconds>(ctx_.clock.now().time_since_epoch()).count();
      if (ctx_.stop_requested) return;  // the handler may have stopped half way: list again next time
      ctx_.state.put_dir(parent_key, now);
      ctx_.sink.checkpoint();
      return;
    }

    auto known_children = ctx_.state.child_dirs(key);
    std::map<std::string, DirState> by_key;
    for (auto& c : known_children) by_key.emplace(c.path, std::move(c));

    if (unchanged) {  // same entries as when listed: visit the known subdirectories only
      for (const auto& [child_key, child] : by_key) {
        std::string name = child_key.substr(key.size() + 1);
        fs::path child_abs = abs / name;
        struct stat cst{};
        if (::lstat(child_abs.c_str(), &cst) != 0 || !S_ISDIR(cst.st_mode)) {
          ctx_.state.erase_dir_tree(child_key);
          continue;
        }
        visit(child_abs, join(rel, name), child_key, key, depth + 1, cst, &child);
      }
      return;
    }

    bool settled = true;
    auto entries = list_directory(abs);
    std::set<std::string> present;
    for (const auto& e : entries) {
      if (ctx_.stop_requested) return;
      if (e.type == Entry::Type::dir) {
        std::string child_key = join(key, e.name);
        present.insert(child_key);
        struct stat cst{};
        if (::lstat((abs / e.name).c_str(), &cst) != 0) continue;  // vanished meanwhile
        auto it = by_key.find(child_key);
        visit(abs / e.name, join(rel, e.name), child_key, key, depth + 1, cst, it == by_key.end() ? nullptr : &it->second);
      } else if (e.type == Entry::Type::file) {
        settled &= handler_.on_stray_file(abs / e.name, join(rel, e.name), e, key, ctx_);
      }
    }
    for (const auto& [child_key, child] : by_key)
      if (!present.count(child_key)) ctx_.state.erase_dir_tree(child_key);
    if (ctx_.stop_requested) return;
    now.settled = settled;
    now.has_subdirs = !present.empty();
    now.listed_at = std::chrono::duration_cast<std::chrono::seconds>(ctx_.clock.now().time_since_epoch()).count();
    ctx_.state.put_dir(parent_key, now);
    ctx_.sink.checkpoint();
  }

 private:
  const WalkOptions& opt_;
  UnitHandler& handler_;
  SourceContext& ctx_;
};

}  // namespace

std::vector<Entry> list_directory(const fs::path& dir) {
  util::Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd)
    throw Error("cannot read directory " + dir.string() + ": " + util::errno_text(errno) +
                (errno == EACCES ? " (grant the sennen-edge user read and execute access)" : ""));
  int dfd = ::dup(fd.get());
  std::unique_ptr<DIR, DirCloser> d(::fdopendir(dfd));
  if (!d) {
    ::close(dfd);
    throw Error("cannot read directory " + dir.string() + ": " + util::errno_text(errno));
  }
  std::vector<Entry> out;
  errno = 0;
  while (struct dirent* de = ::readdir(d.get())) {
    std::string_view name = de->d_name;
    if (name == "." || name == "..") continue;
    struct stat st{};
    if (::fstatat(fd.get(), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished meanwhile
    out.push_back(entry_from_stat(std::string(name), st));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

void walk(const fs::path& root, const WalkOptions& options, UnitHandler& handler, SourceContext& ctx) {
  struct stat st{};
  if (::stat(root.c_str(), &st) != 0)
    throw Error("source root " + root.string() + " cannot be read: " + util::errno_text(errno) +
                " (check the path in the config and that the export share is mounted)");
  if (!S_ISDIR(st.st_mode)) throw Error("source root " + root.string() + " is not a directory");
  if (::access(root.c_str(), R_OK | X_OK) != 0)
    throw Error("source root " + root.string() + " is not readable by this user (grant read and execute access)");
  auto roots = ctx.state.child_dirs("");
  const DirState* known = nullptr;
  for (const auto& r : roots)
    if (r.path == options.state_root) known = &r;
  Walker w(options, handler, ctx);
  w.visit(root, "", options.state_root, "", 0, st, known);
}

bool is_stable(const Entry& e, TimePoint now, std::chrono::seconds stable_after) {
  auto mtime = TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(e.mtime_ns)));
  return now - mtime >= stable_after;
}

}  // namespace sennen::dirpoll
