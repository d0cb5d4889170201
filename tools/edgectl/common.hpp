#pragma once
// Helpers shared by the subcommands: config loading, time and size formatting, JSON output.
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/config/config.hpp"
#include "tools/edgectl/commands.hpp"

namespace sennen::edgectl {

std::int64_t now_unix();
// "2026-11-25T01:02:03Z", or "-" for 0.
std::string when(std::int64_t unix_seconds);
// "45s", "12m 3s", "5h 2m", "3d 4h".
std::string age(std::int64_t seconds);
// "512 B", "3.2 KiB", "1.5 MiB", "2.0 GiB".
std::string bytes(std::uint64_t n);

// Loads the config for reading (placeholders allowed); on problems prints them to stderr and
// returns nullopt (the caller exits 2).
std::optional<config::Config> load_config(const std::filesystem::path& file);

void print_json(const nlohmann::json& j);
// A name from a source tree (any bytes) for a terminal: util::display_name.
std::string shown(const std::string& name);

// Loads the config named by `c` and runs fn(config); config problems and any error fn throws
// become exit status 2, with the error on stderr after "sennen-edgectl COMMAND: ".
template <typename Fn>
int with_config(const Common& c, const char* command, Fn fn) {
  auto cfg = load_config(c.config);
  if (!cfg) return 2;
  try {
    return fn(*cfg);
  } catch (const std::exception& e) {
    std::cerr << "sennen-edgectl " << command << ": " << e.what() << "\n";
    return 2;
  }
}

// The copy of the last heartbeat the daemon keeps in state_dir, whatever its destination.
std::filesystem::path last_heartbeat(const config::Config& cfg);

}  // namespace sennen::edgectl
