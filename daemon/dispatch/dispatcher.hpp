#pragma once
// Whether the pipeline may send a batch now, and what the last deliveries said. One per
// destination; the pipeline asks before every batch (so an upload running when the window closes
// finishes its current batch and stops) and reports every result.
//
// A failed delivery never drops the batch. `retry` (network, timeout, 5xx, 408, 429) and
// `rejected` (other refusals, e.g. 403 after a certificate change) both back off; a rejection
// also marks the destination failing with its reason until a delivery succeeds, and keeps being
// retried at the capped interval so an operator's fix (a new certificate) is picked up without a
// restart. The state lives in memory: a restart (or reload) tries again at once.
#include <optional>
#include <string>

#include "daemon/core/destination.hpp"
#include "daemon/dispatch/backoff.hpp"
#include "daemon/dispatch/window.hpp"

namespace sennen::dispatch {

enum class Clearance { go, outside_window, backing_off };

struct Status {
  unsigned consecutive_failures = 0;
  std::optional<TimePoint> next_attempt_at;   // while backing off
  std::optional<TimePoint> next_window_open;  // while the window is closed
  bool rejected = false;                      // the last failure was a refusal, not a fault
  std::string last_error;                     // empty after a success
};

class Dispatcher {
 public:
  explicit Dispatcher(Window window = {}, Backoff backoff = Backoff());

  // `ignore_window`: `sennen-edged --once`, which an operator runs on purpose.
  Clearance check(TimePoint now, bool ignore_window = false) const;
  void record(const DeliveryResult& result, TimePoint now);

  // While backing off, a cheap probe (the heartbeat PUT) may ask whether the destination answers
  // again, so a receiver fixed after a few failures is used within seconds instead of at the end
  // of a doubled wait. The first probe comes kProbeMin after a failure; the spacing then grows with
  // the failure streak (an eighth of the current backoff ceiling, at most kProbeMax), so a fault
  // that only batches meet (the heartbeat passes, the batch fails) is not retried every few seconds.
  static constexpr std::chrono::seconds kProbeMin{15};
  static constexpr std::chrono::seconds kProbeMax{300};
  // When the next probe is due; none while not backing off.
  std::optional<TimePoint> next_probe_at() const;
  // A probe's answer: delivered ends the wait (the next attempt may start now).
  void probed(const DeliveryResult& result, TimePoint now);
  Status status(TimePoint now) const;
  const Window& window() const { return window_; }

 private:
  Window window_;
  Backoff backoff_;
  TimePoint last_probe_{};  // or the last failure, whichever came later
  bool rejected_ = false;
  std::string last_error_;
};

// "upload window closed until 2026-11-26T01:00:00Z" and the like, for logs and STATUS.
std::string describe(Clearance c, const Status& s);

}  // namespace sennen::dispatch
