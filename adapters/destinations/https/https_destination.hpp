#pragma once
// type: https — the central receiver over mutually authenticated TLS (e.g. nginx with WebDAV PUT):
//   PUT <url>/<site id>/<YYYYMMDD>/<batch id>.cms (streamed from the outbox file), HEAD it to see
//   the stored size, then PUT <batch id>.json as the commit marker; PUT <url>/<site id>/heartbeat.json.
// The server is verified against the configured CA only, with its host name, TLS 1.2 or newer;
// none of that can be turned off. The site authenticates with its client certificate.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "adapters/destinations/curl/options.hpp"
#include "adapters/kind.hpp"
#include "daemon/core/destination.hpp"

namespace sennen::destinations {

struct HttpsOptions {
  std::string url;  // "https://host[:port][/path]", no trailing '/'
  std::string site_id;
  std::filesystem::path ca, cert, key;
  std::chrono::seconds connect_timeout{30};
  std::uint64_t low_speed_bytes = 1024;         // slower than this per second ...
  std::chrono::seconds low_speed_time{60};      // ... for this long: a stall, abandoned and retried
  std::uint64_t max_send_bytes_per_second = 0;  // schedule.bandwidth_limit; 0 = no cap
};

std::unique_ptr<Destination> make_https_destination(HttpsOptions options);

// The keys of type: https as configured (config/sennen-edge.yaml).
struct HttpsKeys final : config::DestinationOptions {
  std::string url;  // "https://host[:port][/path]", no trailing '/'
  // The receiver is verified against `ca` only (never the system store), and there is
  // deliberately no setting to turn verification off. cert and key: this site's client certificate.
  std::filesystem::path ca, cert, key;
  Transfer transfer;
  std::string describe() const override { return "https " + url; }
  std::uint64_t stall_below_bytes_per_second() const override { return transfer.low_speed_bytes; }
  std::optional<std::filesystem::path> client_certificate() const override { return cert; }
};
const adapters::DestinationKind& https_kind();  // for the registry

// libcurl's process-wide initialisation (curl_global_init), which is not thread-safe: create one
// of these at the very start of main(), before any thread exists, and keep it until main returns.
class HttpsGlobalInit {
 public:
  HttpsGlobalInit();
  ~HttpsGlobalInit();
  HttpsGlobalInit(const HttpsGlobalInit&) = delete;
  HttpsGlobalInit& operator=(const HttpsGlobalInit&) = delete;
};

}  // namespace sennen::destinations
