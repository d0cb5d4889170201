// The gate's persistent half: visits seen, the stop list as applied, withdrawals, and moving a
// patient's records between held (metadata only) and ready (content in the spool).
#include <vector>

#include "daemon/core/error.hpp"
#include "daemon/spool/content_stream.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/spool/spool_statements.hpp"
#include "daemon/util/log.hpp"

namespace sennen::spool {

void Spool::put_visit(std::string_view source, std::string_view key, std::string_view patient_key, int day) {
  st_->put_visit.bind(1, source).bind(2, key).bind(3, patient_key).bind(4, day).run();
}

void Spool::remove_visit(std::string_view source, std::string_view key) {
  st_->remove_visit.bind(1, source).bind(2, key).run();
}

std::optional<int> Spool::first_visit_since(std::string_view patient_key, int since_day) {
  auto& q = st_->first_visit;
  q.bind(1, patient_key).bind(2, since_day);
  std::optional<int> out;
  if (q.step() && !q.column_is_null(0)) out = static_cast<int>(q.column_int(0));
  q.reset();
  return out;
}

std::vector<std::string> Spool::apply_stop_list(const std::set<std::string>& keys, std::int64_t now) {
  sqlite::Transaction tx(*db_);
  std::set<std::string> previous;
  {
    sqlite::Statement q(*db_, "SELECT patient_key FROM gate_stops");
    while (q.step()) previous.insert(q.column_text(0));
  }
  std::vector<std::string> added;
  sqlite::Statement ins(*db_, "INSERT INTO gate_stops (patient_key, since) VALUES (?1, ?2)");
  for (const auto& k : keys)
    if (!previous.count(k)) {
      ins.bind(1, k).bind(2, now).run();
      added.push_back(k);
    }
  sqlite::Statement del(*db_, "DELETE FROM gate_stops WHERE patient_key = ?1");
  for (const auto& k : previous)
    if (!keys.count(k)) del.bind(1, k).run();
  tx.commit();
  return added;
}

std::vector<std::string> Spool::held_patients(std::optional<int> visited_since_day) {
  std::vector<std::string> out;
  if (visited_since_day) {
    sqlite::Statement q(*db_,
                        "SELECT DISTINCT v.patient_key FROM gate_visits v WHERE v.visit_day >= ?1 AND EXISTS ("
                        "SELECT 1 FROM spool_records r WHERE r.patient_key = v.patient_key AND r.state = 'held')");
    q.bind(1, *visited_since_day);
    while (q.step()) out.push_back(q.column_text(0));
  } else {
    sqlite::Statement q(*db_, "SELECT DISTINCT patient_key FROM spool_records WHERE state = 'held'");
    while (q.step()) out.push_back(q.column_text(0));
  }
  return out;
}

std::int64_t Spool::hold_patient(std::string_view patient_key, Hold reason) {
  sqlite::Transaction tx(*db_);
  sqlite::Statement parts(*db_,
                          "UPDATE spool_parts SET content = NULL WHERE record_id IN (SELECT id FROM spool_records "
                          "WHERE patient_key = ?1 AND state = 'ready')");
  parts.bind(1, patient_key).run();
  sqlite::Statement recs(*db_,
                         "UPDATE spool_records SET state = 'held', hold_reason = ?2 WHERE patient_key = ?1 "
                         "AND state IN ('ready', 'held')");
  recs.bind(1, patient_key).bind(2, to_string(reason)).run();
  std::int64_t n = db_->changes();
  tx.commit();
  return n;
}

std::pair<std::int64_t, std::int64_t> Spool::release_patient(std::string_view patient_key, const Locate& locate) {
  std::vector<StoredRecord> held;
  {
    sqlite::Statement q(*db_, std::string("SELECT ") + kRecordColumns +
                                  " FROM spool_records WHERE patient_key = ?1 AND state = 'held' ORDER BY id");
    q.bind(1, patient_key);
    while (q.step()) held.push_back(record_from_row(q));
    for (auto& r : held) load_parts(*db_, r);
  }
  std::int64_t released = 0, stale = 0;
  sqlite::Transaction tx(*db_);
  sqlite::Statement ready(*db_, "UPDATE spool_records SET state = 'ready', hold_reason = NULL WHERE id = ?1");
  sqlite::Statement fill(*db_, "UPDATE spool_parts SET content = zeroblob(?2) WHERE part_id = ?1");
  sqlite::Statement drop(*db_, "DELETE FROM spool_records WHERE id = ?1");
  for (const auto& r : held) {
    auto located = locate(r);
    bool ok = located.has_value() && located->size() == r.parts.size();
    db_->exec("SAVEPOINT release_record");
    try {
      for (std::size_t i = 0; ok && i < r.parts.size(); ++i) {
        const auto& part = r.parts[i];
        ContentPart src = (*located)[i];
        src.size = part.size;
        fill.bind(1, part.part_id).bind(2, static_cast<std::int64_t>(part.size)).run();
        std::string sha;
        if (part.size > 0) {
          sqlite::Blob blob(*db_, "spool_parts", "content", part.part_id, true);
          sha = stream_part(src, [&](std::uint64_t off, std::span<const std::byte> c) { blob.write(off, c); });
        } else {
          sha = stream_part(src, {});
        }
        ok = sha == part.sha256;
      }
    } catch (const Error& e) {
      log::debug(std::string("held record no longer readable: ") + e.what());
      ok = false;
    }
    if (ok) {
      ready.bind(1, r.id).run();
      db_->exec("RELEASE release_record");
      ++released;
    } else {
      db_->exec("ROLLBACK TO release_record; RELEASE release_record");
      drop.bind(1, r.id).run();
      ++stale;
      log::warning("source " + r.source + ": held version " + r.path +
                   " is no longer in the source tree as it was; it is dropped (a newer version supersedes it)");
    }
  }
  if (stale) add_counter("held_stale_dropped", stale);
  tx.commit();
  return {released, stale};
}

void Spool::add_withdrawal(std::string_view patient_key, std::int64_t effective_at) {
  sqlite::Statement q(*db_, "INSERT INTO gate_withdrawals (patient_key, effective_at) VALUES (?1, ?2)");
  q.bind(1, patient_key).bind(2, effective_at).run();
}

}  // namespace sennen::spool
