#include "tools/edgectl/survey/walk.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "adapters/sources/dirpoll/walker.hpp"
#include "daemon/core/read_prefix.hpp"
#include "daemon/core/source.hpp"
#include "daemon/util/error.hpp"

namespace sennen::survey {
namespace {

namespace fs = std::filesystem;
using dirpoll::Entry;

// root/PID[0:3]/PID[3:6]/PID/date/type/unit: units are at depth 6.
constexpr int kUnitDepth = 6;
constexpr unsigned kProgressEvery = 512;

std::string join(const std::string& rel, const std::string& name) { return rel.empty() ? name : rel + "/" + name; }

class Walk {
 public:
  Walk(const fs::path& root, Tally& t, const WalkOptions& o) : root_(root), t_(t), o_(o) {}

  void run() {
    std::optional<Entry> self;
    try {
      self = dirpoll::entry_at(root_ / ".");
    } catch (const SourceFileError& e) {
      throw Error("survey: cannot read root " + root_.string() + ": " + e.what());
    }
    if (!self || self->type != Entry::Type::dir)
      throw Error("survey: root " + root_.string() +
                  " is not a folder (give the folder that holds the PID[0:3] folders)");
    mount_ = self->mount;
    ancestors_.push_back({self->dev, self->ino});
    t_.begin_root(root_);
    visit(root_, "", 0, Mode::tree);
  }

 private:
  enum class Mode { tree, content };

  void tick(const fs::path& dir) {
    if (o_.progress && ++entries_ % kProgressEvery == 0) o_.progress(t_, dir);
  }

  // What the daemon never opens: a link, a device, a folder on another file system or a loop.
  bool skip(const Entry& e, const std::string& rel) {
    if (e.type == Entry::Type::link) {
      t_.skipped(rel, "symbolic link (never followed)");
      return true;
    }
    if (e.type == Entry::Type::special) {
      t_.skipped(rel, "device, FIFO or socket (never opened)");
      return true;
    }
    if (e.type == Entry::Type::dir && e.mount != mount_ && !o_.cross_filesystems) {
      t_.skipped(rel, "folder on another file system (not entered; survey it as its own root)");
      return true;
    }
    if (e.type == Entry::Type::dir &&
        std::find(ancestors_.begin(), ancestors_.end(), std::pair{e.dev, e.ino}) != ancestors_.end()) {
      t_.skipped(rel, "folder that is one of its own ancestors (a loop)");
      return true;
    }
    return false;
  }

  void visit(const fs::path& dir, const std::string& rel, int depth, Mode mode) {
    std::vector<Entry> entries;
    try {
      entries = dirpoll::list_directory(dir);
    } catch (const SourceFileError& e) {
      t_.unreadable(rel.empty() ? "." : rel, e.what());
      return;
    }
    t_.folder();
    for (const auto& e : entries) {
      const std::string path = join(rel, e.name);
      tick(dir);
      if (skip(e, path)) continue;
      const int d = depth + 1;
      if (e.type == Entry::Type::file) {
        t_.file(e.size);
        if (mode == Mode::content)
          t_.content_file(e.name);
        else if (d == kUnitDepth)
          standard_file(dir / e.name, e, rel, path);
        else
          t_.misplaced(path, d < kUnitDepth ? "a file above the type folders (depth " + std::to_string(d) +
                                                  "; units are at depth 6: PID[0:3]/PID[3:6]/PID/date/type/unit)"
                                            : "a file below the unit depth");
        continue;
      }
      ancestors_.push_back({e.dev, e.ino});
      if (mode == Mode::tree && d == kUnitDepth) {
        content_folder(e.name, rel, path);
        visit(dir / e.name, path, d, Mode::content);
      } else if (mode == Mode::content || d < kUnitDepth) {
        visit(dir / e.name, path, d, mode);
      } else {
        t_.misplaced(path, "a folder below the unit depth");
      }
      ancestors_.pop_back();
    }
  }

  void standard_file(const fs::path& abs, const Entry& e, const std::string& rel_dir, const std::string& path) {
    const auto parsed = ssmix2::parse_standard_name(e.name);
    if (!parsed.name) {
      t_.unparseable(Storage::standard, path, parsed.error);
      return;
    }
    t_.unit(Storage::standard, *parsed.name, path, ssmix2::check_placement(rel_dir, *parsed.name));
    try {
      bool complete = false;
      const std::string head = read_prefix(abs, e.size, o_.head_bytes, complete);
      t_.hl7(ssmix2::parse_hl7_header(head), head, path, *parsed.name);
    } catch (const SourceFileError& err) {
      t_.unreadable(path, err.what());
    }
  }

  void content_folder(const std::string& name, const std::string& rel_dir, const std::string& path) {
    const std::string type = rel_dir.substr(rel_dir.rfind('/') + 1);
    // As the daemon reads it with the generic profile (the whole name) and, failing that, with any
    // form of the type field, so the tally says which form the EMR writes (extended_type_field).
    auto parsed = ssmix2::parse_extended_name(name, type);
    if (!parsed.name)
      if (auto any = ssmix2::parse_extended_name(name, type, ssmix2::kAllTypeFields); any.name) parsed = std::move(any);
    if (!parsed.name)
      t_.unparseable(Storage::extended, path, parsed.error);
    else
      t_.unit(Storage::extended, *parsed.name, path, ssmix2::check_placement(rel_dir, *parsed.name));
  }

  fs::path root_;
  Tally& t_;
  const WalkOptions& o_;
  std::uint64_t mount_ = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ancestors_;
  unsigned entries_ = 0;
};

}  // namespace

void walk_root(const fs::path& root, Tally& tally, const WalkOptions& options) { Walk(root, tally, options).run(); }

}  // namespace sennen::survey
