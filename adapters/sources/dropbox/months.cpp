#include "adapters/sources/dropbox/months.hpp"

#include <ctime>

namespace sennen::dropbox {
namespace {
constexpr const char* kMonthsKey = "#months";  // units "<kind>/<YYYYMM>": arrived
constexpr const char* kSinceKey = "#since";    // unit "first": its status is the first month run
}  // namespace

std::string add_months(const std::string& yyyymm, int months) {
  int index = std::stoi(yyyymm.substr(0, 4)) * 12 + std::stoi(yyyymm.substr(4, 2)) - 1 + months;
  char buf[24];
  std::snprintf(buf, sizeof buf, "%04d%02d", index / 12, index % 12 + 1);
  return buf;
}

std::pair<std::string, int> site_month_day(TimePoint now, int utc_offset_minutes) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now) + utc_offset_minutes * 60;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[24];
  std::snprintf(buf, sizeof buf, "%04d%02d", tm.tm_year + 1900, tm.tm_mon + 1);
  return {buf, tm.tm_mday};
}

void note_arrived(SourceState& state, const std::string& kind, const std::string& care_month) {
  state.put_unit(kMonthsKey, {kind + "/" + care_month, 0, 0, 0, "arrived"});
}

void report_months(const MonthRules& rules, TimePoint now, SourceState& state, SourceStats& stats) {
  const auto [month, day] = site_month_day(now, rules.utc_offset_minutes);
  std::string since;
  for (const auto& u : state.units(kSinceKey)) since = u.status;
  if (since.empty()) {
    // The care month whose files are due after the box started (the month before it).
    since = add_months(month, -1);
    state.put_unit(kSinceKey, {"first", 0, 0, 0, since});
  }
  const auto arrived = state.units(kMonthsKey);
  auto has = [&](const std::string& name) {
    for (const auto& u : arrived)
      if (u.name == name) return true;
    return false;
  };
  for (int back = 12; back >= 1; --back) {
    const std::string care = add_months(month, -back);
    // Due by deadline_day of the month after: missing once that day is over.
    const std::string due_month = add_months(care, 1);
    const bool overdue = month > due_month || (month == due_month && day > rules.deadline_day);
    const std::string shown = care.substr(0, 4) + "-" + care.substr(4);
    for (const auto& kind : rules.expect) {
      const char* calendar_state = has(kind + "/" + care) ? kMonthArrived
                                   : care < since         ? kMonthBeforeStart
                                   : overdue              ? kMonthMissing
                                                          : kMonthNotDue;
      stats.months[kind][shown] = calendar_state;
    }
  }
}

}  // namespace sennen::dropbox
