#pragma once
// Turns what the pipeline reports into the metrics snapshot (daemon/metrics), which knows nothing of
// the pipeline. The worker thread feeds it (progress
// callbacks and one call after each cycle); the HTTP handler on the io thread copies the snapshot.
// Every member function takes the one mutex, so each side sees whole updates only.
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "daemon/config/config.hpp"
#include "daemon/metrics/snapshot.hpp"
#include "daemon/pipeline/pipeline.hpp"

namespace sennen::app {

class MetricsCollector {
 public:
  using Steady = std::chrono::steady_clock::time_point;

  MetricsCollector(const config::Config& cfg, std::int64_t started_at);

  // A new config (SIGHUP): sources may have come or gone; counters of the ones kept carry on.
  void reconfigure(const config::Config& cfg);
  // Every progress report of the running cycle: phase changes time the sealing and delivery.
  void on_progress(const pipeline::Progress& p, Steady at);
  // After a cycle: `polled` are the sources the cycle was asked to poll (null: all of them);
  // `state` is Pipeline::snapshot() taken right after it; `outbox_oldest_at` as in Snapshot.
  void after_cycle(const pipeline::CycleResult& result, const std::set<std::string>* polled,
                   const telemetry::HeartbeatInput& state, std::int64_t outbox_oldest_at);

  metrics::Snapshot snapshot() const;

 private:
  metrics::SourceMetrics* source(const std::string& name);

  mutable std::mutex mutex_;
  metrics::Snapshot s_;
  std::string phase_;
  std::optional<Steady> sealing_since_, delivering_since_;
};

}  // namespace sennen::app
