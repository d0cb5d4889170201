#pragma once
// heartbeat.json: how this site is doing, for the central team (docs/heartbeat-format.md).
// Counts and states only: no patient data.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/source.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/telemetry/certificate.hpp"

namespace sennen::telemetry {

struct SourceStatus {
  std::string name;
  std::string type;
  std::int64_t last_poll = 0;  // unix seconds, 0 = never
  std::int64_t last_success = 0;
  SourceStats stats;
  std::string last_error;
};

struct GateStatus {
  std::size_t stop_list_entries = 0;   // IDs read from the stop-list file as it is now
  std::size_t stop_list_problems = 0;  // its lines that could not be read
  std::string stop_list_sha256;
  std::string paused_reason;  // non-empty while sealing is paused (fail closed)
  std::string attention;      // non-empty while IDs that left the file stay withheld unconfirmed
  std::size_t stopped = 0;    // IDs withheld now: the file's and the retained ones
  std::size_t retained = 0;   // of those, IDs no longer in the file, awaiting an operator's release
  std::int64_t purged_total = 0, withdrawals_total = 0;
  std::int64_t releases_total = 0;   // IDs an operator released (sennen-edgectl optout release)
  std::int64_t last_release_at = 0;  // unix seconds, 0 = never
};

// The caps (config spool.max_bytes, outbox.max_bytes) and whether they pause a stage now.
struct FlowStatus {
  std::uint64_t spool_bytes = 0, spool_max_bytes = 0;    // record content in the spool
  std::uint64_t outbox_bytes = 0, outbox_max_bytes = 0;  // sealed batches not yet delivered
  std::string intake_paused;                             // why sources are not read, empty when they are
  std::string sealing_paused;                            // why no batch is sealed (outbox full), empty otherwise
};

// What the site delivered per document kind of the seed's 17-kind table (docs/coverage-kinds.md)
// in the last window_days, and what its vendor profiles expect.
struct CoverageStatus {
  std::int64_t window_days = 30;
  std::vector<spool::Spool::DeliveredKind> delivered;  // per record kind (data type) and form
  std::vector<std::string> vendor_profiles;            // of the sources that follow one
  std::map<std::string, std::string> expected;         // kind id -> structured, pdf_jpeg or none
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
  std::int64_t oldest_batch_at = 0;              // created_at of the oldest of them, 0 = none
  std::string upload_window;                     // "01:00-05:00", empty = any time
  bool upload_window_open = true;
  FlowStatus flow;
  std::vector<CertificateStatus> certificates;  // client (https only) and signer
  std::uint64_t state_dir_free_bytes = 0;
  std::uint64_t state_dir_total_bytes = 0;
  std::uint64_t state_dir_free_needed = 0;     // below this the daemon cannot go on (0: not known)
  std::string state_dir_free_needed_why;       // where that figure comes from
  std::string sealing_error;                   // the last sealing failure, "" after a cycle sealed fine
  std::uint64_t sealing_failures = 0;          // consecutive cycles whose sealing failed
  std::int64_t pending_age_bound = 0;          // seconds a record may wait to leave (0: no bound)
  std::int64_t abnormal_starts_in_window = 0;  // starts after an unclean end, in the crash-loop window
  std::int64_t last_abnormal_start_at = 0;
  std::string config_sha256;
  std::int64_t interval_seconds = 300;  // how often heartbeats come: a reader can tell "late"
  // The current or last cycle, as the terminal and systemd STATUS show it.
  std::string progress_line;
  std::uint64_t files_scanned = 0, records_ingested = 0, bytes_sealed = 0, bytes_delivered = 0;
  CoverageStatus coverage;
};

// The recovery point of a source: the newest moment up to which everything of it that may leave
// has been confirmed delivered (docs/heartbeat-format.md). The oldest pending record's ingest time
// while records wait; else the end of its last successful poll (everything that poll found left);
// 0 when not known yet (no successful poll since the start, nothing pending). Held records do not
// count: they may not leave.
std::int64_t recovery_point(std::string_view source, std::int64_t last_success, const spool::Depth& depth);
// The site's: the oldest of its sources', 0 when one of them is not known.
struct SourcePoll {
  std::string_view name;
  std::int64_t last_success = 0;
};
std::int64_t site_recovery_point(const std::vector<SourcePoll>& sources, const spool::Depth& depth);

// Who reads it: the copy kept on the box (sennen-edgectl status) names the paths a source cannot
// read; the one sent to the central side gives only their count (a path names a patient's folder).
enum class Audience { box, central };
std::string heartbeat_json(const HeartbeatInput& in, Audience audience = Audience::central);

}  // namespace sennen::telemetry
