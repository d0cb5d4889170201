// The gate's persistent half: visits seen, the stop list as applied, withdrawals, and moving a
// patient's records between held (metadata only) and ready (content in the spool).
#include <vector>

#include "daemon/core/content_filter.hpp"
#include "daemon/util/error.hpp"
#include "daemon/spool/content_stream.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/spool/spool_statements.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/name_text.hpp"

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

namespace {
// Pending records of a patient lose their content and become held; inside the caller's transaction.
std::int64_t hold_in_transaction(sqlite::Connection& db, std::string_view patient_key, Hold reason) {
  const char* ready_parts =
      "SELECT part_id FROM spool_parts WHERE record_id IN (SELECT id FROM spool_records WHERE patient_key = ?1 "
      "AND state = 'ready')";
  sqlite::Statement chunks(db, std::string("DELETE FROM spool_chunks WHERE part_id IN (") + ready_parts + ")");
  chunks.bind(1, patient_key).run();
  sqlite::Statement parts(db,
                          std::string("UPDATE spool_parts SET content = NULL WHERE part_id IN (") + ready_parts + ")");
  parts.bind(1, patient_key).run();
  sqlite::Statement recs(db,
                         "UPDATE spool_records SET state = 'held', hold_reason = ?2 WHERE patient_key = ?1 "
                         "AND state IN ('ready', 'held')");
  recs.bind(1, patient_key).bind(2, to_string(reason)).run();
  return db.changes();
}
}  // namespace

Spool::StopListUpdate Spool::apply_stop_list(const std::set<std::string>& file_keys, std::int64_t now) {
  sqlite::Transaction tx(*db_);
  StopListUpdate u;
  std::set<std::string> in_file_before, missing_before;
  {
    sqlite::Statement q(*db_, "SELECT patient_key, missing_since IS NOT NULL FROM gate_stops");
    while (q.step()) (q.column_int(1) ? missing_before : in_file_before).insert(q.column_text(0));
  }
  u.in_file_before = in_file_before.size();
  sqlite::Statement ins(*db_, "INSERT INTO gate_stops (patient_key, since) VALUES (?1, ?2)");
  sqlite::Statement back(*db_, "UPDATE gate_stops SET missing_since = NULL WHERE patient_key = ?1");
  sqlite::Statement gone(*db_, "UPDATE gate_stops SET missing_since = ?2 WHERE patient_key = ?1");
  sqlite::Statement withdraw(*db_, "INSERT INTO gate_withdrawals (patient_key, effective_at) VALUES (?1, ?2)");
  for (const auto& k : file_keys) {
    if (missing_before.count(k)) {
      back.bind(1, k).run();
      u.came_back.push_back(k);
    } else if (!in_file_before.count(k)) {
      ins.bind(1, k).bind(2, now).run();
      u.purged += hold_in_transaction(*db_, k, Hold::stopped);
      withdraw.bind(1, k).bind(2, now).run();
      u.added.push_back(k);
    }
  }
  for (const auto& k : in_file_before)
    if (!file_keys.count(k)) {
      gone.bind(1, k).bind(2, now).run();
      u.went_missing.push_back(k);
    }
  u.stopped = file_keys;
  u.stopped.insert(in_file_before.begin(), in_file_before.end());
  u.stopped.insert(missing_before.begin(), missing_before.end());
  u.retained = u.stopped.size() - file_keys.size();
  if (!u.added.empty()) {
    sqlite::Statement recheck(*db_,
                              "UPDATE spool_batches SET recheck = 1 WHERE state IN ('sealing', 'sealed') AND "
                              "EXISTS (SELECT 1 FROM spool_records r WHERE r.batch_id = spool_batches.batch_id "
                              "AND substr(r.patient_key, 1, 1) = ?1)");
    recheck.bind(1, std::string_view(&kMultiPatient, 1)).run();
    u.rechecks = db_->changes();
    add_counter("purged_total", u.purged);
    add_counter("withdrawals_total", static_cast<std::int64_t>(u.added.size()));
  }
  tx.commit();
  return u;
}

std::set<std::string> Spool::stopped_keys() {
  std::set<std::string> out;
  sqlite::Statement q(*db_, "SELECT patient_key FROM gate_stops");
  while (q.step()) out.insert(q.column_text(0));
  return out;
}

std::vector<Spool::RetainedStop> read_retained_stops(sqlite::Connection& db) {
  std::vector<Spool::RetainedStop> out;
  sqlite::Statement q(db,
                      "SELECT patient_key, since, missing_since FROM gate_stops WHERE missing_since IS NOT NULL "
                      "ORDER BY missing_since, patient_key");
  while (q.step()) out.push_back({q.column_text(0), q.column_int(1), q.column_int(2)});
  return out;
}

std::vector<Spool::Release> read_releases(sqlite::Connection& db, std::optional<std::string_view> patient_key) {
  std::vector<Spool::Release> out;
  sqlite::Statement q(db,
                      "SELECT id, patient_key, stopped_since, COALESCE(missing_since, 0), released_at, released_by, "
                      "reason FROM gate_releases WHERE ?1 IS NULL OR patient_key = ?1 ORDER BY id DESC");
  if (patient_key)
    q.bind(1, *patient_key);
  else
    q.bind_null(1);
  while (q.step())
    out.push_back({q.column_int(0), q.column_text(1), q.column_int(2), q.column_int(3), q.column_int(4),
                   q.column_text(5), q.column_text(6)});
  return out;
}

std::vector<Spool::RetainedStop> Spool::retained_stops() { return read_retained_stops(*db_); }

std::vector<Spool::Release> Spool::releases(std::optional<std::string_view> patient_key) {
  return read_releases(*db_, patient_key);
}

bool Spool::release_stop(std::string_view patient_key, std::string_view released_by, std::string_view reason,
                         std::int64_t now) {
  sqlite::Transaction tx(*db_);
  sqlite::Statement q(*db_, "SELECT since, missing_since FROM gate_stops WHERE patient_key = ?1");
  q.bind(1, patient_key);
  if (!q.step()) return false;
  const std::int64_t since = q.column_int(0);
  const bool missing = !q.column_is_null(1);
  const std::int64_t missing_since = q.column_int(1);
  q.reset();
  sqlite::Statement audit(*db_,
                          "INSERT INTO gate_releases (patient_key, stopped_since, missing_since, released_at, "
                          "released_by, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  audit.bind(1, patient_key).bind(2, since);
  if (missing)
    audit.bind(3, missing_since);
  else
    audit.bind_null(3);
  audit.bind(4, now).bind(5, released_by).bind(6, reason).run();
  sqlite::Statement del(*db_, "DELETE FROM gate_stops WHERE patient_key = ?1");
  del.bind(1, patient_key).run();
  tx.commit();
  return true;
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
  const std::int64_t n = hold_in_transaction(*db_, patient_key, reason);
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
  sqlite::Statement fill(*db_, "UPDATE spool_parts SET content = ?2 WHERE part_id = ?1");
  sqlite::Statement drop(*db_, "DELETE FROM spool_records WHERE id = ?1");
  std::vector<std::byte> buffer;
  for (const auto& r : held) {
    if (r.event == Event::remove) {  // a delete carries no content: nothing to read back, nothing stale
      ready.bind(1, r.id).run();
      ++released;
      continue;
    }
    bool ok = false, unreadable = false, unavailable = false;
    db_->exec("SAVEPOINT release_record");
    try {
      auto located = locate(r);
      ok = located.has_value() && located->size() == r.parts.size();
      // Content goes where put() puts it: one row up to a chunk, chunk rows above.
      for (std::size_t i = 0; ok && i < r.parts.size(); ++i) {
        const auto& part = r.parts[i];
        ContentPart src = (*located)[i];
        src.size = part.size;
        std::string sha;
        if (part.size <= chunk_bytes_) {
          sha = read_part(src, buffer);
          fill.bind(1, part.part_id).bind_blob(2, buffer).run();
        } else {
          sha = write_chunks(part.part_id, src);
        }
        ok = sha == part.sha256;
      }
    } catch (const SourceFileError& e) {
      log::debug(std::string("held record not readable now: ") + e.what());
      unreadable = e.kind() == SourceFileError::Kind::unreadable;
      ok = false;
    } catch (const SourceUnavailable&) {
      unavailable = true;
    } catch (...) {
      // The spool failed, not the record. When SQLite has rolled everything back (a full disk)
      // there is no savepoint left, and the error in flight is the one to report.
      if (db_->in_transaction()) {
        try {
          db_->exec("ROLLBACK TO release_record; RELEASE release_record");
        } catch (const Error&) {
        }
      }
      throw;
    }
    if (ok) {
      ready.bind(1, r.id).run();
      db_->exec("RELEASE release_record");
      ++released;
    } else if (unavailable) {
      db_->exec("ROLLBACK TO release_record; RELEASE release_record");
    } else if (unreadable) {
      db_->exec("ROLLBACK TO release_record; RELEASE release_record");
      log::warning("source " + r.source + ": held version " + r.path +
                   " cannot be read now; it stays held and is tried again next cycle (grant the service user read "
                   "access to it)");
    } else {
      db_->exec("ROLLBACK TO release_record; RELEASE release_record");
      drop.bind(1, r.id).run();
      ++stale;
      log::warning("source " + r.source + ": held version " + util::display_name(r.path) +
                   " is no longer in the source tree as it was; it is dropped (a newer version supersedes it)");
    }
  }
  if (stale) add_counter("held_stale_dropped", stale);
  tx.commit();
  return {released, stale};
}

}  // namespace sennen::spool
