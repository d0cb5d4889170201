#include "daemon/spool/spool.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <vector>

#include "daemon/util/error.hpp"
#include "daemon/spool/content_stream.hpp"
#include "daemon/spool/spool_statements.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/name_text.hpp"
#include "daemon/util/sha256.hpp"
#include "sennen/spool_migrations.hpp"

namespace sennen::spool {

const char* to_string(Hold h) {
  switch (h) {
    case Hold::stopped:
      return "stopped";
    case Hold::not_notified:
      return "not_notified";
    case Hold::none:
      break;
  }
  return "";
}

namespace {
[[noreturn]] void changed_size(const ContentPart& part, std::uint64_t got, bool grew) {
  throw SourceFileError(SourceFileError::Kind::changed, part.file,
                        part.file.string() + (grew ? " grew" : " shrank") + " while being read (expected " +
                            std::to_string(part.size) + " bytes, " + (grew ? "more" : std::to_string(got)) +
                            " arrived); it will be read again once it is stable");
}

constexpr std::size_t kHashBuffer = 256 * 1024;
}  // namespace

util::Fd open_source_part(const ContentPart& part) {
  try {
    return util::open_for_read(part.file);
  } catch (const util::OpenError& e) {
    throw SourceFileError::from_errno(e.error(), part.file, e.what());
  }
}

std::size_t read_full(const util::Fd& fd, std::span<std::byte> buffer, const ContentPart& part) {
  std::size_t have = 0;
  try {
    while (have < buffer.size()) {
      std::size_t n = util::read_some(fd, buffer.subspan(have), part.file);
      if (n == 0) break;
      have += n;
    }
  } catch (const Error& e) {
    throw SourceFileError(SourceFileError::Kind::unreadable, part.file, e.what());
  }
  return have;
}

std::string stream_part(const ContentPart& part, std::span<std::byte> buffer,
                        const std::function<void(std::span<const std::byte>)>& sink) {
  util::Fd fd = open_source_part(part);
  util::Sha256 hash;
  std::uint64_t offset = 0;
  while (std::size_t n = read_full(fd, buffer, part)) {
    if (offset + n > part.size) changed_size(part, offset + n, true);
    const auto piece = buffer.first(n);
    hash.update(piece);
    if (sink) sink(piece);
    offset += n;
  }
  if (offset != part.size) changed_size(part, offset, false);
  return hash.hex_digest();
}

std::string hash_part(const ContentPart& part) {
  std::vector<std::byte> buffer(kHashBuffer);
  return stream_part(part, buffer, {});
}

std::string read_part(const ContentPart& part, std::vector<std::byte>& buffer) {
  util::Fd fd = open_source_part(part);
  buffer.resize(static_cast<std::size_t>(part.size) + 1);  // one spare byte detects growth
  std::size_t have = read_full(fd, buffer, part);
  if (have > part.size) changed_size(part, have, true);
  if (have < part.size) changed_size(part, have, false);
  buffer.resize(have);
  util::Sha256 hash;
  hash.update(buffer);
  return hash.hex_digest();
}

Spool::Spool(const std::filesystem::path& state_dir, std::size_t chunk_bytes)
    : state_dir_(state_dir), chunk_bytes_(chunk_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) throw Error("cannot create state_dir " + state_dir.string() + ": " + ec.message());
  db_ = std::make_unique<sqlite::Connection>(state_dir / "spool.db");
  // WAL: readers (sennen-edgectl status) never block the daemon. synchronous=FULL: a commit
  // that was reported is on disk, so a C-STORE answered "success" or a poll state saying
  // "ingested" survives power loss, not just a crash.
  // secure_delete=FAST: Debian builds SQLite with secure delete on, which zeroes every freed
  // overflow page through the WAL and again at checkpoint: deleting a delivered 64 MiB batch wrote
  // three times its size and took 60% of the delivery phase's CPU (bench/upload.py). FAST still
  // zeroes what can be zeroed without extra I/O; freed blob pages are overwritten when reused. The
  // spool never leaves the box and sits in a 0700 state_dir, beside the export tree it came from.
  db_->exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384; "
      "PRAGMA secure_delete=FAST;");
  migrate();
  st_ = std::make_unique<Statements>(*db_);
}

Spool::~Spool() = default;

int Spool::schema_version() const {
  sqlite::Statement q(*db_, "PRAGMA user_version");
  q.step();
  return static_cast<int>(q.column_int(0));
}

void Spool::migrate() {
  constexpr int latest = static_cast<int>(std::size(kMigrations));
  static_assert(latest == kSchemaVersion);
  int current = schema_version();
  if (current > latest)
    throw Error("spool " + db_->file().string() + " has schema version " + std::to_string(current) +
                ", newer than this sennen-edged understands (" + std::to_string(latest) +
                "); install the newer version again or restore the matching package");
  for (int v = current; v < latest; ++v) {
    sqlite::Transaction tx(*db_);
    db_->exec(kMigrations[v]);
    db_->exec("PRAGMA user_version=" + std::to_string(v + 1));
    tx.commit();
  }
}

Spool::Transaction::Transaction(Spool& spool, Kind kind) : spool_(spool), kind_(kind) {
  spool_.begin(kind_);
  open_ = true;
}

Spool::Transaction::~Transaction() { rollback(); }

void Spool::Transaction::commit() {
  open_ = false;
  spool_.commit();
}

void Spool::Transaction::rollback() noexcept {
  if (open_) spool_.rollback();
  open_ = false;
}

void Spool::Transaction::checkpoint() {
  commit();
  spool_.begin(kind_);
  open_ = true;
}

void Spool::begin(Transaction::Kind kind) {
  if (in_tx_) throw Error("internal: a spool transaction is already open");
  db_->exec(kind == Transaction::Kind::write ? "BEGIN IMMEDIATE" : "BEGIN");
  in_tx_ = true;
  tx_bytes_ = 0;
}

void Spool::commit() {
  if (!in_tx_) return;
  in_tx_ = false;
  tx_bytes_ = 0;
  if (!db_->in_transaction())
    throw Error("spool " + db_->file().string() +
                ": SQLite rolled this transaction back after an earlier error "
                "(see the error before this one); nothing of it was kept, and it will be done again");
  db_->exec("COMMIT");
}

void Spool::rollback() noexcept {
  in_tx_ = false;
  tx_bytes_ = 0;
  db_->rollback_quietly();  // SQLite may already have rolled back (disk full): never throw here
}

namespace {
// Values come from names and headers (an order number from a file name, a DICOM Modality) and
// may hold any bytes: a value that is not UTF-8 is kept as its display form plus "<key>_b64"
// (docs/batch-format.md), so the stored JSON is valid and the bytes recoverable.
std::string attributes_json(const RecordDraft& d) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : d.attributes) util::put_name(j, k, v);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// sha256 of a multi-part record: over the sorted listing "name\0size\0sha256\n" of its parts,
// so the manifest can name one hash per record (documented in docs/batch-format.md).
std::string combined_hash(const std::vector<StoredPart>& parts) {
  util::Sha256 h;
  for (const auto& p : parts) {
    h.update(p.name);
    h.update(std::string_view("\0", 1));
    h.update(std::to_string(p.size));
    h.update(std::string_view("\0", 1));
    h.update(p.sha256);
    h.update("\n");
  }
  return h.hex_digest();
}
}  // namespace

std::string record_hash(const std::vector<StoredPart>& parts) {
  if (parts.size() == 1 && parts[0].name.empty()) return parts[0].sha256;
  return combined_hash(parts);
}

std::int64_t Spool::insert_record(const RecordDraft& d, std::string_view patient_key, Hold hold, std::uint64_t total,
                                  std::string_view sha256, std::int64_t now) {
  auto& ins = st_->insert_record;
  ins.bind(1, d.source).bind(2, d.key).bind(3, d.version).bind(4, d.patient_id).bind(5, patient_key);
  ins.bind(6, d.kind).bind(7, d.path).bind(8, to_string(d.event)).bind(9, static_cast<std::int64_t>(total));
  ins.bind(10, sha256).bind(11, attributes_json(d)).bind(12, hold == Hold::none ? "ready" : "held");
  if (hold == Hold::none)
    ins.bind_null(13);
  else
    ins.bind(13, to_string(hold));
  ins.bind(14, now);
  ins.run();
  return db_->changes() == 0 ? 0 : db_->last_insert_rowid();  // 0: this version is already spooled
}

void Spool::insert_part(std::int64_t record_id, std::size_t seq, const ContentPart& part, std::string_view sha256,
                        std::optional<std::span<const std::byte>> content) {
  auto& ip = st_->insert_part;
  ip.bind(1, record_id).bind(2, static_cast<std::int64_t>(seq)).bind(3, part.name);
  ip.bind(4, static_cast<std::int64_t>(part.size)).bind(5, sha256);
  if (content)
    ip.bind_blob(6, *content);
  else
    ip.bind_null(6);
  ip.run();
}

std::string Spool::write_chunks(std::int64_t part_id, const ContentPart& part) {
  std::vector<std::byte> buffer(chunk_bytes_);
  std::int64_t seq = 0;
  return stream_part(part, buffer, [&](std::span<const std::byte> chunk) {
    st_->insert_chunk.bind(1, part_id).bind(2, seq++).bind_blob(3, chunk).run();
  });
}

namespace {
// The part's bytes when the source already read them whole, else read into `buffer`; `sha` gets
// their sha256.
std::span<const std::byte> whole_part(const ContentPart& part, std::vector<std::byte>& buffer, std::string& sha) {
  if (part.bytes && part.bytes->size() == part.size) {
    sha = util::sha256_hex(*part.bytes);
    return std::as_bytes(std::span(part.bytes->data(), part.bytes->size()));
  }
  sha = read_part(part, buffer);
  return buffer;
}
}  // namespace

bool Spool::put(const RecordDraft& d, std::string_view patient_key, Hold hold, std::int64_t now) {
  if (!in_tx_) throw Error("internal: Spool::put outside a transaction");
  if (!db_->in_transaction())  // SQLite ended it after an error (disk full): never write outside it
    throw Error("spool " + db_->file().string() +
                ": the ingest transaction was rolled back after an earlier "
                "error; this poll stops here and the next one goes on");
  std::uint64_t total = 0;
  for (const auto& p : d.parts) total += p.size;
  // The common record, one file of at most one chunk, and every held record (only hashed) are
  // read before anything is written: a file that changed under us leaves nothing behind, no
  // savepoint needed. Other records are written part by part, chunk by chunk (put_streamed).
  const bool one_small_part = d.parts.size() == 1 && d.parts[0].size <= chunk_bytes_;
  if (hold == Hold::none && !d.parts.empty() && !one_small_part) return put_streamed(d, patient_key, total, now);

  std::vector<std::byte> buffer;
  std::optional<std::span<const std::byte>> content;  // of the one part of a ready record
  std::vector<StoredPart> parts;
  for (const auto& part : d.parts) {
    std::string sha;
    if (hold == Hold::none)
      content = whole_part(part, buffer, sha);
    else
      sha = part.bytes && part.bytes->size() == part.size ? util::sha256_hex(*part.bytes) : hash_part(part);
    parts.push_back({0, part.name, part.size, sha});
  }
  const std::int64_t id =
      insert_record(d, patient_key, hold, total, d.parts.empty() ? util::sha256_hex("") : record_hash(parts), now);
  if (id == 0) return false;
  for (std::size_t seq = 0; seq < d.parts.size(); ++seq) insert_part(id, seq, d.parts[seq], parts[seq].sha256, content);
  if (hold == Hold::none) tx_bytes_ += total;
  return true;
}

// Inside a savepoint: the record row first (so a replayed version costs no reading), then each
// part, small ones in one row, larger ones as chunk rows, each hashed as it is written; the
// hashes go into the part and record rows last. Those rows hold no content, so updating them
// is cheap (SQLite rewrites a whole row on UPDATE). Memory: one chunk, whatever the record's size.
bool Spool::put_streamed(const RecordDraft& d, std::string_view patient_key, std::uint64_t total, std::int64_t now) {
  st_->savepoint.run();
  try {
    const std::int64_t id = insert_record(d, patient_key, Hold::none, total, "", now);
    if (id == 0) {
      st_->release.run();
      return false;
    }
    std::vector<std::byte> buffer;
    std::vector<StoredPart> parts;
    for (std::size_t seq = 0; seq < d.parts.size(); ++seq) {
      const auto& part = d.parts[seq];
      std::string sha;
      if (part.size <= chunk_bytes_) {
        auto content = whole_part(part, buffer, sha);
        insert_part(id, seq, part, sha, content);
      } else {
        insert_part(id, seq, part, "", std::nullopt);
        const std::int64_t part_id = db_->last_insert_rowid();
        sha = write_chunks(part_id, part);
        st_->set_part_sha.bind(1, part_id).bind(2, sha).run();
      }
      parts.push_back({0, part.name, part.size, sha});
    }
    st_->set_record_sha.bind(1, id).bind(2, record_hash(parts)).run();
    st_->release.run();
  } catch (...) {
    // Undo this record only. When SQLite has already rolled the whole transaction back (a full
    // disk), there is no savepoint left, and the error in flight is the one to report.
    if (db_->in_transaction()) {
      try {
        st_->rollback_to.run();
        st_->release.run();
      } catch (const Error&) {
      }
    }
    throw;
  }
  tx_bytes_ += total;
  return true;
}

void Spool::add_quarantine(std::string_view source, std::string_view path, std::string_view reason, std::uint64_t size,
                           std::string_view copy_path, std::int64_t now) {
  auto& q = st_->upsert_quarantine;
  q.bind(1, source).bind(2, path).bind(3, reason).bind(4, static_cast<std::int64_t>(size));
  if (copy_path.empty())
    q.bind_null(5);
  else
    q.bind(5, copy_path);
  q.bind(6, now).run();
}

std::vector<QuarantineRow> read_quarantine(sqlite::Connection& db, std::optional<std::int64_t> id) {
  sqlite::Statement q(
      db, std::string("SELECT source, path, reason, COALESCE(copy_path, ''), size, at, id FROM quarantine") +
              (id ? " WHERE id = ?1" : "") + " ORDER BY at, id");
  if (id) q.bind(1, *id);
  std::vector<QuarantineRow> out;
  while (q.step())
    out.push_back({q.column_text(0), q.column_text(1), q.column_text(2), q.column_text(3),
                   static_cast<std::uint64_t>(q.column_int(4)), q.column_int(5), q.column_int(6)});
  return out;
}

std::vector<QuarantineRow> Spool::quarantine(std::optional<std::int64_t> id) { return read_quarantine(*db_, id); }

bool Spool::reread_file(std::string_view source, const std::string& path, const std::vector<std::string>& folder_keys) {
  const std::string name = std::filesystem::path(path).filename().string();
  sqlite::Statement forget(*db_, "DELETE FROM dirpoll_units WHERE source = ?1 AND dir = ?2 AND name = ?3");
  sqlite::Statement unsettle(*db_, "UPDATE dirpoll_dirs SET settled = 0 WHERE source = ?1 AND path = ?2");
  bool known = false;
  for (const auto& key : folder_keys) {
    forget.bind(1, source).bind(2, key).bind(3, name).run();
    known = known || db_->changes() > 0;
    unsettle.bind(1, source).bind(2, key).run();
  }
  return known;
}

std::int64_t Spool::requeue_withdrawals(std::int64_t seq) {
  sqlite::Statement q(*db_,
                      "INSERT INTO gate_withdrawals (patient_key, effective_at) SELECT patient_key, effective_at "
                      "FROM spool_delivered_withdrawals WHERE batch_seq = ?1");
  q.bind(1, seq).run();
  return db_->changes();
}

void Spool::requeue_quarantined(const QuarantineRow& entry, const std::vector<std::string>& folder_keys) {
  reread_file(entry.source, entry.path, folder_keys);
  sqlite::Statement drop(*db_, "DELETE FROM quarantine WHERE id = ?1");
  drop.bind(1, entry.id).run();
}

void Spool::add_counter(std::string_view name, std::int64_t delta) {
  st_->add_counter.bind(1, name).bind(2, delta).run();
}

void Spool::set_counter(std::string_view name, std::int64_t value) {
  sqlite::Statement q(*db_,
                      "INSERT INTO spool_counters (name, value) VALUES (?1, ?2) "
                      "ON CONFLICT (name) DO UPDATE SET value = excluded.value");
  q.bind(1, name).bind(2, value).run();
}

std::int64_t Spool::counter(std::string_view name) {
  auto& q = st_->get_counter;
  q.bind(1, name);
  std::int64_t v = q.step() ? q.column_int(0) : 0;
  q.reset();
  return v;
}

Depth Spool::depth() { return read_depth(*db_); }

// Shared with SpoolReader (sennen-edgectl), so the daemon's heartbeat and the CLI count alike.
Depth read_depth(sqlite::Connection& db) {
  Depth d;
  sqlite::Statement q(db,
                      "SELECT source, state, hold_reason, COUNT(*), COALESCE(SUM(size),0), MIN(ingested_at) "
                      "FROM spool_records GROUP BY source, state, hold_reason");
  auto oldest = [](std::int64_t& at, std::int64_t t) {
    if (at == 0 || t < at) at = t;
  };
  while (q.step()) {
    std::string state = q.column_text(1), reason = q.column_text(2);
    std::int64_t n = q.column_int(3);
    auto& s = d.sources[q.column_text(0)];
    if (state == "ready") {
      d.ready += n;
      d.ready_bytes += q.column_int(4);
    } else if (state == "batched") {
      d.batched += n;
      d.batched_bytes += q.column_int(4);
    } else if (reason == "stopped") {
      d.held_stopped += n;
      s.held_stopped += n;
    } else {
      d.held_not_notified += n;
      s.held_not_notified += n;
    }
    if (state != "held") {
      s.pending += n;
      oldest(s.oldest_pending_at, q.column_int(5));
      oldest(d.oldest_pending_at, q.column_int(5));
    }
  }
  sqlite::Statement b(db, "SELECT COUNT(*) FROM spool_batches WHERE state IN ('sealing','sealed')");
  b.step();
  d.batches_pending = b.column_int(0);
  sqlite::Statement w(db, "SELECT COUNT(*) FROM gate_withdrawals");
  w.step();
  d.withdrawals_pending = w.column_int(0);
  sqlite::Statement qu(db, "SELECT COUNT(*) FROM quarantine");
  qu.step();
  d.quarantined = qu.column_int(0);
  return d;
}

}  // namespace sennen::spool
