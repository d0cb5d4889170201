#include <doctest/doctest.h>

#include "adapters/sources/dropbox/months.hpp"
#include "daemon/spool/spool.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
using namespace sennen::dropbox;

namespace {
// Noon JST on the given day.
TimePoint jst(int y, int m, int d) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = m - 1;
  tm.tm_mday = d;
  tm.tm_hour = 3;  // 12:00 JST
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}
}  // namespace

TEST_CASE("months: a care month is missing once the 25th of the month after has passed, not before") {
  CHECK(add_months("202501", -1) == "202412");
  CHECK(add_months("202412", 1) == "202501");
  test::TempDir tmp;
  spool::Spool spool(tmp / "state");
  auto state = spool.source_state("monthly");
  const MonthRules rules{{"uke-medical", "dpc"}, 25, 9 * 60};
  auto report = [&](TimePoint now) {
    SourceStats stats;
    spool::Spool::Transaction tx(spool);
    report_months(rules, now, *state, stats);
    tx.commit();
    return stats.months;
  };
  // Installed on 10 March: February's files are due by 25 March; January's are not asked for.
  auto first = report(jst(2025, 3, 10));
  CHECK(first["uke-medical"].size() == 12);  // the last 12 care months, March 2024 to February 2025
  CHECK(first["uke-medical"]["2024-03"] == kMonthBeforeStart);
  CHECK(first["uke-medical"]["2025-01"] == kMonthBeforeStart);
  CHECK(first["uke-medical"]["2025-02"] == kMonthNotDue);
  CHECK(first["dpc"]["2025-02"] == kMonthNotDue);
  CHECK(report(jst(2025, 3, 25))["dpc"]["2025-02"] == kMonthNotDue);
  auto late = report(jst(2025, 3, 26));
  CHECK(late["uke-medical"]["2025-02"] == kMonthMissing);
  CHECK(late["dpc"]["2025-02"] == kMonthMissing);
  CHECK(late["uke-medical"]["2025-01"] == kMonthBeforeStart);
  {
    spool::Spool::Transaction tx(spool);
    note_arrived(*state, "uke-medical", "202502");
    tx.commit();
  }
  auto later = report(jst(2025, 4, 1));
  CHECK(later["uke-medical"]["2025-02"] == kMonthArrived);
  CHECK(later["dpc"]["2025-02"] == kMonthMissing);
  CHECK(later["dpc"]["2025-03"] == kMonthNotDue);
  CHECK(later.count("uke-dpc") == 0);  // not expected
  // The deadline day is the site's: with 10, March is missing on 11 April.
  const MonthRules early{{"dpc"}, 10, 9 * 60};
  SourceStats stats;
  spool::Spool::Transaction tx(spool);
  report_months(early, jst(2025, 4, 11), *state, stats);
  CHECK(stats.months["dpc"]["2025-03"] == kMonthMissing);
}
