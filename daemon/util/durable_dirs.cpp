#include "daemon/util/durable_dirs.hpp"

#include <set>
#include <vector>

#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"

namespace fs = std::filesystem;

namespace sennen::util {

void create_directories_durably(const fs::path& dir, const fs::path& anchor) {
  std::error_code ec;
  const fs::path target = fs::absolute(dir, ec).lexically_normal();
  const fs::path top = fs::absolute(anchor, ec).lexically_normal();
  std::set<fs::path> parents;  // whose entries for the folders below must be synced
  for (fs::path p = target; p.has_relative_path() && !fs::exists(p, ec); p = p.parent_path())
    parents.insert(p.parent_path());
  fs::create_directories(target, ec);
  if (ec) throw Error("cannot create folder " + target.string() + ": " + ec.message());
  for (fs::path p = target; p != top && p.has_relative_path(); p = p.parent_path()) parents.insert(p.parent_path());
  for (const auto& p : parents) fsync_directory(p);
}

}  // namespace sennen::util
