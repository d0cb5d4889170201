#pragma once
// The daily upload window (config `schedule.upload_window`) in a fixed-offset time zone. Hospital
// networks are busy by day; batches go out only inside the window. Pure: callers pass the time.
#include <optional>

#include "daemon/config/config.hpp"
#include "daemon/core/clock.hpp"

namespace sennen::dispatch {

class Window {
 public:
  Window() = default;  // always open
  Window(config::TimeWindow range, int utc_offset_minutes);
  static Window from(const config::Schedule& schedule);

  bool always() const { return !range_.has_value(); }
  bool allows(TimePoint t) const;
  // `t` itself when the window is open at `t`, otherwise the first moment after it opens.
  TimePoint next_open(TimePoint t) const;

 private:
  std::optional<config::TimeWindow> range_;
  int offset_minutes_ = 0;
};

}  // namespace sennen::dispatch
