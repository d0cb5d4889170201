#include "daemon/app/metrics_collector.hpp"

#include <map>

namespace sennen::app {

using metrics::Snapshot;
using metrics::SourceMetrics;

MetricsCollector::MetricsCollector(const config::Config& cfg, std::int64_t started_at) {
  s_.started_at = started_at;
  reconfigure(cfg);
}

void MetricsCollector::reconfigure(const config::Config& cfg) {
  std::lock_guard lock(mutex_);
  std::map<std::string, SourceMetrics> old;
  for (auto& m : s_.sources) old.emplace(m.name, std::move(m));
  s_.sources.clear();
  for (const auto& c : cfg.sources) {
    SourceMetrics m;
    if (auto it = old.find(c.name); it != old.end()) m = std::move(it->second);
    m.name = c.name;
    m.type = c.type;
    m.poll_interval_seconds = c.poll_interval.count();
    s_.sources.push_back(std::move(m));
  }
}

SourceMetrics* MetricsCollector::source(const std::string& name) {
  for (auto& m : s_.sources)
    if (m.name == name) return &m;
  return nullptr;
}

void MetricsCollector::on_progress(const pipeline::Progress& p, Steady at) {
  std::lock_guard lock(mutex_);
  if (p.phase == phase_) return;
  phase_ = p.phase;
  s_.cycle_running = p.phase != "idle";
  // The pipeline reports each phase change (sealing, delivering, idle) as it happens, with the
  // cycle's counts so far: the time between two changes is the time the phase took.
  if (sealing_since_ && p.phase != "sealing") {
    if (p.batches_sealed) {
      s_.seal_seconds.sum += std::chrono::duration<double>(at - *sealing_since_).count();
      s_.seal_seconds.count += p.batches_sealed;
    }
    sealing_since_.reset();
  }
  if (delivering_since_ && p.phase != "delivering") {
    if (p.batches_delivered) {
      s_.upload_seconds.sum += std::chrono::duration<double>(at - *delivering_since_).count();
      s_.upload_seconds.count += p.batches_delivered;
    }
    delivering_since_.reset();
  }
  if (p.phase == "sealing") sealing_since_ = at;
  if (p.phase == "delivering") delivering_since_ = at;
}

void MetricsCollector::after_cycle(const pipeline::CycleResult& result, const std::set<std::string>* polled,
                                   const telemetry::HeartbeatInput& state, std::int64_t outbox_oldest_at) {
  std::lock_guard lock(mutex_);
  s_.updated_at = state.now;
  for (const auto& st : state.sources) {
    SourceMetrics* m = source(st.name);
    if (!m) continue;
    m->last_poll = st.last_poll;
    m->last_success = st.last_success;
    m->last_error = st.last_error;
    if (polled && !polled->count(st.name)) continue;
    ++m->polls;
    if (!st.last_error.empty()) {
      ++m->poll_failures;  // what it ingested was rolled back: nothing to count
      continue;
    }
    m->files = st.stats.files_seen;
    m->records_ingested += st.stats.ingested;
    m->bytes_ingested += st.stats.bytes;
    m->quarantined += st.stats.quarantined;
    for (const auto& [event, by_peer] : st.stats.events)
      for (const auto& [peer, n] : by_peer) m->events[event][peer] = n.total;
  }
  auto& d = s_.destination;
  const auto& p = result.progress;
  d.name = state.destination;
  // A cycle stops delivering at its first failure, so it fails at most once: after a success
  // the count restarted from 0, otherwise it grew by what this cycle added.
  const std::uint64_t now_failing = state.destination_consecutive_failures;
  if (p.batches_delivered)
    d.failures += now_failing;
  else if (now_failing > d.consecutive_failures)
    d.failures += now_failing - d.consecutive_failures;
  d.consecutive_failures = now_failing;
  d.batches_delivered += p.batches_delivered;
  d.bytes_delivered += p.bytes_delivered;
  d.last_success = state.destination_last_success;
  d.last_error = state.destination_error;
  s_.batches_sealed += p.batches_sealed;
  s_.bytes_sealed += p.bytes_sealed;
  s_.depth = state.depth;
  s_.outbox_bytes = state.bytes_pending;
  s_.outbox_oldest_at = outbox_oldest_at;
  s_.gate = state.gate;
  s_.problems = telemetry::assess(state);
}

Snapshot MetricsCollector::snapshot() const {
  std::lock_guard lock(mutex_);
  return s_;
}

}  // namespace sennen::app
