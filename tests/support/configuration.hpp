#pragma once
// The configuration as the daemon reads it: with every adapter's keys (adapters/registry). Tests
// that include this link sennen_registry.
#include <filesystem>
#include <string>

#include "adapters/registry/registry.hpp"
#include "daemon/config/config.hpp"

namespace sennen::test {

inline config::Config parse(const std::string& text, const std::filesystem::path& file) {
  return config::parse(text, file, adapters::catalog());
}
inline config::Config load(const std::filesystem::path& file) { return config::load(file, adapters::catalog()); }

}  // namespace sennen::test
