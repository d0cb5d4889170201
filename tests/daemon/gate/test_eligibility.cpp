#include <doctest/doctest.h>

#include "daemon/gate/eligibility.hpp"

using namespace sennen;
using namespace std::chrono;

namespace {
// 2026-11-25 10:00 JST = 01:00 UTC.
TimePoint at(int y, unsigned m, unsigned d, int hour_utc) {
  return sys_days(year_month_day{year(y), month(m), day(d)}) + hours(hour_utc);
}
int day_of(int y, unsigned m, unsigned d) { return *gate::day_from_yyyymmdd(std::to_string(y * 10000 + m * 100 + d)); }
}  // namespace

TEST_CASE("gate: without notification only the stop list decides") {
  gate::Gate g(std::nullopt, 540);
  g.set_stopped({"12"});
  auto now = at(2026, 11, 25, 1);
  CHECK(g.decide("12", std::nullopt, now) == gate::Decision::stopped);
  CHECK(g.decide("13", std::nullopt, now) == gate::Decision::eligible);
}

TEST_CASE("gate: notified means a visit on/after notice_start at least wait_days ago, in site time") {
  gate::Gate g(gate::NotificationRule{day_of(2026, 4, 1), 30}, 540);
  g.set_stopped({"12"});
  auto now = at(2026, 11, 25, 1);  // site date 2026-11-25
  CHECK(g.today(now) == day_of(2026, 11, 25));
  CHECK(g.today(at(2026, 11, 24, 16)) == day_of(2026, 11, 25));  // 01:00 JST already the 25th
  CHECK(g.today(at(2026, 11, 24, 14)) == day_of(2026, 11, 24));

  CHECK(g.decide("1", std::nullopt, now) == gate::Decision::not_notified);
  CHECK(g.decide("1", day_of(2026, 3, 31), now) == gate::Decision::not_notified);   // before notice_start
  CHECK(g.decide("1", day_of(2026, 10, 26), now) == gate::Decision::eligible);      // exactly 30 days
  CHECK(g.decide("1", day_of(2026, 10, 27), now) == gate::Decision::not_notified);  // 29 days
  CHECK(g.decide("12", day_of(2026, 5, 1), now) == gate::Decision::stopped);        // stop list wins
  CHECK(g.eligible_if_visited_by(now) == day_of(2026, 10, 26));
}

TEST_CASE("gate: dates") {
  CHECK(gate::day_from_yyyymmdd("19700101") == 0);
  CHECK(gate::day_from_yyyymmdd("20240229").has_value());
  CHECK_FALSE(gate::day_from_yyyymmdd("20230229").has_value());
  CHECK_FALSE(gate::day_from_yyyymmdd("2024-1-1").has_value());
  CHECK(gate::yyyymmdd(*gate::day_from_yyyymmdd("20261125")) == "20261125");
}
