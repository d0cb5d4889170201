#pragma once
// heartbeat.json: how this site is doing, for the central team (docs/heartbeat-format.md).
// Counts and states only: no patient data.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/core/source.hpp"
#include "daemon/spool/spool.hpp"

namespace sennen::telemetry {

struct SourceStatus {
  std::string name;
  std::string type;
  std::int64_t last_poll = 0;     // unix seconds, 0 = never
  std::int64_t last_success = 0;
  SourceStats stats;
  std::string last_error;
};

struct GateStatus {
  std::size_t stop_list_entries = 0;
  std::size_t stop_list_problems = 0;
  std::string stop_list_sha256;
  std::string paused_reason;  // non-empty while sealing is paused (fail closed)
  std::int64_t withheld_stopped = 0, withheld_not_notified = 0, purged_total = 0, withdrawals_total = 0;
};

struct HeartbeatInput {
  std::string site_id, site_name;
  std::int64_t now = 0, started_at = 0;
  std::vector<SourceStatus> sources;
  spool::Depth depth;
  GateStatus gate;
  std::optional<spool::BatchInfo> last_batch;
  std::string destination;
  std::string destination_error;
  std::int64_t destination_last_success = 0;
  std::uint64_t destination_consecutive_failures = 0;
  std::int64_t destination_next_attempt_at = 0;  // unix seconds, 0 = not backing off
  std::int64_t next_window_open = 0;             // unix seconds, 0 = open now or no window
  std::uint64_t bytes_pending = 0;               // sealed batches not yet delivered
  std::uint64_t state_dir_free_bytes = 0;
  std::string config_sha256;
  std::int64_t interval_seconds = 300;  // how often heartbeats come: a reader can tell "late"
  // The current or last cycle, as the terminal and systemd STATUS show it.
  std::string progress_line;
  std::uint64_t files_scanned = 0, records_ingested = 0, bytes_sealed = 0, bytes_delivered = 0;
};

std::string heartbeat_json(const HeartbeatInput& in);

}  // namespace sennen::telemetry
