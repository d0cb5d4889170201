#pragma once
// The daily upload window (config `schedule.upload_window`) in a fixed-offset time zone. Hospital
// networks are busy by day; batches go out only inside the window. Pure: callers pass the time.
#include <optional>

#include "daemon/core/clock.hpp"
#include "daemon/core/time_window.hpp"

namespace sennen::dispatch {

class Window {
 public:
  Window() = default;  // always open
  // `range` none: always open.
  Window(std::optional<TimeWindow> range, int utc_offset_minutes);

  bool always() const { return !range_.has_value(); }
  bool allows(TimePoint t) const;
  // `t` itself when the window is open at `t`, otherwise the first moment after it opens.
  TimePoint next_open(TimePoint t) const;

 private:
  std::optional<TimeWindow> range_;
  int offset_minutes_ = 0;
};

}  // namespace sennen::dispatch
