#pragma once
// The keys the network destinations (https, s3) read the same way: the service's address and the
// transfer limits. config/sennen-edge.yaml documents each.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/reader.hpp"

namespace sennen::destinations {

struct Transfer {
  std::chrono::seconds connect_timeout{30};  // give up connecting after this long
  // A transfer slower than low_speed_bytes per second for low_speed_time is a stall: abandoned
  // (and retried later) instead of being waited on forever.
  std::uint64_t low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{60};
};

extern const std::vector<std::string_view> kTransferKeys;  // connect_timeout, low_speed_limit, low_speed_time
Transfer read_transfer(const config::Section& s);

// "https://host[:port][/path]": no other scheme (batches and heartbeats never travel in the
// clear), no user:password (the site is identified otherwise), no query or fragment (object names
// are appended to the path). A trailing '/' is dropped. `example` completes the message.
std::optional<std::string> read_https_url(const config::Node& n, std::string_view what, std::string_view example);

}  // namespace sennen::destinations
