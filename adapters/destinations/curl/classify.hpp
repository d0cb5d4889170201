#pragma once
// Internal to the destination modules (https, s3): the one place that decides whether a failed
// request is retried (network errors, timeouts and stalls, 5xx, 408, 429) or is a refusal that
// keeps the batch and marks the destination failing until an operator acts (other 4xx, 3xx,
// certificate and configuration problems), and words it for the log and the heartbeat.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "adapters/destinations/curl/curl_easy.hpp"
#include "daemon/core/destination.hpp"

namespace sennen::destinations::curl {

inline DeliveryResult retry(std::string why) { return DeliveryResult::retry(std::move(why)); }
inline DeliveryResult rejected(std::string why) { return DeliveryResult::rejected(std::move(why)); }

// The other end, in the words of the operator's configuration.
struct Peer {
  std::string name;                 // "the receiver", "the S3 endpoint"
  std::string address_key;          // the setting that names it: "destination.url"
  std::string trust;                // what its certificate must chain to: "destination.tls.ca (/etc/...)"
  std::string host_note;            // said after the host-name rule (e.g. virtual-host addressing)
  std::filesystem::path cert, key;  // this site's client certificate and key; empty: none
  std::uint64_t low_speed_bytes = 0;
  std::chrono::seconds low_speed_time{0};
};

// Server faults and overload: the request is sent again later, whatever the protocol says.
bool transient_status(long http_status);

// What the peer's answer (not 2xx) means in its own protocol: the https receiver's error page,
// S3's error code.
struct Answer {
  std::string said;        // e.g. "the receiver answered 403 \"403 Forbidden\""
  std::string advice;      // appended to a refusal's reason (": check ..."); empty: a generic ending.
                           // Not used when transient_status() holds: those always "will try again".
  bool transient = false;  // the protocol calls it transient beyond transient_status (S3 SlowDown)
};
using Interpret = std::function<Answer(const Outcome&)>;

// A transfer that ended without an HTTP answer (o.code != CURLE_OK).
DeliveryResult transport_failure(const Outcome& o, const std::string& what, const Peer& peer);

// Delivered for a 2xx answer; otherwise retry or rejected with a reason that starts with `what`.
DeliveryResult result_of(const Outcome& o, const std::string& what, const Peer& peer, const Interpret& interpret);

}  // namespace sennen::destinations::curl
