#include "daemon/gate/eligibility.hpp"

#include <cstdio>

namespace sennen::gate {
namespace chr = std::chrono;

int Gate::today(TimePoint now) const {
  auto local = chr::floor<chr::minutes>(now) + chr::minutes(utc_offset_minutes_);
  return static_cast<int>(chr::floor<chr::days>(local).time_since_epoch().count());
}

Decision Gate::decide(std::string_view patient_key, std::optional<int> first_visit_day, TimePoint now) const {
  if (is_stopped(patient_key)) return Decision::stopped;
  if (!rule_) return Decision::eligible;
  if (!first_visit_day || *first_visit_day < rule_->notice_start_day) return Decision::not_notified;
  return *first_visit_day + rule_->wait_days <= today(now) ? Decision::eligible : Decision::not_notified;
}

std::optional<int> Gate::eligible_if_visited_by(TimePoint now) const {
  if (!rule_) return std::nullopt;
  return today(now) - rule_->wait_days;
}

std::optional<int> day_from_yyyymmdd(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  int y = std::stoi(std::string(s.substr(0, 4))), m = std::stoi(std::string(s.substr(4, 2))),
      d = std::stoi(std::string(s.substr(6, 2)));
  chr::year_month_day ymd{chr::year(y), chr::month(static_cast<unsigned>(m)), chr::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return std::nullopt;
  return static_cast<int>(chr::sys_days(ymd).time_since_epoch().count());
}

std::string yyyymmdd(int day) {
  chr::year_month_day ymd{chr::sys_days(chr::days(day))};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d%02u%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

}  // namespace sennen::gate
