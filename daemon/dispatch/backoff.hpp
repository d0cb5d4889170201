#pragma once
// Retry spacing after a failed delivery: exponential with full jitter, capped. After the n-th
// consecutive failure (n from 0) the next attempt waits a uniformly random time in
// [0, min(cap, base * 2^n)], so many sites that lost the receiver at once do not return together.
// A success resets it. The random source is injected so tests are deterministic.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "daemon/core/clock.hpp"

namespace sennen::dispatch {

struct BackoffPolicy {
  std::chrono::milliseconds base{std::chrono::seconds(30)};
  std::chrono::milliseconds cap{std::chrono::minutes(30)};
};

class Backoff {
 public:
  // Returns a uniformly distributed integer in [0, max].
  using Random = std::function<std::uint64_t(std::uint64_t max)>;
  static Random seeded(std::uint64_t seed);  // reproducible (tests)
  static Random from_entropy();              // production

  explicit Backoff(BackoffPolicy policy = {}, Random random = from_entropy());

  // The longest wait after `failures_before` earlier consecutive failures: min(cap, base * 2^n).
  std::chrono::milliseconds ceiling(unsigned failures_before) const;
  // Records a failure at `now`; returns when the next attempt may start.
  TimePoint failed(TimePoint now);
  void succeeded();
  // The destination answered a probe: the next attempt may start now. The failure count stays, so
  // should that attempt fail too, the wait after it keeps growing.
  void expedite() { next_.reset(); }
  // True once the wait is over, or when it would last longer than the cap: the wall clock was
  // stepped back (an RTC running fast, corrected by NTP), and waiting out the step is no backoff.
  bool ready(TimePoint now) const;
  unsigned consecutive_failures() const { return failures_; }
  std::optional<TimePoint> next_attempt() const { return next_; }

 private:
  BackoffPolicy policy_;
  Random random_;
  unsigned failures_ = 0;
  std::optional<TimePoint> next_;
};

}  // namespace sennen::dispatch
