#include "daemon/util/stale_temps.hpp"

#include <unistd.h>

#include <string>

namespace fs = std::filesystem;

namespace sennen::util {

void remove_stale_temps(const fs::path& target) {
  const std::string prefix = target.filename().string() + ".tmp-";
  const std::string own = prefix + std::to_string(::getpid());
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= prefix.size() || name.rfind(prefix, 0) != 0 || name == own) continue;
    if (name.find_first_not_of("0123456789", prefix.size()) != std::string::npos) continue;
    fs::remove(e.path(), ec);
  }
}

}  // namespace sennen::util
