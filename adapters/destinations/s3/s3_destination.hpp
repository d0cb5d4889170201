#pragma once
// type: s3 — the same object layout as https, in an S3-compatible bucket:
//   <prefix>/<site id>/<YYYYMMDD>/<batch id>.cms, then <batch id>.json; <prefix>/<site id>/heartbeat.json.
// Requests are signed with AWS SigV4 (libcurl's CURLOPT_AWS_SIGV4). A batch counts as delivered
// only when its upload succeeded and a HEAD shows the right size. Batches above
// multipart_threshold go up as a multipart upload whose id is kept in <outbox>/<batch id>.s3upload,
// so a restarted daemon resumes it and re-sends only the parts the bucket does not hold intact.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "adapters/kind.hpp"
#include "daemon/core/destination.hpp"

namespace sennen::destinations {

struct S3Options {
  std::string endpoint;  // "https://host[:port]", no path, no trailing '/'
  std::string bucket;
  std::string region;         // e.g. ap-northeast-1
  std::string prefix;         // optional, without leading or trailing '/'
  bool virtual_host = false;  // addressing: virtual (https://<bucket>.<host>/key) instead of path
  std::string site_id;
  std::filesystem::path access_key_file;  // two lines: access key id, secret; not group/world readable
  std::filesystem::path ca;               // pinned CA of the endpoint; empty = system store (only with use_system_ca)
  bool use_system_ca = false;
  std::uint64_t multipart_threshold = 64ull << 20;
  std::uint64_t part_size = 16ull << 20;  // S3 needs at least 5 MiB (except the last part)
  std::chrono::seconds connect_timeout{30};
  std::uint64_t low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{60};
  std::uint64_t max_send_bytes_per_second = 0;
  std::vector<std::string> resolve;  // libcurl "host:port:address" overrides (split-horizon DNS, tests)
};

struct S3Credentials {
  std::string access_key_id;
  std::string secret;
};

// Reads access_key_file; throws Error (saying what to fix) if it is missing, malformed, or
// readable by group or others.
S3Credentials read_s3_key_file(const std::filesystem::path& file);

// Throws Error when the options or the key file are not usable. Needs libcurl initialised
// (HttpsGlobalInit, in main).
std::unique_ptr<Destination> make_s3_destination(S3Options options);

// The keys of type: s3 as configured (config/sennen-edge.yaml): S3Options but for site_id and the
// bandwidth cap, which come from elsewhere in the configuration.
struct S3Keys final : config::DestinationOptions {
  S3Options s3;
  std::string describe() const override {
    return "s3 " + s3.endpoint + " bucket " + s3.bucket + (s3.prefix.empty() ? "" : " prefix " + s3.prefix);
  }
  std::uint64_t stall_below_bytes_per_second() const override { return s3.low_speed_bytes; }
};
const adapters::DestinationKind& s3_kind();  // for the registry

}  // namespace sennen::destinations
