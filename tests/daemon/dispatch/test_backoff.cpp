// Backoff: the ceiling doubles from 30 s to the 30 min cap, every wait lies in [0, ceiling],
// a success resets it, and a seeded random source makes the sequence reproducible.
#include <doctest/doctest.h>

#include <vector>

#include "daemon/dispatch/backoff.hpp"
#include "tests/support/manual_clock.hpp"

using sennen::dispatch::Backoff;
using sennen::dispatch::BackoffPolicy;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {
// A random source that always answers the largest allowed value, recording what it was asked.
struct Largest {
  std::vector<std::uint64_t>* asked;
  std::uint64_t operator()(std::uint64_t max) const {
    asked->push_back(max);
    return max;
  }
};
}  // namespace

TEST_CASE("the ceiling doubles from the base and stops at the cap") {
  Backoff b;  // defaults: 30 s base, 30 min cap
  CHECK(b.ceiling(0) == 30s);
  CHECK(b.ceiling(1) == 60s);
  CHECK(b.ceiling(2) == 120s);
  CHECK(b.ceiling(5) == 960s);
  CHECK(b.ceiling(6) == 1800s);  // 1920 s capped
  CHECK(b.ceiling(7) == 1800s);
  CHECK(b.ceiling(1000) == 1800s);  // no overflow after a long outage
  Backoff small(BackoffPolicy{1s, 5s});
  CHECK(small.ceiling(2) == 4s);
  CHECK(small.ceiling(3) == 5s);
}

TEST_CASE("every wait lies in [0, ceiling] and the random source is asked for exactly that range") {
  sennen::test::ManualClock clock;
  std::vector<std::uint64_t> asked;
  Backoff b(BackoffPolicy{}, Largest{&asked});
  CHECK(b.ready(clock.now()));
  CHECK(b.consecutive_failures() == 0);
  for (unsigned n = 0; n < 10; ++n) {
    const auto next = b.failed(clock.now());
    CHECK(next - clock.now() == b.ceiling(n));
    CHECK(b.consecutive_failures() == n + 1);
    CHECK_FALSE(b.ready(clock.now()));
    CHECK(b.ready(next));
    clock.set(next);
  }
  REQUIRE(asked.size() == 10);
  CHECK(asked[0] == 30000);
  CHECK(asked[3] == 240000);
  CHECK(asked[9] == 1800000);

  // With a real (seeded) source: always within bounds, and actually spread out.
  Backoff r(BackoffPolicy{}, Backoff::seeded(7));
  std::vector<milliseconds> first_waits;
  for (int round = 0; round < 200; ++round) {
    for (unsigned n = 0; n < 12; ++n) {
      const auto now = clock.now();
      const auto wait = std::chrono::duration_cast<milliseconds>(r.failed(now) - now);
      CHECK(wait >= 0ms);
      CHECK(wait <= r.ceiling(n));
      CHECK(wait <= 30min);
      if (n == 0) first_waits.push_back(wait);
    }
    r.succeeded();
  }
  milliseconds sum{0}, lo = 30s, hi = 0ms;
  for (auto w : first_waits) {
    sum += w;
    lo = std::min(lo, w);
    hi = std::max(hi, w);
  }
  const auto mean = sum / static_cast<int>(first_waits.size());
  CHECK(mean > 11s);  // uniform on [0, 30 s]: mean 15 s
  CHECK(mean < 19s);
  CHECK(lo < 5s);
  CHECK(hi > 25s);
}

TEST_CASE("a success resets the count and the wait") {
  sennen::test::ManualClock clock;
  std::vector<std::uint64_t> asked;
  Backoff b(BackoffPolicy{}, Largest{&asked});
  for (int i = 0; i < 5; ++i) b.failed(clock.now());
  CHECK(b.consecutive_failures() == 5);
  CHECK(b.next_attempt().has_value());
  b.succeeded();
  CHECK(b.consecutive_failures() == 0);
  CHECK_FALSE(b.next_attempt().has_value());
  CHECK(b.ready(clock.now()));
  // The next failure starts again from the base.
  CHECK(b.failed(clock.now()) - clock.now() == 30s);
}

// Found by review: the wait is kept on the wall clock, so a clock stepped back a day (a fast RTC
// corrected by NTP after the failure) put off every delivery for that day.
TEST_CASE("a wall clock stepped back after a failure does not stretch the wait beyond the cap") {
  const sennen::TimePoint t = sennen::test::ManualClock().now();
  std::vector<std::uint64_t> asked;
  Backoff b(BackoffPolicy{}, Largest{&asked});
  for (int i = 0; i < 8; ++i) b.failed(t);  // the longest wait: the 30 min cap, from t
  CHECK_FALSE(b.ready(t));
  CHECK_FALSE(b.ready(t + 29min));
  CHECK(b.ready(t + 30min));
  CHECK(b.ready(t - 24h));  // the clock stepped back a day: more than the cap left, so not a wait
  CHECK(b.ready(t - 1s));
}

TEST_CASE("the same seed gives the same waits; another seed does not") {
  sennen::test::ManualClock clock;
  auto waits = [&](std::uint64_t seed) {
    Backoff b(BackoffPolicy{}, Backoff::seeded(seed));
    std::vector<sennen::TimePoint::duration> out;
    for (int i = 0; i < 20; ++i) out.push_back(b.failed(clock.now()) - clock.now());
    return out;
  };
  CHECK(waits(42) == waits(42));
  CHECK(waits(42) != waits(43));
}
