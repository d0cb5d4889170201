#include "daemon/metrics/health.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "daemon/util/name_text.hpp"

namespace sennen::metrics {

Health health(const Snapshot& s, config::Seconds max_pending, std::int64_t now) {
  Health h;
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& m : s.sources) {
    // Before its first success the clock runs from the start of the service.
    const std::int64_t since = m.last_success ? m.last_success : s.started_at;
    const std::int64_t late_after = kPollsLate * m.poll_interval_seconds;
    // A long cycle (a big first ingest, hours of uploads) delays the next poll; that is progress,
    // unless the last poll itself failed.
    const bool excused = s.cycle_running && m.last_error.empty();
    const bool late = now - since > late_after && !excused;
    if (late)
      h.problems.push_back("source " + m.name + ": no successful poll for " + std::to_string(now - since) +
                           " s (poll_interval " + std::to_string(m.poll_interval_seconds) + " s)" +
                           (m.last_error.empty() ? "" : ": " + m.last_error));
    sources.push_back({{"name", m.name},
                       {"last_success", m.last_success},
                       {"seconds_since_success", now - since},
                       {"late", late},
                       {"last_error", m.last_error}});
  }
  std::int64_t oldest = 0;
  for (std::int64_t at : {s.depth.oldest_pending_at, s.outbox_oldest_at})
    if (at > 0) oldest = oldest ? std::min(oldest, at) : at;
  const std::int64_t oldest_age = oldest ? std::max<std::int64_t>(0, now - oldest) : 0;
  if (oldest_age > max_pending.count())
    h.problems.push_back(
        "the oldest record or batch waiting to leave is " + std::to_string(oldest_age) +
        " s old (more than metrics.max_pending_age, " + std::to_string(max_pending.count()) + " s); destination: " +
        (s.destination.last_error.empty() ? std::string("no error reported") : s.destination.last_error));
  // Everything else the heartbeat counts as failing (its "stuck" is measured live above).
  for (const auto& p : s.problems)
    if (p.code != "stuck") h.problems.push_back(p.message);
  h.ok = h.problems.empty();
  nlohmann::json j{{"status", h.ok ? "ok" : "failing"},
                   {"problems", h.problems},
                   {"sources", sources},
                   {"oldest_pending_age_seconds", oldest_age},
                   {"max_pending_age_seconds", max_pending.count()},
                   {"destination_consecutive_failures", s.destination.consecutive_failures}};
  util::one_line_strings(j);  // errors may quote names from a source tree: any bytes
  h.json = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return h;
}

}  // namespace sennen::metrics
