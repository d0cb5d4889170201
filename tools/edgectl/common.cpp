#include "tools/edgectl/common.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>

#include "daemon/util/name_text.hpp"
#include "adapters/registry/registry.hpp"
#include "daemon/util/time_format.hpp"

namespace sennen::edgectl {

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string when(std::int64_t unix_seconds) { return unix_seconds == 0 ? "-" : util::iso8601_utc(unix_seconds); }

std::string age(std::int64_t s) {
  if (s < 0) s = 0;
  auto two = [](std::int64_t a, const char* ua, std::int64_t b, const char* ub) {
    return std::to_string(a) + ua + (b ? " " + std::to_string(b) + ub : "");
  };
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return two(s / 60, "m", s % 60, "s");
  if (s < 86400) return two(s / 3600, "h", s % 3600 / 60, "m");
  return two(s / 86400, "d", s % 86400 / 3600, "h");
}

std::string bytes(std::uint64_t n) {
  if (n < 1024) return std::to_string(n) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n) / 1024;
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::optional<config::Config> load_config(const std::filesystem::path& file) {
  try {
    return config::load(file, adapters::catalog());
  } catch (const config::ConfigError& e) {
    for (const auto& p : e.problems()) std::cerr << p.format() << "\n";
    std::cerr << "sennen-edgectl: the configuration has problems (listed above); fix them first\n";
  } catch (const std::exception& e) {
    std::cerr << "sennen-edgectl: " << e.what() << "\n";
  }
  return std::nullopt;
}

// Names in the documents follow util::put_name; the replace handler is the last line of defence
// for any other bytes that are not UTF-8 (never an exception).
void print_json(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::string shown(const std::string& name) { return util::display_name(name); }

std::filesystem::path last_heartbeat(const config::Config& cfg) { return cfg.state_dir / "heartbeat.json"; }

}  // namespace sennen::edgectl
