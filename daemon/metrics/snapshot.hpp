#pragma once
// What /metrics and /healthz report: cumulative counters since the service started plus the
// state read after the last cycle. Plain data, copied out of the Collector under its mutex, so
// the HTTP side never touches the spool or the pipeline.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "daemon/spool/spool.hpp"
#include "daemon/telemetry/health.hpp"
#include "daemon/telemetry/heartbeat.hpp"

namespace sennen::metrics {

struct SourceMetrics {
  std::string name, type;
  std::int64_t poll_interval_seconds = 60;
  std::uint64_t polls = 0, poll_failures = 0;
  std::uint64_t files = 0;  // units in the tree at the end of the last poll (a gauge)
  std::uint64_t records_ingested = 0, bytes_ingested = 0, quarantined = 0;  // totals of successful polls
  std::int64_t last_poll = 0, last_success = 0;                             // unix seconds, 0 = never
  std::string last_error;                                                   // of the last poll, "" when it succeeded
  // SourceStats::events totals since the service started: event -> peer -> count.
  std::map<std::string, std::map<std::string, std::uint64_t>> events;
};

struct DestinationMetrics {
  std::string name;  // "local /srv/export", "https https://..."
  std::uint64_t batches_delivered = 0, bytes_delivered = 0, failures = 0;
  std::uint64_t consecutive_failures = 0;
  std::int64_t last_success = 0;
  std::string last_error;
};

// A Prometheus summary without quantiles: total seconds over the number of batches.
struct Summary {
  double sum = 0;
  std::uint64_t count = 0;
};

struct Snapshot {
  std::int64_t started_at = 0;
  std::int64_t updated_at = 0;  // when the state below was read; 0 before the first cycle ended
  bool cycle_running = false;
  std::vector<SourceMetrics> sources;
  DestinationMetrics destination;
  spool::Depth depth;
  std::uint64_t outbox_bytes = 0;
  std::int64_t outbox_oldest_at = 0;  // created_at of the oldest sealed, undelivered batch; 0 if none
  telemetry::GateStatus gate;
  std::vector<telemetry::Problem> problems;  // the heartbeat's, as assessed after the last cycle
  std::uint64_t batches_sealed = 0, bytes_sealed = 0;
  Summary seal_seconds, upload_seconds;
};

}  // namespace sennen::metrics
