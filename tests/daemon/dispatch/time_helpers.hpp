#pragma once
// Instants written as UTC calendar times, so each test states the wall clock it means.
#include <chrono>

#include "daemon/core/clock.hpp"

namespace sennen::test {

inline TimePoint utc(int y, unsigned mo, unsigned d, int h, int mi, int s = 0) {
  using namespace std::chrono;
  return sys_days(year(y) / month(mo) / day(d)) + hours(h) + minutes(mi) + seconds(s);
}

}  // namespace sennen::test
