#pragma once
// A daily time range, shared by the configuration (schedule.upload_window) and the dispatcher
// that honours it.

namespace sennen {

// Minutes since local midnight: [start, end). end <= start wraps past midnight ("22:00-05:00");
// end may be 1440 ("24:00").
struct TimeWindow {
  int start_minute = 0;
  int end_minute = 24 * 60;
  friend bool operator==(const TimeWindow&, const TimeWindow&) = default;
};

}  // namespace sennen
