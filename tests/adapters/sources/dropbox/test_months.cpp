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
    return stats.events;
  };
  // Installed on 10 March: February's files are due by 25 March; January's are not asked for.
  CHECK(report(jst(2025, 3, 10)).empty());
  CHECK(report(jst(2025, 3, 25)).empty());
  auto late = report(jst(2025, 3, 26));
  CHECK(late["care month missing"].count("uke-medical 2025-02") == 1);
  CHECK(late["care month missing"].count("dpc 2025-02") == 1);
  CHECK(late["care month missing"]["dpc 2025-02"].last_poll == 1);  // a problem while it lasts
  CHECK(late["care month missing"].count("uke-medical 2025-01") == 0);
  {
    spool::Spool::Transaction tx(spool);
    note_arrived(*state, "uke-medical", "202502");
    tx.commit();
  }
  auto later = report(jst(2025, 4, 1));
  CHECK(later["care month arrived"].count("uke-medical 2025-02") == 1);
  CHECK(later["care month arrived"]["uke-medical 2025-02"].last_poll == 0);
  CHECK(later["care month missing"].count("uke-medical 2025-02") == 0);
  CHECK(later["care month missing"].count("dpc 2025-02") == 1);
}
