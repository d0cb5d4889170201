#pragma once
// type: local — a directory (air-gapped sites, BCP export to removable media, the quickstart):
//   <path>/<site id>/<YYYYMMDD>/<batch id>.cms, then <batch id>.json as the commit marker;
//   <path>/<site id>/heartbeat.json. Every file is written atomically (temp + fsync + rename).
// With mount_point: true, <path> must be a mount point (removable media, a share) whenever
// anything is written or looked for there: while it is not mounted, batches wait in the outbox
// instead of landing on this machine's own disk below the empty mount point.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "adapters/kind.hpp"
#include "daemon/core/destination.hpp"

namespace sennen::destinations {

// The keys of type: local as configured.
struct LocalKeys final : config::DestinationOptions {
  std::filesystem::path path;  // the export folder
  bool mount_point = false;    // path must be a mounted file system (media, share) to be written
  std::string describe() const override { return "local " + path.string(); }
  std::vector<std::filesystem::path> writable_folders() const override { return {path}; }
};
std::unique_ptr<Destination> make_local_destination(LocalKeys keys, std::string site_id);
const adapters::DestinationKind& local_kind();  // for the registry

}  // namespace sennen::destinations
