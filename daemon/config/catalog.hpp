#pragma once
// What the configuration knows of adapters: only what each one declares here. An adapter
// (adapters/sources/<type>/, adapters/destinations/<type>/) owns its section of sennen-edge.yaml:
// its options type, their defaults beside the fields, and the function that reads them; the
// registry (adapters/registry) lists the adapters, and config::load() reads every section through
// this catalog. The options' virtual functions are the few things the rest of the daemon asks of
// any adapter, so nothing outside an adapter's folder switches on its type.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sennen::config {

class Section;

struct SourceOptions {
  virtual ~SourceOptions() = default;
  // Folders the source reads (two sources reading one folder would send it all twice).
  virtual std::vector<std::filesystem::path> folders() const { return {}; }
  // Free space state_dir needs for this source to go on (a DICOM receiver refuses below it).
  virtual std::uint64_t min_free_bytes() const { return 0; }
  // How often a poll re-stats everything, not trusting unchanged folders; none: never.
  virtual std::optional<std::chrono::seconds> full_scan_every() const { return std::nullopt; }
  // Why a quarantined file of this source cannot be read again by `sennen-edgectl quarantine
  // retry`, or "" when it can.
  virtual std::string why_no_retry() const { return ""; }
  // The vendor profile the source follows ("" when none applies) and what it expects the site to
  // deliver per document kind (kind id -> "structured", "pdf_jpeg" or "none"; docs/coverage-kinds.md),
  // for the heartbeat's coverage.
  virtual std::string vendor_profile() const { return ""; }
  virtual std::map<std::string, std::string> expected_kinds() const { return {}; }
};

struct DestinationOptions {
  virtual ~DestinationOptions() = default;
  virtual std::string describe() const = 0;  // "https https://ingest.example.jp/sennen"
  // The slowest transfer that is not a stall (bytes/s), 0 when none: an upload bandwidth cap
  // below it would make every upload look stalled.
  virtual std::uint64_t stall_below_bytes_per_second() const { return 0; }
  // The certificate this site presents to the destination, watched for expiry; none when none.
  virtual std::optional<std::filesystem::path> client_certificate() const { return std::nullopt; }
  // Folders the service user must be able to write into.
  virtual std::vector<std::filesystem::path> writable_folders() const { return {}; }
};

struct SourceType {
  std::string_view name;               // as written in `type:`, e.g. "dicom-scp"
  std::string_view meaning;            // for messages, e.g. "DICOM images pushed to us (C-STORE)"
  std::vector<std::string_view> keys;  // its own keys, besides name, type and poll_interval
  std::function<std::shared_ptr<const SourceOptions>(const Section& source)> read;
};

struct DestinationType {
  std::string_view name;
  std::string_view meaning;
  std::vector<std::string_view> keys;  // its own keys, besides type
  std::function<std::shared_ptr<const DestinationOptions>(const Section& destination)> read;
};

struct Catalog {
  std::vector<SourceType> sources;
  std::vector<DestinationType> destinations;
};

}  // namespace sennen::config
