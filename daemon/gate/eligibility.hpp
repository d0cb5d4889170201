#pragma once
// The opt-out and notification gate (提供停止 / 通知): a record may leave the box only if its
// patient is not on the stop list AND, when notification is configured, a visit of theirs on or
// after notice_start was seen in the data at least wait_days ago. Pure decisions; the visits
// and the applied stop list are kept in the spool.
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "daemon/core/clock.hpp"

namespace sennen::gate {

enum class Decision { eligible, stopped, not_notified };

struct NotificationRule {
  int notice_start_day = 0;  // days since 1970-01-01
  int wait_days = 30;
};

class Gate {
 public:
  Gate(std::optional<NotificationRule> rule, int utc_offset_minutes)
      : rule_(rule), utc_offset_minutes_(utc_offset_minutes) {}

  // Every stopped canonical key: the stop-list file's and those retained after leaving it
  // (spool::Spool::apply_stop_list). Only this set decides; the file is only its input.
  void set_stopped(std::set<std::string> keys) { stopped_ = std::move(keys); }
  const std::set<std::string>& stopped() const { return stopped_; }
  bool is_stopped(std::string_view patient_key) const { return stopped_.count(std::string(patient_key)) > 0; }

  // The site's calendar day (days since 1970-01-01) at `now`.
  int today(TimePoint now) const;
  const std::optional<NotificationRule>& notification() const { return rule_; }

  // `first_visit_day`: the patient's first visit on or after notice_start, if any was seen.
  Decision decide(std::string_view patient_key, std::optional<int> first_visit_day, TimePoint now) const;
  // The latest first-visit day that makes a patient eligible today (for release queries).
  std::optional<int> eligible_if_visited_by(TimePoint now) const;

 private:
  std::optional<NotificationRule> rule_;
  int utc_offset_minutes_;
  std::set<std::string> stopped_;
};

// "YYYYMMDD" -> days since 1970-01-01; nullopt when not a real date.
std::optional<int> day_from_yyyymmdd(std::string_view s);
// days since 1970-01-01 -> "YYYYMMDD" / "YYYY-MM-DD".
std::string yyyymmdd(int day);

}  // namespace sennen::gate
