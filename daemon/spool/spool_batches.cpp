// Batches: records and withdrawals are assigned to a batch while it is sealed, and leave the
// spool only once it is delivered.
#include <optional>
#include <vector>

#include "daemon/util/error.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/spool/spool_statements.hpp"
#include "daemon/util/log.hpp"

namespace sennen::spool {

namespace {
constexpr std::pair<BatchState, std::string_view> kBatchStateWords[] = {
    {BatchState::sealing, "sealing"},
    {BatchState::sealed, "sealed"},
    {BatchState::delivered, "delivered"},
    {BatchState::void_, "void"},
};
}  // namespace

std::string_view to_string(BatchState state) {
  for (const auto& [s, word] : kBatchStateWords)
    if (s == state) return word;
  throw Error("internal: batch state " + std::to_string(static_cast<int>(state)) + " has no name");
}

BatchState batch_state_named(std::string_view word) {
  for (const auto& [s, w] : kBatchStateWords)
    if (w == word) return s;
  throw Error("spool: a batch is in state \"" + std::string(word) +
              "\", which this version never writes; was spool.db edited by hand? Restore it from a backup, "
              "or report it with the output of `sennen-edgectl status --json`");
}

StoredRecord record_from_row(const sqlite::Statement& q) {
  StoredRecord r;
  r.id = q.column_int(0);
  r.source = q.column_text(1);
  r.key = q.column_text(2);
  r.version = q.column_text(3);
  r.patient_id = q.column_text(4);
  r.patient_key = q.column_text(5);
  r.kind = q.column_text(6);
  r.path = q.column_text(7);
  r.event = q.column_text(8) == "delete" ? Event::remove : Event::upsert;
  r.size = static_cast<std::uint64_t>(q.column_int(9));
  r.sha256 = q.column_text(10);
  r.attributes_json = q.column_text(11);
  r.ingested_at = q.column_int(12);
  return r;
}

void load_parts(sqlite::Connection& db, StoredRecord& r) {
  sqlite::Statement q(db, "SELECT part_id, name, size, sha256 FROM spool_parts WHERE record_id = ?1 ORDER BY seq");
  q.bind(1, r.id);
  while (q.step())
    r.parts.push_back(
        {q.column_int(0), q.column_text(1), static_cast<std::uint64_t>(q.column_int(2)), q.column_text(3)});
}

BatchInfo batch_from_row(const sqlite::Statement& q) {
  BatchInfo b;
  b.seq = q.column_int(0);
  b.batch_id = q.column_text(1);
  b.state = batch_state_named(q.column_text(2));
  b.created_at = q.column_int(3);
  b.record_count = q.column_int(4);
  b.withdrawal_count = q.column_int(5);
  b.file_size = static_cast<std::uint64_t>(q.column_int(6));
  b.file_sha256 = q.column_text(7);
  b.stop_list_sha256 = q.column_text(8);
  b.delivered_at = q.column_int(9);
  b.recheck = q.column_int(10) != 0;
  return b;
}

namespace {
std::vector<StoredRecord> query_records(sqlite::Connection& db, sqlite::Statement& q) {
  std::vector<StoredRecord> out;
  while (q.step()) out.push_back(record_from_row(q));
  for (auto& r : out) load_parts(db, r);
  return out;
}

}  // namespace

std::vector<StoredRecord> Spool::ready_records(std::int64_t after_id, std::size_t limit) {
  // One query for records and their parts (not one per record).
  sqlite::Statement q(*db_, std::string("SELECT r.*, p.part_id, p.name, p.size, p.sha256 FROM (SELECT ") +
                                kRecordColumns +
                                " FROM spool_records WHERE state = 'ready' AND id > ?1 ORDER BY id LIMIT ?2) r "
                                "LEFT JOIN spool_parts p ON p.record_id = r.id ORDER BY r.id, p.seq");
  q.bind(1, after_id).bind(2, static_cast<std::int64_t>(limit));
  std::vector<StoredRecord> out;
  while (q.step()) {
    if (out.empty() || out.back().id != q.column_int(0)) out.push_back(record_from_row(q));
    if (!q.column_is_null(13))
      out.back().parts.push_back(
          {q.column_int(13), q.column_text(14), static_cast<std::uint64_t>(q.column_int(15)), q.column_text(16)});
  }
  return out;
}

std::vector<StoredRecord> Spool::batch_records(std::string_view batch_id) {
  sqlite::Statement q(*db_,
                      std::string("SELECT ") + kRecordColumns + " FROM spool_records WHERE batch_id = ?1 ORDER BY id");
  q.bind(1, batch_id);
  return query_records(*db_, q);
}

std::vector<Withdrawal> Spool::pending_withdrawals() {
  sqlite::Statement q(*db_,
                      "SELECT id, patient_key, effective_at FROM gate_withdrawals WHERE batch_id IS NULL ORDER BY id");
  std::vector<Withdrawal> out;
  while (q.step()) out.push_back({q.column_int(0), q.column_text(1), q.column_int(2)});
  return out;
}

std::int64_t Spool::next_batch_seq() {
  sqlite::Statement q(*db_, "SELECT COALESCE(MAX(seq), 0) + 1 FROM spool_batches");
  q.step();
  return q.column_int(0);
}

std::vector<std::int64_t> Spool::create_batch(std::string_view batch_id, std::int64_t seq,
                                              const std::vector<std::int64_t>& record_ids,
                                              const std::vector<std::int64_t>& withdrawal_ids, std::uint64_t raw_bytes,
                                              std::string_view stop_list_sha256, std::int64_t now) {
  sqlite::Transaction tx(*db_);
  sqlite::Statement ins(*db_,
                        "INSERT INTO spool_batches (seq, batch_id, state, created_at, record_count, withdrawal_count, "
                        "raw_bytes, stop_list_sha256) VALUES (?1, ?2, 'sealing', ?3, ?4, ?5, ?6, ?7)");
  ins.bind(1, seq).bind(2, batch_id).bind(3, now).bind(4, static_cast<std::int64_t>(record_ids.size()));
  ins.bind(5, static_cast<std::int64_t>(withdrawal_ids.size())).bind(6, static_cast<std::int64_t>(raw_bytes));
  ins.bind(7, stop_list_sha256).run();
  sqlite::Statement rec(*db_,
                        "UPDATE spool_records SET state = 'batched', batch_id = ?1 WHERE id = ?2 AND state = 'ready'");
  for (auto id : record_ids) {
    rec.bind(1, batch_id).bind(2, id).run();
    if (db_->changes() != 1) throw Error("internal: record " + std::to_string(id) + " was not ready for batching");
  }
  sqlite::Statement wd(*db_, "UPDATE gate_withdrawals SET batch_id = ?1 WHERE id = ?2 AND batch_id IS NULL");
  for (auto id : withdrawal_ids) wd.bind(1, batch_id).bind(2, id).run();
  sqlite::Statement announce(
      *db_, "UPDATE spool_batches SET announced_in = ?1 WHERE state = 'void' AND announced_in IS NULL");
  announce.bind(1, batch_id).run();
  sqlite::Statement announced(*db_, "SELECT seq FROM spool_batches WHERE announced_in = ?1 ORDER BY seq");
  announced.bind(1, batch_id);
  std::vector<std::int64_t> voided;
  while (announced.step()) voided.push_back(announced.column_int(0));
  tx.commit();
  return voided;
}

void Spool::mark_sealed(std::string_view batch_id, std::uint64_t file_size, std::string_view file_sha256) {
  sqlite::Statement q(*db_,
                      "UPDATE spool_batches SET state = 'sealed', file_size = ?2, file_sha256 = ?3 "
                      "WHERE batch_id = ?1 AND state = 'sealing'");
  q.bind(1, batch_id).bind(2, static_cast<std::int64_t>(file_size)).bind(3, file_sha256).run();
  if (db_->changes() != 1) throw Error("internal: batch " + std::string(batch_id) + " was not being sealed");
}

void Spool::mark_delivered(std::string_view batch_id, std::int64_t now) {
  sqlite::Transaction tx(*db_);
  sqlite::Statement b(*db_,
                      "UPDATE spool_batches SET state = 'delivered', delivered_at = ?2 WHERE batch_id = ?1 "
                      "AND state = 'sealed'");
  b.bind(1, batch_id).bind(2, now).run();
  if (db_->changes() != 1) throw Error("internal: batch " + std::string(batch_id) + " was not sealed");
  // The content goes; what the batch held stays known (schema/006_delivered_index.sql).
  sqlite::Statement index(*db_,
                          "INSERT INTO spool_delivered_records SELECT b.seq, r.id, r.source, r.record_key, r.version, "
                          "r.patient_key, r.kind, r.path, r.event, r.size, r.sha256 FROM spool_records r "
                          "JOIN spool_batches b ON b.batch_id = r.batch_id WHERE r.batch_id = ?1");
  index.bind(1, batch_id).run();
  sqlite::Statement index_w(*db_,
                            "INSERT INTO spool_delivered_withdrawals SELECT b.seq, w.patient_key, w.effective_at "
                            "FROM gate_withdrawals w JOIN spool_batches b ON b.batch_id = w.batch_id "
                            "WHERE w.batch_id = ?1");
  index_w.bind(1, batch_id).run();
  sqlite::Statement counted(
      *db_,
      "INSERT INTO spool_delivered_kinds (day, kind, form, records) "
      "SELECT ?2 / 86400, r.kind, CASE WHEN EXISTS (SELECT 1 FROM spool_parts p WHERE p.record_id = r.id AND "
      "(lower(p.name) LIKE '%.pdf' OR lower(p.name) LIKE '%.jpg' OR lower(p.name) LIKE '%.jpeg')) "
      "THEN 'pdf_jpeg' ELSE 'structured' END AS form, COUNT(*) FROM spool_records r "
      "WHERE r.batch_id = ?1 AND r.event = 'upsert' GROUP BY r.kind, form "
      "ON CONFLICT (day, kind, form) DO UPDATE SET records = records + excluded.records");
  counted.bind(1, batch_id).bind(2, now).run();
  sqlite::Statement prune(*db_, "DELETE FROM spool_delivered_kinds WHERE day < ?1");
  prune.bind(1, now / 86400 - kDeliveredKindsKeptDays).run();
  sqlite::Statement r(*db_, "DELETE FROM spool_records WHERE batch_id = ?1");  // parts cascade
  r.bind(1, batch_id).run();
  sqlite::Statement w(*db_, "DELETE FROM gate_withdrawals WHERE batch_id = ?1");
  w.bind(1, batch_id).run();
  tx.commit();
}

void Spool::void_batch(std::string_view batch_id, std::string_view reason) {
  sqlite::Transaction tx(*db_);
  sqlite::Statement b(*db_,
                      "UPDATE spool_batches SET state = 'void', void_reason = ?2 WHERE batch_id = ?1 "
                      "AND state IN ('sealing', 'sealed')");
  b.bind(1, batch_id).bind(2, reason).run();
  // Its number, and those it was to announce, must reach the central side in a batch that leaves.
  sqlite::Statement unannounce(*db_, "UPDATE spool_batches SET announced_in = NULL WHERE announced_in = ?1");
  unannounce.bind(1, batch_id).run();
  // A record whose key has a newer version here (ready, held, or in a later batch) is superseded:
  // queued again it would be sent after that version and replace it at the central side.
  sqlite::Statement stale(*db_,
                          "DELETE FROM spool_records WHERE batch_id = ?1 AND EXISTS (SELECT 1 FROM spool_records n "
                          "WHERE n.source = spool_records.source AND n.record_key = spool_records.record_key "
                          "AND n.id > spool_records.id)");
  stale.bind(1, batch_id).run();
  if (const auto dropped = db_->changes())
    log::info("batch " + std::string(batch_id) + ": " + std::to_string(dropped) +
              " record(s) superseded by a newer version of the same key are dropped, not sealed again");
  sqlite::Statement r(*db_, "UPDATE spool_records SET state = 'ready', batch_id = NULL WHERE batch_id = ?1");
  r.bind(1, batch_id).run();
  sqlite::Statement w(*db_, "UPDATE gate_withdrawals SET batch_id = NULL WHERE batch_id = ?1");
  w.bind(1, batch_id).run();
  tx.commit();
}

void Spool::remove_record(std::int64_t record_id) {
  sqlite::Statement q(*db_, "DELETE FROM spool_records WHERE id = ?1 AND state = 'ready'");  // parts cascade
  q.bind(1, record_id).run();
  if (db_->changes() != 1) throw Error("internal: record " + std::to_string(record_id) + " was not ready");
}

std::vector<BatchInfo> Spool::batches_in_state(BatchState state) {
  sqlite::Statement q(*db_,
                      std::string("SELECT ") + kBatchColumns + " FROM spool_batches WHERE state = ?1 ORDER BY seq");
  q.bind(1, to_string(state));
  std::vector<BatchInfo> out;
  while (q.step()) out.push_back(batch_from_row(q));
  return out;
}

std::vector<Spool::DeliveredKind> Spool::delivered_kinds(std::int64_t since_day) {
  sqlite::Statement q(*db_,
                      "SELECT kind, form, SUM(records) FROM spool_delivered_kinds WHERE day >= ?1 "
                      "GROUP BY kind, form ORDER BY kind, form");
  q.bind(1, since_day);
  std::vector<DeliveredKind> out;
  while (q.step()) out.push_back({q.column_text(0), q.column_text(1), q.column_int(2)});
  return out;
}

std::optional<BatchInfo> Spool::last_delivered_batch() {
  sqlite::Statement q(*db_, std::string("SELECT ") + kBatchColumns +
                                " FROM spool_batches WHERE state = 'delivered' ORDER BY seq DESC LIMIT 1");
  if (!q.step()) return std::nullopt;
  return batch_from_row(q);
}

std::set<std::string> Spool::batch_patients(std::string_view batch_id) {
  sqlite::Statement q(*db_, "SELECT DISTINCT patient_key FROM spool_records WHERE batch_id = ?1");
  q.bind(1, batch_id);
  std::set<std::string> out;
  while (q.step()) out.insert(q.column_text(0));
  return out;
}

namespace {
// A part's bytes lie in spool_chunks rows (parts larger than one chunk, schema 3) or in
// spool_parts.content (the others, and every part spooled under schema 1): read in that order,
// one incremental blob at a time.
class PiecesReader final : public Spool::PartReader {
 public:
  struct Piece {
    const char* table;
    std::int64_t rowid;
  };
  PiecesReader(sqlite::Connection& db, std::vector<Piece> pieces) : db_(db), pieces_(std::move(pieces)) {}
  std::size_t read(std::span<std::byte> out) override {
    while (next_ < pieces_.size() || blob_) {
      if (!blob_) {
        blob_.emplace(db_, pieces_[next_].table, "content", pieces_[next_].rowid);
        ++next_;
        offset_ = 0;
      }
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), blob_->size() - offset_));
      if (n > 0) {
        blob_->read(offset_, out.first(n));
        offset_ += n;
        return n;
      }
      blob_.reset();
    }
    return 0;
  }

 private:
  sqlite::Connection& db_;
  std::vector<Piece> pieces_;
  std::size_t next_ = 0;
  std::optional<sqlite::Blob> blob_;
  std::uint64_t offset_ = 0;
};
}  // namespace

std::unique_ptr<Spool::PartReader> Spool::open_part(std::int64_t part_id) {
  std::vector<PiecesReader::Piece> pieces;
  sqlite::Statement chunks(*db_, "SELECT chunk_id FROM spool_chunks WHERE part_id = ?1 ORDER BY seq");
  chunks.bind(1, part_id);
  while (chunks.step()) pieces.push_back({"spool_chunks", chunks.column_int(0)});
  if (pieces.empty()) {
    sqlite::Statement inline_content(*db_, "SELECT 1 FROM spool_parts WHERE part_id = ?1 AND length(content) > 0");
    inline_content.bind(1, part_id);
    if (inline_content.step()) pieces.push_back({"spool_parts", part_id});
  }
  return std::make_unique<PiecesReader>(*db_, std::move(pieces));
}

}  // namespace sennen::spool
