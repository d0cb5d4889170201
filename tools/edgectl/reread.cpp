#include "tools/edgectl/reread.hpp"

#include <filesystem>

namespace sennen::edgectl {

const config::Source* source_config(const config::Config& cfg, const std::string& name) {
  for (const auto& s : cfg.sources)
    if (s.name == name) return &s;
  return nullptr;
}

std::string cannot_reread(const config::Config& cfg, const std::string& source) {
  const auto* s = source_config(cfg, source);
  if (!s) return "source " + source + " is no longer in the configuration";
  return s->options->why_no_retry();
}

std::vector<std::string> folder_keys(const config::Config& cfg, const std::string& source,
                                     const std::string& rel_path) {
  std::vector<std::string> keys;
  const std::string dir = std::filesystem::path(rel_path).parent_path().generic_string();
  const auto* s = source_config(cfg, source);
  for (std::size_t root = 0; s && root < s->options->folders().size(); ++root)
    keys.push_back(std::to_string(root) + (dir.empty() ? "" : "/" + dir));
  return keys;
}

}  // namespace sennen::edgectl
