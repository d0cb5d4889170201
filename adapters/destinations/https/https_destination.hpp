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
#include <string>

#include "daemon/core/destination.hpp"

namespace sennen::destinations {

struct HttpsOptions {
  std::string url;  // "https://host[:port][/path]", no trailing '/'
  std::string site_id;
  std::filesystem::path ca, cert, key;
  std::chrono::seconds connect_timeout{30};
  std::uint64_t low_speed_bytes = 1024;  // slower than this per second ...
  std::chrono::seconds low_speed_time{60};  // ... for this long: a stall, abandoned and retried
  std::uint64_t max_send_bytes_per_second = 0;  // schedule.bandwidth_limit; 0 = no cap
};

std::unique_ptr<Destination> make_https_destination(HttpsOptions options);

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
