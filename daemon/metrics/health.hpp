#pragma once
// /healthz: progress, not liveness. Healthy while every source polled successfully recently
// (within kPollsLate of its poll_interval), nothing waiting to leave is older than
// max_pending_age, and the heartbeat's assessment (telemetry/health.hpp) found no problem after
// the last cycle.
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/config/config.hpp"
#include "daemon/metrics/snapshot.hpp"

namespace sennen::metrics {

inline constexpr int kPollsLate = 3;  // a source is late after this many poll intervals without success

struct Health {
  bool ok = true;
  std::vector<std::string> problems;  // why not, each a sentence an operator can act on
  std::string json;                   // the response body
};

Health health(const Snapshot& s, config::Seconds max_pending_age, std::int64_t now);

}  // namespace sennen::metrics
