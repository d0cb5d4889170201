// The dispatcher: the window gates sending unless ignored (--once); a retry or a refusal backs
// off and never gives up; a refusal marks the destination failing until a success.
#include <doctest/doctest.h>

#include "daemon/dispatch/dispatcher.hpp"
#include "tests/daemon/dispatch/time_helpers.hpp"
#include "tests/support/manual_clock.hpp"

using sennen::DeliveryResult;
using sennen::TimeWindow;
using namespace sennen::dispatch;
using sennen::test::utc;
using namespace std::chrono_literals;

namespace {
const DeliveryResult kDelivered = DeliveryResult::delivered();
const DeliveryResult kRetry = DeliveryResult::retry("connection refused by 127.0.0.1:8443");
const DeliveryResult kRejected = DeliveryResult::rejected("403 Forbidden: renew the site certificate");
}  // namespace

TEST_CASE("outside the window nothing goes unless the window is ignored") {
  sennen::test::ManualClock clock(utc(2026, 11, 25, 3, 0));  // 12:00 in Tokyo
  Dispatcher d(Window(TimeWindow{60, 300}, 9 * 60), Backoff(BackoffPolicy{}, Backoff::seeded(1)));
  CHECK(d.check(clock.now()) == Clearance::outside_window);
  CHECK(d.check(clock.now(), true) == Clearance::go);
  auto s = d.status(clock.now());
  REQUIRE(s.next_window_open.has_value());
  CHECK(*s.next_window_open == utc(2026, 11, 25, 16, 0));  // 01:00 on the 26th in Tokyo
  CHECK(describe(Clearance::outside_window, s).find("2026-11-25T16:00:00Z") != std::string::npos);
  clock.set(utc(2026, 11, 25, 16, 0));
  CHECK(d.check(clock.now()) == Clearance::go);
  CHECK_FALSE(d.status(clock.now()).next_window_open.has_value());
}

TEST_CASE("a retry backs off until the next attempt time, a success clears it") {
  sennen::test::ManualClock clock(utc(2026, 11, 25, 0, 0));
  Dispatcher d(Window(), Backoff(BackoffPolicy{}, [](std::uint64_t max) { return max; }));
  CHECK(d.check(clock.now()) == Clearance::go);
  d.record(kRetry, clock.now());
  auto s = d.status(clock.now());
  CHECK(s.consecutive_failures == 1);
  REQUIRE(s.next_attempt_at.has_value());
  CHECK(*s.next_attempt_at == clock.now() + 30s);
  CHECK_FALSE(s.rejected);
  CHECK(s.last_error == kRetry.reason);
  CHECK(d.check(clock.now()) == Clearance::backing_off);
  CHECK(d.check(clock.now(), true) == Clearance::backing_off);  // --once ignores the window, not the backoff
  clock.advance(29s);
  CHECK(d.check(clock.now()) == Clearance::backing_off);
  clock.advance(1s);
  CHECK(d.check(clock.now()) == Clearance::go);
  d.record(kRetry, clock.now());
  CHECK(d.status(clock.now()).next_attempt_at == clock.now() + 60s);
  clock.advance(60s);
  d.record(kDelivered, clock.now());
  s = d.status(clock.now());
  CHECK(s.consecutive_failures == 0);
  CHECK_FALSE(s.next_attempt_at.has_value());
  CHECK(s.last_error.empty());
  CHECK(d.check(clock.now()) == Clearance::go);
}

TEST_CASE("a refusal marks the destination failing and keeps being retried at the cap") {
  sennen::test::ManualClock clock(utc(2026, 11, 25, 0, 0));
  Dispatcher d(Window(), Backoff(BackoffPolicy{}, Backoff::seeded(99)));
  for (int i = 0; i < 50; ++i) {
    // However many refusals, the next attempt comes within the 30-minute cap.
    while (d.check(clock.now()) != Clearance::go) {
      const auto next = d.status(clock.now()).next_attempt_at;
      REQUIRE(next.has_value());
      CHECK(*next - clock.now() <= 30min);
      clock.set(*next);
    }
    d.record(kRejected, clock.now());
    auto s = d.status(clock.now());
    CHECK(s.rejected);
    CHECK(s.last_error == kRejected.reason);
    CHECK(s.consecutive_failures == static_cast<unsigned>(i + 1));
  }
  // The operator installed a new certificate: the next attempt succeeds and everything clears.
  clock.advance(30min);
  CHECK(d.check(clock.now()) == Clearance::go);
  d.record(kDelivered, clock.now());
  auto s = d.status(clock.now());
  CHECK_FALSE(s.rejected);
  CHECK(s.consecutive_failures == 0);
  CHECK(s.last_error.empty());
}
