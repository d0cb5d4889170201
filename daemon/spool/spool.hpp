#pragma once
// The durable spool: every record is committed here (content, sha256, size, source, key,
// patient, kind, event) before anything else happens to it, and leaves only after the batch
// holding it was confirmed delivered. One SQLite database in WAL mode under state_dir.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/record.hpp"
#include "daemon/core/source.hpp"

namespace sennen::sqlite {
class Connection;
}

namespace sennen::spool {

enum class Hold { none, stopped, not_notified };
const char* to_string(Hold h);

struct StoredPart {
  std::int64_t part_id = 0;
  std::string name;
  std::uint64_t size = 0;
  std::string sha256;
};

struct StoredRecord {
  std::int64_t id = 0;
  std::string source, key, version, patient_id, patient_key, kind, path;
  Event event = Event::upsert;
  std::uint64_t size = 0;
  std::string sha256;
  std::string attributes_json;
  std::int64_t ingested_at = 0;
  std::vector<StoredPart> parts;
};

struct Withdrawal {
  std::int64_t id = 0;
  std::string patient_key;
  std::int64_t effective_at = 0;
};

// A batch's life: sealing (records assigned, the file being written), sealed (in the outbox),
// then delivered (confirmed at the destination) or void (its records went back to ready, or
// were withheld). Stored as these words in spool_batches.state.
enum class BatchState { sealing, sealed, delivered, void_ };
std::string_view to_string(BatchState state);
// Throws sennen::Error on a word the spool never writes (a database edited by hand).
BatchState batch_state_named(std::string_view word);

// A file set aside (quarantine/), with its reason; copy_path "" when only recorded by reference.
struct QuarantineRow {
  std::string source, path, reason, copy_path;
  std::uint64_t size = 0;
  std::int64_t at = 0;
  std::int64_t id = 0;
};

struct BatchInfo {
  std::int64_t seq = 0;
  std::string batch_id;
  BatchState state = BatchState::sealing;
  std::int64_t created_at = 0;
  std::int64_t record_count = 0;
  std::int64_t withdrawal_count = 0;
  std::uint64_t file_size = 0;
  std::string file_sha256;
  std::string stop_list_sha256;
  std::int64_t delivered_at = 0;
  // It holds a record of many patients, and a patient was added to the stop list after it was
  // filtered: it may not leave as it is (schema 9; apply_stop_list sets it).
  bool recheck = false;
};

// One source's records in the spool, for its recovery point (docs/heartbeat-format.md).
struct SourceDepth {
  std::int64_t pending = 0;            // ready or in batches not yet delivered
  std::int64_t oldest_pending_at = 0;  // ingested_at of the oldest of them, 0 if none
  std::int64_t held_stopped = 0, held_not_notified = 0;
};

struct Depth {
  std::int64_t ready = 0, batched = 0, held_stopped = 0, held_not_notified = 0;
  std::int64_t ready_bytes = 0;
  std::int64_t batched_bytes = 0;      // content of records sealed into batches not yet delivered
  std::int64_t oldest_pending_at = 0;  // ingested_at of the oldest ready/batched record, 0 if none
  std::int64_t batches_pending = 0;
  std::int64_t withdrawals_pending = 0;
  std::int64_t quarantined = 0;
  std::map<std::string, SourceDepth, std::less<>> sources;  // by source name; sources without records absent
  // Record content the spool holds (held records keep only their hashes): what spool.max_bytes caps.
  std::uint64_t content_bytes() const { return static_cast<std::uint64_t>(ready_bytes + batched_bytes); }
};

class Spool {
 public:
  static constexpr int kSchemaVersion = 9;
  // A part larger than this is stored as a sequence of chunks of this size (spool_chunks, schema
  // 3); smaller parts in one row. Each chunk is read into one buffer and inserted with one
  // statement, so ingesting a part of any size takes about two chunks of memory (the buffer and
  // SQLite's image of the row) and a few rows per MiB; 4 MiB keeps both small, is far below the
  // 1,000,000,000 bytes SQLite accepts in one value, and still holds nearly every HL7 message and
  // scanned document in one row, written in one statement as before.
  static constexpr std::size_t kChunkBytes = 4u << 20;

  // Opens (creating) state_dir/spool.db and migrates it to kSchemaVersion. `chunk_bytes`: see
  // kChunkBytes (tests make it tiny to cover records of many chunks with small files).
  explicit Spool(const std::filesystem::path& state_dir, std::size_t chunk_bytes = kChunkBytes);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  const std::filesystem::path& state_dir() const { return state_dir_; }
  int schema_version() const;

  // --- transactions. Every operation below that changes several rows is its own transaction,
  // except ingest (put, visits, polling state), which runs inside a Transaction the caller holds
  // and commits in chunks. A Transaction is the only way to hold one open: it rolls back unless
  // committed, however its scope is left, so an error can never leave the spool inside one.
  class Transaction {
   public:
    enum class Kind { write, read };  // read: a snapshot (BEGIN DEFERRED), many reads under one lock
    explicit Transaction(Spool& spool, Kind kind = Kind::write);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();
    void rollback() noexcept;
    // Commits what was done so far and goes on in a new transaction (a chunk of an ingest).
    void checkpoint();
    // Record content stored since the last commit or checkpoint.
    std::uint64_t bytes_stored() const { return spool_.tx_bytes_; }

   private:
    Spool& spool_;
    Kind kind_;
    bool open_ = false;
  };
  bool in_transaction() const { return in_tx_; }
  // The connection, for tests that need SQLite's own knobs (limits, triggers).
  sqlite::Connection& connection() { return *db_; }

  // --- ingest (inside a write Transaction). Streams each part from disk: into the spool when
  // hold == none, only through the hash otherwise. Throws SourceFileError when a part cannot be
  // read or does not have the size it was found with, sennen::Error when the spool cannot take it
  // (disk full, database error); nothing of the record is kept then.
  // Returns false when this version was already in the spool (a replayed poll).
  bool put(const RecordDraft& draft, std::string_view patient_key, Hold hold, std::int64_t now);

  // --- the gate's tables
  void put_visit(std::string_view source, std::string_view key, std::string_view patient_key, int day);
  void remove_visit(std::string_view source, std::string_view key);
  std::optional<int> first_visit_since(std::string_view patient_key, int since_day);
  // The stop list as applied. It can only be loosened on purpose: a key that leaves the staff's
  // file stays stopped ("retained") until release_stop() is called for it (sennen-edgectl optout
  // release), so a truncated, emptied or garbled file never lets anyone's records out.
  struct StopListUpdate {
    // Newly stopped keys. In the same transaction that records them, their pending records lose
    // their content and become held, and a withdrawal is queued for each: a crash cannot keep
    // one without the other.
    std::vector<std::string> added;
    std::vector<std::string> went_missing;  // in the file before, not now: still stopped
    std::vector<std::string> came_back;     // missing before, in the file again
    std::set<std::string> stopped;          // every stopped key now: the file's and the retained
    std::size_t retained = 0;               // stopped keys missing from the file, awaiting release
    std::size_t in_file_before = 0;         // keys that were in the file as last applied
    std::int64_t purged = 0;                // pending records of `added` withheld
    // Batches not yet delivered that hold a record of many patients: marked for a recheck
    // (BatchInfo::recheck) in the same transaction, as one of `added` may be inside.
    std::int64_t rechecks = 0;
  };
  StopListUpdate apply_stop_list(const std::set<std::string>& file_keys, std::int64_t now);
  // Every stopped key (for start-up, before the file has been read).
  std::set<std::string> stopped_keys();
  struct RetainedStop {
    std::string patient_key;
    std::int64_t since = 0;          // when it was first applied
    std::int64_t missing_since = 0;  // when it was first seen missing from the file
  };
  std::vector<RetainedStop> retained_stops();
  // An operator confirmed that `patient_key` may leave the stop list (the caller has checked that
  // the staff's file no longer holds it). Recorded in gate_releases with who, when and why. False
  // when the key is not stopped.
  bool release_stop(std::string_view patient_key, std::string_view released_by, std::string_view reason,
                    std::int64_t now);
  struct Release {
    std::int64_t id = 0;
    std::string patient_key;
    std::int64_t stopped_since = 0, missing_since = 0, released_at = 0;
    std::string released_by, reason;
  };
  // Releases, newest first; of one key when given.
  std::vector<Release> releases(std::optional<std::string_view> patient_key = std::nullopt);
  // Patients with held records, optionally only those with a visit on/after since_day.
  std::vector<std::string> held_patients(std::optional<int> visited_since_day);
  // Pending records of a patient lose their content and become held for `reason` (stopped or
  // not_notified). Records already in a batch are not touched (void the batch first). Returns
  // the number of records affected.
  std::int64_t hold_patient(std::string_view patient_key, Hold reason);
  // Held records of a patient become ready: each part is re-read from where `locate` says it is
  // now and must hash to what was recorded. Returns {released, stale}; stale versions (gone from
  // the source or changed) are dropped with a warning: a newer version supersedes them. A record
  // whose file cannot be read or looked up now (`locate` or reading throws SourceFileError,
  // unreadable) stays held, for a later cycle, and so does one whose source cannot be looked at
  // now (`locate` throws SourceUnavailable; the caller says so once, not per record). A delete has
  // no content: it is released as it is.
  class SourceUnavailable : public Error {
   public:
    using Error::Error;
  };
  using Locate = std::function<std::optional<std::vector<ContentPart>>(const StoredRecord&)>;
  std::pair<std::int64_t, std::int64_t> release_patient(std::string_view patient_key, const Locate& locate);

  // --- batches
  // Ready records in ingest order, starting after `after_id`, at most `limit`.
  std::vector<StoredRecord> ready_records(std::int64_t after_id, std::size_t limit);
  std::vector<Withdrawal> pending_withdrawals();
  // The sequence number the next batch gets (per site, never reused, also after a void).
  std::int64_t next_batch_seq();
  // Assigns records and withdrawals to a new batch in state "sealing". In the same transaction the
  // batch takes on announcing every voided batch not yet announced (docs/batch-format.md,
  // `voided_sequences`); returns their sequence numbers, ascending.
  std::vector<std::int64_t> create_batch(std::string_view batch_id, std::int64_t seq,
                                         const std::vector<std::int64_t>& record_ids,
                                         const std::vector<std::int64_t>& withdrawal_ids, std::uint64_t raw_bytes,
                                         std::string_view stop_list_sha256, std::int64_t now);
  void mark_sealed(std::string_view batch_id, std::uint64_t file_size, std::string_view file_sha256);
  // Delivered: the batch's records and withdrawals leave the spool; the batch row stays for audit,
  // and its upserts are counted per day, kind and form (delivered_kinds).
  void mark_delivered(std::string_view batch_id, std::int64_t now);
  // Records delivered on or after unix day `since_day`, per kind and form ("structured" or
  // "pdf_jpeg"), summed over the days; one query. mark_delivered keeps kDeliveredKindsKeptDays.
  static constexpr std::int64_t kDeliveredKindsKeptDays = 40;
  struct DeliveredKind {
    std::string kind, form;
    std::int64_t records = 0;
  };
  std::vector<DeliveredKind> delivered_kinds(std::int64_t since_day);
  // Abandons a batch that never left the box: its records and withdrawals go back to pending,
  // except records superseded by a newer version of their key in the spool, which are dropped
  // (sent after that version they would replace it at the central side). The voided batches it
  // was to announce, and itself, are announced by the next batch created.
  void void_batch(std::string_view batch_id, std::string_view reason);
  // Takes a ready record out of the spool (its parts with it): the sealer set it aside into
  // quarantine because it cannot be written into any batch.
  void remove_record(std::int64_t record_id);
  std::vector<BatchInfo> batches_in_state(BatchState state);
  std::optional<BatchInfo> last_delivered_batch();
  // Patient keys with records inside a batch.
  std::set<std::string> batch_patients(std::string_view batch_id);
  std::vector<StoredRecord> batch_records(std::string_view batch_id);
  // Reads a stored part's bytes sequentially, in constant memory.
  class PartReader {
   public:
    virtual ~PartReader() = default;
    virtual std::size_t read(std::span<std::byte> out) = 0;  // 0 at the end
  };
  std::unique_ptr<PartReader> open_part(std::int64_t part_id);

  // --- quarantine and counters
  // Every quarantine entry, oldest first, or only entry `id`.
  std::vector<QuarantineRow> quarantine(std::optional<std::int64_t> id = std::nullopt);
  // Makes the next poll read a quarantined file again (sennen-edgectl quarantine retry): forgets
  // its polling state in each of `folder_keys` (the keys its source files the folder under, see
  // adapters/sources/dirpoll/walker.cpp), marks those folders not settled so the unchanged-folder
  // shortcut does not skip them, and removes the entry. In the caller's Transaction.
  void requeue_quarantined(const QuarantineRow& entry, const std::vector<std::string>& folder_keys);
  // Makes the next poll read `path` (relative to its source's root) of `source` again, as
  // requeue_quarantined does, for a file that was delivered (sennen-edgectl resend): read again, it
  // is a new record, goes through the gate as any other and leaves in a new batch. Returns whether
  // the source had it in its polling state. In the caller's Transaction.
  bool reread_file(std::string_view source, const std::string& path, const std::vector<std::string>& folder_keys);
  // Queues again the withdrawals the delivered batch `seq` carried (sennen-edgectl resend), so they
  // leave in the next batch; returns how many. In the caller's Transaction.
  std::int64_t requeue_withdrawals(std::int64_t seq);
  void add_quarantine(std::string_view source, std::string_view path, std::string_view reason, std::uint64_t size,
                      std::string_view copy_path, std::int64_t now);
  void add_counter(std::string_view name, std::int64_t delta);
  void set_counter(std::string_view name, std::int64_t value);
  std::int64_t counter(std::string_view name);
  Depth depth();

  // Per-source polling state, written through this spool's connection (and transaction).
  std::unique_ptr<SourceState> source_state(std::string_view source);

  struct Statements;  // internal, prepared statements (spool_statements.hpp)

 private:
  void begin(Transaction::Kind kind);
  void commit();
  void rollback() noexcept;
  void migrate();
  std::int64_t insert_record(const RecordDraft& d, std::string_view patient_key, Hold hold, std::uint64_t total,
                             std::string_view sha256, std::int64_t now);
  void insert_part(std::int64_t record_id, std::size_t seq, const ContentPart& part, std::string_view sha256,
                   std::optional<std::span<const std::byte>> content);
  bool put_streamed(const RecordDraft& d, std::string_view patient_key, std::uint64_t total, std::int64_t now);
  // Reads the part into spool_chunks rows of part_id; returns its sha256.
  std::string write_chunks(std::int64_t part_id, const ContentPart& part);
  std::filesystem::path state_dir_;
  std::size_t chunk_bytes_;
  std::unique_ptr<sqlite::Connection> db_;
  std::unique_ptr<Statements> st_;
  bool in_tx_ = false;
  std::uint64_t tx_bytes_ = 0;
};

}  // namespace sennen::spool
