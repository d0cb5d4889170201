#pragma once
#include "daemon/core/clock.hpp"

namespace sennen::test {

// A clock that moves only when the test says so.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = std::chrono::system_clock::now()) : now_(start) {}
  TimePoint now() const override { return now_; }
  void advance(std::chrono::seconds s) { now_ += s; }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

}  // namespace sennen::test
