#include "daemon/dispatch/window.hpp"

namespace sennen::dispatch {
namespace {
using std::chrono::seconds;
constexpr long long kDay = 24 * 3600;

// Seconds since local midnight. Floor division, so instants before 1970 (tests) work too.
long long second_of_day(TimePoint t, int offset_minutes) {
  const long long local = std::chrono::floor<seconds>(t).time_since_epoch().count() + offset_minutes * 60LL;
  return ((local % kDay) + kDay) % kDay;
}
}  // namespace

Window::Window(std::optional<TimeWindow> range, int utc_offset_minutes)
    : range_(range), offset_minutes_(utc_offset_minutes) {}

bool Window::allows(TimePoint t) const {
  if (!range_) return true;
  const long long s = second_of_day(t, offset_minutes_);
  const long long start = range_->start_minute * 60LL, end = range_->end_minute * 60LL;
  if (start < end) return s >= start && s < end;
  return s >= start || s < end;  // wraps past midnight, e.g. 22:00-05:00
}

TimePoint Window::next_open(TimePoint t) const {
  if (allows(t)) return t;
  const long long s = second_of_day(t, offset_minutes_);
  long long wait = range_->start_minute * 60LL - s;
  if (wait <= 0) wait += kDay;  // today's opening has passed: tomorrow's
  return std::chrono::floor<seconds>(t) + seconds(wait);
}

}  // namespace sennen::dispatch
