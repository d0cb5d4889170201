#pragma once
// Read-only view of a spool, for sennen-edgectl while the daemon runs: opens state_dir/spool.db
// with SQLITE_OPEN_READONLY, never creates or migrates it, and refuses a schema other than the
// one this build understands. WAL mode means it never blocks the daemon's writes.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/spool/spool.hpp"

namespace sennen::sqlite {
class Connection;
}

namespace sennen::spool {

// dirpoll_units of one source grouped by status ("ingested", "waiting", "quarantined", ...).
struct UnitCount {
  std::string source, status;
  std::int64_t count = 0;
};

// spool_records grouped by source, kind, state and hold reason.
struct QueueRow {
  std::string source, kind, state, hold_reason;  // hold_reason "" unless state == "held"
  std::int64_t count = 0, bytes = 0, oldest_ingested_at = 0;
};

// What is still local for one patient (delivered records and withdrawals have left the spool).
struct PatientRecord {
  std::string source, kind, path, event, state, hold_reason, batch_id, batch_state;
  std::int64_t ingested_at = 0;
  std::string patient_id;  // as the source wrote it (the canonical key is what the audit asked for)
};
struct PatientWithdrawal {
  std::int64_t effective_at = 0;
  std::string batch_id, batch_state;  // "" while not yet in a batch
};
struct PatientAudit {
  std::optional<std::int64_t> stopped_since;  // in the applied stop list since (unix seconds)
  std::optional<int> first_visit_day;         // days since 1970-01-01 (the site's calendar), any visit seen
  std::vector<PatientRecord> records;
  std::vector<PatientWithdrawal> withdrawals;
};

// One record a delivered batch held (schema/006_delivered_index.sql); its content has left the spool.
struct DeliveredRecord {
  std::int64_t record_id = 0, size = 0;
  std::string source, record_key, version, patient_key, kind, path, event, sha256;
};

class SpoolReader {
 public:
  // Throws sennen::Error when state_dir/spool.db does not exist (the daemon never ran), cannot be
  // opened, or has a schema version other than Spool::kSchemaVersion (the message says which).
  explicit SpoolReader(const std::filesystem::path& state_dir);
  ~SpoolReader();
  SpoolReader(const SpoolReader&) = delete;
  SpoolReader& operator=(const SpoolReader&) = delete;

  const std::filesystem::path& file() const { return file_; }
  int schema_version() const;

  // Queries made between begin() and end() see one consistent snapshot.
  void begin();
  void end();

  Depth depth();
  std::vector<UnitCount> units_by_status();
  std::vector<QueueRow> queue();
  // Every quarantine entry, oldest first, or only entry `id`.
  std::vector<QuarantineRow> quarantine(std::optional<std::int64_t> id = std::nullopt);
  std::vector<BatchInfo> batches_in_state(BatchState state);
  std::optional<BatchInfo> last_delivered_batch();
  // The batch with sequence number `seq` (the manifest's `sequence`), and what it held once delivered.
  std::optional<BatchInfo> batch_with_seq(std::int64_t seq);
  std::vector<DeliveredRecord> delivered_records(std::int64_t seq);
  std::map<std::string, std::int64_t> counters();
  std::int64_t stop_list_entries();
  PatientAudit audit(std::string_view patient_key);
  // IDs that left the stop-list file and stay withheld until released, and the releases made.
  std::vector<Spool::RetainedStop> retained_stops();
  std::vector<Spool::Release> releases(std::optional<std::string_view> patient_key = std::nullopt);

 private:
  std::filesystem::path file_;
  std::unique_ptr<sqlite::Connection> db_;
  bool in_tx_ = false;
};

}  // namespace sennen::spool
