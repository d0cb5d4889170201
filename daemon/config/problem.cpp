#include <utility>

#include "daemon/config/config.hpp"

namespace sennen::config {
namespace {
std::string join(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += '\n';
    out += p.format();
  }
  return out;
}
}  // namespace

std::string Problem::format() const {
  // Same shape as compiler diagnostics so editors and grep can jump to the line.
  std::string out = file;
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  if (!key.empty()) out += ": " + key;
  out += ": " + message;
  return out;
}

ConfigError::ConfigError(std::vector<Problem> problems)
    : sennen::Error(join(problems)), problems_(std::move(problems)) {}

}  // namespace sennen::config
