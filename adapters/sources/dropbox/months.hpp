#pragma once
// Month bookkeeping of the drop folder: which care months of each expected kind have arrived, and
// which are missing once their deadline (deadline_day of the month after the care month, 25 by
// default, as the network asks) has passed. Reported as the source's calendar (SourceStats::months:
// heartbeat sources[].months, the `missing_month` problem, `sennen-edgectl status`, sennen-fleet):
// for each expected kind, each of the last 12 care months is arrived, missing, not due yet, or
// before start (a site is not told that months before it installed the box are missing).
#include <chrono>
#include <string>
#include <vector>

#include "daemon/core/source.hpp"

namespace sennen::dropbox {

struct MonthRules {
  std::vector<std::string> expect;  // kinds: uke-medical, uke-dpc, dpc
  int deadline_day = 25;
  int utc_offset_minutes = 9 * 60;
};

// YYYYMM of `yyyymm` shifted by `months`.
std::string add_months(const std::string& yyyymm, int months);
// The site's current month (YYYYMM) and day of month.
std::pair<std::string, int> site_month_day(TimePoint now, int utc_offset_minutes);

// Records that a care month of a kind arrived (kept in the source's state).
void note_arrived(SourceState& state, const std::string& kind, const std::string& care_month);
// Fills stats.months with the calendar as of `now`; the first call remembers the month the
// source started.
void report_months(const MonthRules& rules, TimePoint now, SourceState& state, SourceStats& stats);

}  // namespace sennen::dropbox
