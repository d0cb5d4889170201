#pragma once
// Time is injected: production code asks a Clock, tests drive a ManualClock (tests/support).
#include <chrono>

namespace sennen {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

}  // namespace sennen
