// The upload window: plain and past-midnight ranges, "always", and the next opening across days,
// months and years in Japan's +09:00 (and a negative offset), checked against brute force.
#include <doctest/doctest.h>

#include "daemon/dispatch/window.hpp"
#include "tests/daemon/dispatch/time_helpers.hpp"

using sennen::TimePoint;
using sennen::TimeWindow;
using sennen::dispatch::Window;
using sennen::test::utc;
using namespace std::chrono_literals;

namespace {
constexpr int kTokyo = 9 * 60;
// JST wall clock -> instant.
TimePoint jst(int y, unsigned mo, unsigned d, int h, int mi, int s = 0) { return utc(y, mo, d, h, mi, s) - 9h; }
}  // namespace

TEST_CASE("01:00-05:00 in +09:00 is open from 01:00 to just before 05:00 Japan time") {
  Window w(TimeWindow{60, 300}, kTokyo);
  CHECK_FALSE(w.always());
  CHECK_FALSE(w.allows(jst(2026, 11, 25, 0, 59, 59)));
  CHECK(w.allows(jst(2026, 11, 25, 1, 0)));
  CHECK(w.allows(utc(2026, 11, 24, 16, 0)));  // the same instant written in UTC
  CHECK(w.allows(jst(2026, 11, 25, 4, 59, 59)));
  CHECK_FALSE(w.allows(jst(2026, 11, 25, 5, 0)));
  CHECK_FALSE(w.allows(jst(2026, 11, 25, 13, 0)));
  // 01:00 UTC is 10:00 in Tokyo: closed, whatever the UTC hour suggests.
  CHECK_FALSE(w.allows(utc(2026, 11, 25, 1, 30)));
}

TEST_CASE("a window that wraps past midnight") {
  Window w(TimeWindow{22 * 60, 5 * 60}, kTokyo);
  CHECK(w.allows(jst(2026, 11, 25, 22, 0)));
  CHECK(w.allows(jst(2026, 11, 25, 23, 59, 59)));
  CHECK(w.allows(jst(2026, 11, 26, 0, 0)));
  CHECK(w.allows(jst(2026, 11, 26, 4, 59, 59)));
  CHECK_FALSE(w.allows(jst(2026, 11, 26, 5, 0)));
  CHECK_FALSE(w.allows(jst(2026, 11, 26, 12, 0)));
  CHECK_FALSE(w.allows(jst(2026, 11, 26, 21, 59, 59)));
  CHECK(w.next_open(jst(2026, 11, 26, 12, 0)) == jst(2026, 11, 26, 22, 0));
  CHECK(w.next_open(jst(2026, 11, 26, 5, 0)) == jst(2026, 11, 26, 22, 0));
  const TimePoint inside = jst(2026, 11, 26, 3, 0);
  CHECK(w.next_open(inside) == inside);
}

TEST_CASE("no window, or a default-constructed one, is always open") {
  Window w;
  CHECK(w.always());
  for (TimePoint t : {utc(2026, 1, 1, 0, 0), utc(2026, 6, 30, 12, 34, 56), utc(1999, 12, 31, 23, 59, 59)}) {
    CHECK(w.allows(t));
    CHECK(w.next_open(t) == t);
  }
  CHECK(Window(std::nullopt, kTokyo).always());
  const Window night(TimeWindow{60, 300}, kTokyo);
  CHECK_FALSE(night.always());
  CHECK(night.allows(jst(2026, 3, 1, 2, 0)));
  // The whole day written out is open at every minute too.
  Window whole(TimeWindow{0, 24 * 60}, kTokyo);
  CHECK(whole.allows(jst(2026, 3, 1, 0, 0)));
  CHECK(whole.allows(jst(2026, 3, 1, 23, 59, 59)));
}

TEST_CASE("next_open is later the same day, or the next day, in site time") {
  Window w(TimeWindow{60, 300}, kTokyo);
  // 00:30 JST: opens in 30 minutes, though in UTC that is still the previous day.
  CHECK(w.next_open(jst(2026, 11, 25, 0, 30)) == jst(2026, 11, 25, 1, 0));
  // 05:00 JST: today's window just closed; tomorrow's.
  CHECK(w.next_open(jst(2026, 11, 25, 5, 0)) == jst(2026, 11, 26, 1, 0));
  CHECK(w.next_open(jst(2026, 11, 25, 23, 59, 59)) == jst(2026, 11, 26, 1, 0));
  // Across a month end, a year end and a leap day.
  CHECK(w.next_open(jst(2026, 11, 30, 12, 0)) == jst(2026, 12, 1, 1, 0));
  CHECK(w.next_open(jst(2026, 12, 31, 6, 0)) == jst(2027, 1, 1, 1, 0));
  CHECK(w.next_open(jst(2028, 2, 28, 6, 0)) == jst(2028, 2, 29, 1, 0));
  // Sub-second remainders do not leak into the opening time.
  CHECK(w.next_open(jst(2026, 11, 25, 0, 30) + 250ms) == jst(2026, 11, 25, 1, 0));
}

TEST_CASE("a negative offset") {
  Window w(TimeWindow{60, 300}, -5 * 60);  // 01:00-05:00 at UTC-5 is 06:00-10:00 UTC
  CHECK_FALSE(w.allows(utc(2026, 11, 25, 5, 59)));
  CHECK(w.allows(utc(2026, 11, 25, 6, 0)));
  CHECK_FALSE(w.allows(utc(2026, 11, 25, 10, 0)));
  CHECK(w.next_open(utc(2026, 11, 25, 10, 0)) == utc(2026, 11, 26, 6, 0));
}

TEST_CASE("next_open agrees with a minute-by-minute search") {
  const TimeWindow ranges[] = {{60, 300}, {22 * 60, 5 * 60}, {0, 1}, {23 * 60 + 59, 24 * 60}, {12 * 60, 0}};
  for (const auto& r : ranges) {
    for (int offset : {kTokyo, 0, -5 * 60, 5 * 60 + 30}) {
      Window w(r, offset);
      for (TimePoint t = utc(2026, 12, 30, 0, 0); t < utc(2027, 1, 2, 0, 0); t += 37min) {
        const TimePoint got = w.next_open(t);
        CHECK(got >= t);
        CHECK(w.allows(got));
        TimePoint probe = std::chrono::floor<std::chrono::minutes>(t);
        if (probe < t) probe += 1min;
        TimePoint first = probe;
        while (!w.allows(first)) first += 1min;
        CHECK_MESSAGE(got == (w.allows(t) ? t : first),
                      "window " << r.start_minute << "-" << r.end_minute << " offset " << offset);
      }
    }
  }
}
