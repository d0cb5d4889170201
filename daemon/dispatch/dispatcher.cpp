#include "daemon/dispatch/dispatcher.hpp"

#include <algorithm>

#include "daemon/util/time_format.hpp"

namespace sennen::dispatch {
namespace {
std::string iso(TimePoint t) {
  return util::iso8601_utc(std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count());
}
}  // namespace

Dispatcher::Dispatcher(Window window, Backoff backoff) : window_(window), backoff_(std::move(backoff)) {}

Clearance Dispatcher::check(TimePoint now, bool ignore_window) const {
  if (!ignore_window && !window_.allows(now)) return Clearance::outside_window;
  if (!backoff_.ready(now)) return Clearance::backing_off;
  return Clearance::go;
}

void Dispatcher::record(const DeliveryResult& result, TimePoint now) {
  if (result.status == DeliveryResult::Status::delivered) {
    backoff_.succeeded();
    rejected_ = false;
    last_error_.clear();
    return;
  }
  rejected_ = result.status == DeliveryResult::Status::rejected;
  last_error_ = result.reason;
  backoff_.failed(now);
  last_probe_ = now;
}

std::optional<TimePoint> Dispatcher::next_probe_at() const {
  const unsigned failures = backoff_.consecutive_failures();
  if (failures == 0 || !backoff_.next_attempt()) return std::nullopt;
  const std::chrono::milliseconds spacing =
      std::clamp<std::chrono::milliseconds>(backoff_.ceiling(failures - 1) / 8, kProbeMin, kProbeMax);
  return last_probe_ + spacing;
}

void Dispatcher::probed(const DeliveryResult& result, TimePoint now) {
  last_probe_ = now;
  if (result.ok()) backoff_.expedite();
}

Status Dispatcher::status(TimePoint now) const {
  Status s;
  s.consecutive_failures = backoff_.consecutive_failures();
  if (s.consecutive_failures) s.next_attempt_at = backoff_.next_attempt();
  if (!window_.allows(now)) s.next_window_open = window_.next_open(now);
  s.rejected = rejected_;
  s.last_error = last_error_;
  return s;
}

std::string describe(Clearance c, const Status& s) {
  switch (c) {
    case Clearance::go:
      return "clear to send";
    case Clearance::outside_window:
      return "outside the upload window" + (s.next_window_open ? "; it opens at " + iso(*s.next_window_open) : "");
    case Clearance::backing_off:
      return "waiting after " + std::to_string(s.consecutive_failures) + " failed attempt(s)" +
             (s.next_attempt_at ? "; next attempt at " + iso(*s.next_attempt_at) : "");
  }
  return {};
}

}  // namespace sennen::dispatch
