#pragma once
// type: local — a directory (air-gapped sites, BCP export to removable media, the quickstart):
//   <path>/<site id>/<YYYYMMDD>/<batch id>.cms, then <batch id>.json as the commit marker;
//   <path>/<site id>/heartbeat.json. Every file is written atomically (temp + fsync + rename).
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "adapters/kind.hpp"
#include "daemon/core/destination.hpp"

namespace sennen::destinations {

std::unique_ptr<Destination> make_local_destination(std::filesystem::path path, std::string site_id);
// The key of type: local as configured.
struct LocalKeys final : config::DestinationOptions {
  std::filesystem::path path;  // the export folder
  std::string describe() const override { return "local " + path.string(); }
  std::vector<std::filesystem::path> writable_folders() const override { return {path}; }
};
const adapters::DestinationKind& local_kind();  // for the registry

}  // namespace sennen::destinations
