#pragma once
// Whether the site is healthy, said one way for every place that shows it: the heartbeat's
// `status` and `problems`, /healthz, `sennen-edgectl status` and sennen-fleet (which reads the
// heartbeat). A site is failing while any problem below holds; each problem says what is wrong
// and what to do, in words an operator can act on.
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/telemetry/heartbeat.hpp"

namespace sennen::telemetry {

struct Problem {
  std::string code;     // stable, for tools: "source", "destination", "sealing", "stop_list", ...
  std::string message;  // what is wrong and what to do
};

// Three abnormal starts (the last run did not end cleanly: a crash, a kill, the watchdog) within
// this long is a crash loop.
inline constexpr std::int64_t kCrashLoopWindowSeconds = 3600;
inline constexpr std::int64_t kCrashLoopStarts = 3;

std::vector<Problem> assess(const HeartbeatInput& in);

}  // namespace sennen::telemetry
