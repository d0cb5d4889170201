#include "daemon/util/durable_dirs.hpp"

#include <set>

#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"

namespace fs = std::filesystem;

namespace sennen::util {

namespace {

// Absolute, normal, and without a trailing '/' (whose empty last element compares unequal).
fs::path folder_path(const fs::path& p, std::error_code& ec) {
  fs::path out = fs::absolute(p, ec).lexically_normal();
  if (!out.has_filename() && out.has_relative_path()) out = out.parent_path();
  return out;
}

}  // namespace

void create_directories_durably(const fs::path& dir, const fs::path& anchor) {
  std::error_code ec;
  const fs::path target = folder_path(dir, ec);
  if (ec) throw Error("cannot create folder " + dir.string() + ": " + ec.message());
  const fs::path top = folder_path(anchor, ec);
  if (ec) throw Error("cannot create folder " + dir.string() + ": " + anchor.string() + ": " + ec.message());
  // Inside the anchor, or the sync below would climb to '/' (folders the service may not open).
  const fs::path inside = target.lexically_relative(top);
  if (inside.empty() || *inside.begin() == "..")
    throw Error("cannot create folder " + target.string() + ": it is not inside " + top.string());
  std::set<fs::path> parents;  // whose entries for the folders below must be synced
  for (fs::path p = target; p.has_relative_path(); p = p.parent_path()) {
    const bool there = fs::exists(p, ec);
    if (ec) throw Error("cannot create folder " + target.string() + ": " + p.string() + ": " + ec.message());
    if (there) break;
    parents.insert(p.parent_path());
  }
  fs::create_directories(target, ec);
  if (ec) throw Error("cannot create folder " + target.string() + ": " + ec.message());
  for (fs::path p = target; p != top && p.has_relative_path(); p = p.parent_path()) parents.insert(p.parent_path());
  for (const auto& p : parents) fsync_directory(p);
}

}  // namespace sennen::util
