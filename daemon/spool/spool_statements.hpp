#pragma once
// Internal to the spool module: every hot statement prepared once per connection.
#include <string>
#include <vector>

#include "daemon/spool/spool.hpp"
#include "daemon/spool/sqlite.hpp"

namespace sennen::spool {

struct Spool::Statements {
  explicit Statements(sqlite::Connection& db)
      : insert_record(db,
                      "INSERT INTO spool_records (source, record_key, version, patient_id, patient_key, kind, path, "
                      "event, size, sha256, attributes, state, hold_reason, ingested_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
                      "ON CONFLICT (source, version, event) DO NOTHING"),
        insert_part(
            db,
            "INSERT INTO spool_parts (record_id, seq, name, size, sha256, content) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        insert_chunk(db, "INSERT INTO spool_chunks (part_id, seq, content) VALUES (?1, ?2, ?3)"),
        set_part_sha(db, "UPDATE spool_parts SET sha256 = ?2 WHERE part_id = ?1"),
        set_record_sha(db, "UPDATE spool_records SET sha256 = ?2 WHERE id = ?1"),
        savepoint(db, "SAVEPOINT put_record"),
        release(db, "RELEASE put_record"),
        rollback_to(db, "ROLLBACK TO put_record"),
        upsert_quarantine(
            db,
            "INSERT INTO quarantine (source, path, reason, size, copy_path, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
            "ON CONFLICT (source, path) DO UPDATE SET reason = excluded.reason, size = excluded.size, "
            "copy_path = excluded.copy_path, at = excluded.at"),
        add_counter(db,
                    "INSERT INTO spool_counters (name, value) VALUES (?1, ?2) "
                    "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"),
        get_counter(db, "SELECT value FROM spool_counters WHERE name = ?1"),
        put_visit(db,
                  "INSERT INTO gate_visits (source, record_key, patient_key, visit_day) VALUES (?1, ?2, ?3, ?4) "
                  "ON CONFLICT (source, record_key) DO UPDATE SET patient_key = excluded.patient_key, "
                  "visit_day = excluded.visit_day"),
        remove_visit(db, "DELETE FROM gate_visits WHERE source = ?1 AND record_key = ?2"),
        first_visit(db, "SELECT MIN(visit_day) FROM gate_visits WHERE patient_key = ?1 AND visit_day >= ?2"),
        // Pinned: without statistics SQLite prefers the primary key's (source) prefix, a scan of
        // every folder of the source per lookup (quadratic on big trees).
        child_dirs(db,
                   "SELECT path, mtime_ns, ctime_ns, settled, has_subdirs, listed_at FROM dirpoll_dirs "
                   "INDEXED BY dirpoll_dirs_parent WHERE source = ?1 AND parent = ?2"),
        put_dir(db,
                "INSERT INTO dirpoll_dirs (source, path, parent, mtime_ns, ctime_ns, settled, has_subdirs, listed_at) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (source, path) DO UPDATE SET "
                "mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, settled = excluded.settled, "
                "has_subdirs = excluded.has_subdirs, listed_at = excluded.listed_at"),
        units(db, "SELECT name, size, mtime_ns, ctime_ns, status FROM dirpoll_units WHERE source = ?1 AND dir = ?2"),
        put_unit(db,
                 "INSERT INTO dirpoll_units (source, dir, name, size, mtime_ns, ctime_ns, status) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (source, dir, name) DO UPDATE SET "
                 "size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, "
                 "status = excluded.status"),
        erase_unit(db, "DELETE FROM dirpoll_units WHERE source = ?1 AND dir = ?2 AND name = ?3") {}

  sqlite::Statement insert_record, insert_part, insert_chunk, set_part_sha, set_record_sha, savepoint, release,
      rollback_to, upsert_quarantine, add_counter, get_counter, put_visit, remove_visit, first_visit, child_dirs,
      put_dir, units, put_unit, erase_unit;
};

// The hash the manifest names for a record: the file's own sha256 for single-file records, else
// the hash of the part listing (docs/batch-format.md).
std::string record_hash(const std::vector<StoredPart>& parts);

// Reads the record rows selected by `q` (columns as in kRecordColumns) with their parts.
inline constexpr const char* kRecordColumns =
    "id, source, record_key, version, patient_id, patient_key, kind, path, event, size, sha256, attributes, "
    "ingested_at";
StoredRecord record_from_row(const sqlite::Statement& q);

// Reads a batch row selected with kBatchColumns (NULL columns read as 0 or "").
inline constexpr const char* kBatchColumns =
    "seq, batch_id, state, created_at, record_count, withdrawal_count, file_size, file_sha256, stop_list_sha256, "
    "delivered_at, recheck";
BatchInfo batch_from_row(const sqlite::Statement& q);
void load_parts(sqlite::Connection& db, StoredRecord& r);

// Quarantine entries (all, or one by id), on any connection (Spool and SpoolReader).
std::vector<QuarantineRow> read_quarantine(sqlite::Connection& db, std::optional<std::int64_t> id);
// Spool depth counts, on any connection (Spool::depth and SpoolReader::depth).
Depth read_depth(sqlite::Connection& db);
// The stop list's retained IDs and its releases, on any connection (Spool and SpoolReader).
std::vector<Spool::RetainedStop> read_retained_stops(sqlite::Connection& db);
std::vector<Spool::Release> read_releases(sqlite::Connection& db, std::optional<std::string_view> patient_key);

}  // namespace sennen::spool
