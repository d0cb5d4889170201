#include "daemon/telemetry/health.hpp"

#include <algorithm>

namespace sennen::telemetry {
namespace {
std::string hours(std::int64_t seconds) {
  return seconds >= 7200 ? std::to_string(seconds / 3600) + " h" : std::to_string(seconds / 60) + " min";
}
std::string mib(std::uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }
}  // namespace

std::vector<Problem> assess(const HeartbeatInput& in) {
  std::vector<Problem> out;
  auto add = [&](const char* code, std::string message) { out.push_back({code, std::move(message)}); };
  for (const auto& s : in.sources) {
    if (!s.last_error.empty()) add("source", "source " + s.name + ": " + s.last_error);
    if (s.stats.unreadable > 0)
      add("unreadable", "source " + s.name + ": " + std::to_string(s.stats.unreadable) +
                            " path(s) cannot be read by the service user and are skipped (the rest flows; they are "
                            "tried again every poll): grant read and execute on folders, read on files "
                            "(`sennen-edgectl status` on the box names them)");
    for (const auto& [event, by_peer] : s.stats.events)
      for (const auto& [peer, n] : by_peer)
        if (n.last_poll > 0)
          add("source_event", "source " + s.name + ": " + event + " '" + peer + "': " + std::to_string(n.last_poll) +
                                  " since the previous poll (" + std::to_string(n.total) +
                                  " since the daemon started); the service log says why each time");
    std::string missing;
    for (const auto& [kind, calendar] : s.stats.months)
      for (const auto& [month, state] : calendar)
        if (state == kMonthMissing) missing += (missing.empty() ? "" : ", ") + kind + " " + month;
    if (!missing.empty())
      add("missing_month", "source " + s.name +
                               ": no file has arrived for care month(s) past their deadline: " + missing +
                               "; ask the hospital to put them in the drop folder (`sennen-edgectl status` "
                               "shows the calendar)");
  }
  if (!in.gate.paused_reason.empty()) add("stop_list", in.gate.paused_reason);
  if (!in.gate.attention.empty()) add("stop_list_retained", in.gate.attention);
  if (!in.flow.intake_paused.empty()) add("intake_paused", in.flow.intake_paused);
  if (!in.sealing_error.empty())
    add("sealing",
        "sealing failed in the last " + std::to_string(in.sealing_failures) + " cycle(s): " + in.sealing_error);
  if (!in.destination_error.empty()) add("destination", "destination " + in.destination + ": " + in.destination_error);
  for (const auto& c : in.certificates)
    if (!c.error.empty()) add("certificate", "the " + c.role + " certificate " + c.path.string() + ": " + c.error);

  // Stuck: a record or batch waiting to leave for longer than the site's schedule explains.
  std::int64_t oldest = 0;
  for (std::int64_t at : {in.depth.oldest_pending_at, in.oldest_batch_at})
    if (at > 0) oldest = oldest ? std::min(oldest, at) : at;
  if (in.pending_age_bound > 0 && oldest > 0 && in.now - oldest > in.pending_age_bound)
    add("stuck", "the oldest record or batch has waited " + hours(in.now - oldest) + " to leave (more than " +
                     hours(in.pending_age_bound) +
                     ", metrics.max_pending_age); see the destination's last error, "
                     "or run `sennen-edgectl queue` to see what waits");

  if (in.state_dir_free_needed > 0 && in.state_dir_total_bytes > 0 &&
      in.state_dir_free_bytes < in.state_dir_free_needed)
    add("disk", "state_dir has " + mib(in.state_dir_free_bytes) + " free, less than the " +
                    mib(in.state_dir_free_needed) + " the daemon needs to go on (" + in.state_dir_free_needed_why +
                    "); free space on that file system");

  if (in.abnormal_starts_in_window >= kCrashLoopStarts)
    add("crash_loop", std::to_string(in.abnormal_starts_in_window) + " starts within " +
                          hours(kCrashLoopWindowSeconds) +
                          " followed a run that did not end cleanly (a crash, a "
                          "kill or the watchdog); read the service's log before the last start (journalctl -u "
                          "sennen-edged) and report it");
  return out;
}

}  // namespace sennen::telemetry
