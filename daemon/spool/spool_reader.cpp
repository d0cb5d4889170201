#include "daemon/spool/spool_reader.hpp"

#include <system_error>

#include "daemon/util/error.hpp"
#include "daemon/spool/spool_statements.hpp"
#include "daemon/spool/sqlite.hpp"

namespace sennen::spool {

SpoolReader::SpoolReader(const std::filesystem::path& state_dir) : file_(state_dir / "spool.db") {
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec))
    throw Error("no spool at " + file_.string() +
                ": sennen-edged has not run with this state_dir yet (or state_dir is wrong in the config)");
  db_ = std::make_unique<sqlite::Connection>(sqlite::Connection::open_read_only(file_));
  const int v = schema_version();
  if (v > Spool::kSchemaVersion)
    throw Error("spool " + file_.string() + " has schema version " + std::to_string(v) +
                ", newer than this sennen-edgectl understands (" + std::to_string(Spool::kSchemaVersion) +
                "); use the sennen-edgectl installed with the running sennen-edged");
  if (v < Spool::kSchemaVersion)
    throw Error("spool " + file_.string() + " has schema version " + std::to_string(v) + ", older than " +
                std::to_string(Spool::kSchemaVersion) + "; start sennen-edged once so it migrates the spool");
}

SpoolReader::~SpoolReader() {
  if (in_tx_) {
    try {
      db_->exec("COMMIT");
    } catch (...) {  // a read snapshot has nothing to lose; the connection closes anyway
    }
  }
}

int SpoolReader::schema_version() const {
  sqlite::Statement q(*db_, "PRAGMA user_version");
  q.step();
  return static_cast<int>(q.column_int(0));
}

void SpoolReader::begin() {
  if (in_tx_) return;
  db_->exec("BEGIN");
  in_tx_ = true;
}

void SpoolReader::end() {
  if (!in_tx_) return;
  in_tx_ = false;
  db_->exec("COMMIT");
}

Depth SpoolReader::depth() { return read_depth(*db_); }

std::vector<Spool::RetainedStop> SpoolReader::retained_stops() { return read_retained_stops(*db_); }

std::vector<Spool::Release> SpoolReader::releases(std::optional<std::string_view> patient_key) {
  return read_releases(*db_, patient_key);
}

std::vector<UnitCount> SpoolReader::units_by_status() {
  sqlite::Statement q(*db_, "SELECT source, status, COUNT(*) FROM dirpoll_units GROUP BY source, status ORDER BY 1, 2");
  std::vector<UnitCount> out;
  while (q.step()) out.push_back({q.column_text(0), q.column_text(1), q.column_int(2)});
  return out;
}

std::vector<QueueRow> SpoolReader::queue() {
  sqlite::Statement q(*db_,
                      "SELECT source, kind, state, COALESCE(hold_reason, ''), COUNT(*), COALESCE(SUM(size), 0), "
                      "MIN(ingested_at) FROM spool_records GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4");
  std::vector<QueueRow> out;
  while (q.step())
    out.push_back({q.column_text(0), q.column_text(1), q.column_text(2), q.column_text(3), q.column_int(4),
                   q.column_int(5), q.column_int(6)});
  return out;
}

std::vector<QuarantineRow> SpoolReader::quarantine(std::optional<std::int64_t> id) { return read_quarantine(*db_, id); }

namespace {
const std::string kBatchSelect = std::string("SELECT ") + kBatchColumns + " FROM spool_batches ";
}  // namespace

std::vector<BatchInfo> SpoolReader::batches_in_state(BatchState state) {
  sqlite::Statement q(*db_, kBatchSelect + "WHERE state = ?1 ORDER BY seq");
  q.bind(1, to_string(state));
  std::vector<BatchInfo> out;
  while (q.step()) out.push_back(batch_from_row(q));
  return out;
}

std::optional<BatchInfo> SpoolReader::last_delivered_batch() {
  sqlite::Statement q(*db_, kBatchSelect + "WHERE state = 'delivered' ORDER BY seq DESC LIMIT 1");
  if (!q.step()) return std::nullopt;
  return batch_from_row(q);
}

std::optional<BatchInfo> SpoolReader::batch_with_seq(std::int64_t seq) {
  sqlite::Statement q(*db_, kBatchSelect + "WHERE seq = ?1");
  q.bind(1, seq);
  if (!q.step()) return std::nullopt;
  return batch_from_row(q);
}

std::vector<DeliveredRecord> SpoolReader::delivered_records(std::int64_t seq) {
  sqlite::Statement q(*db_,
                      "SELECT record_id, size, source, record_key, version, patient_key, kind, path, event, sha256 "
                      "FROM spool_delivered_records WHERE batch_seq = ?1 ORDER BY record_id");
  q.bind(1, seq);
  std::vector<DeliveredRecord> out;
  while (q.step())
    out.push_back({q.column_int(0), q.column_int(1), q.column_text(2), q.column_text(3), q.column_text(4),
                   q.column_text(5), q.column_text(6), q.column_text(7), q.column_text(8), q.column_text(9)});
  return out;
}

std::map<std::string, std::int64_t> SpoolReader::counters() {
  sqlite::Statement q(*db_, "SELECT name, value FROM spool_counters ORDER BY name");
  std::map<std::string, std::int64_t> out;
  while (q.step()) out[q.column_text(0)] = q.column_int(1);
  return out;
}

std::int64_t SpoolReader::stop_list_entries() {
  sqlite::Statement q(*db_, "SELECT COUNT(*) FROM gate_stops");
  q.step();
  return q.column_int(0);
}

PatientAudit SpoolReader::audit(std::string_view patient_key) {
  PatientAudit a;
  sqlite::Statement s(*db_, "SELECT since FROM gate_stops WHERE patient_key = ?1");
  s.bind(1, patient_key);
  if (s.step()) a.stopped_since = s.column_int(0);
  sqlite::Statement v(*db_, "SELECT MIN(visit_day) FROM gate_visits WHERE patient_key = ?1");
  v.bind(1, patient_key);
  if (v.step() && !v.column_is_null(0)) a.first_visit_day = static_cast<int>(v.column_int(0));
  sqlite::Statement r(
      *db_,
      "SELECT r.source, r.kind, r.path, r.event, r.state, COALESCE(r.hold_reason, ''), "
      "COALESCE(r.batch_id, ''), COALESCE(b.state, ''), r.ingested_at, r.patient_id FROM spool_records r "
      "LEFT JOIN spool_batches b ON b.batch_id = r.batch_id WHERE r.patient_key = ?1 ORDER BY r.id");
  r.bind(1, patient_key);
  while (r.step())
    a.records.push_back({r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3), r.column_text(4),
                         r.column_text(5), r.column_text(6), r.column_text(7), r.column_int(8), r.column_text(9)});
  sqlite::Statement w(*db_,
                      "SELECT w.effective_at, COALESCE(w.batch_id, ''), COALESCE(b.state, '') FROM gate_withdrawals w "
                      "LEFT JOIN spool_batches b ON b.batch_id = w.batch_id WHERE w.patient_key = ?1 ORDER BY w.id");
  w.bind(1, patient_key);
  while (w.step()) a.withdrawals.push_back({w.column_int(0), w.column_text(1), w.column_text(2)});
  return a;
}

}  // namespace sennen::spool
