#pragma once
// What a source sees of the pipeline, and what the pipeline sees of a source. A source never
// touches SQLite, the gate or batches: it walks its inputs, keeps its per-file state through
// SourceState, and hands records to an IngestSink.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/clock.hpp"
#include "daemon/util/error.hpp"
#include "daemon/core/record.hpp"

namespace sennen {

// A file or folder of a source that cannot be read now, as opposed to a failure of the pipeline
// itself (the spool, the disk holding state_dir), which ends the poll as an error of the source.
// `unreadable`: the service user may not read it, or reading failed (reported, retried every poll);
// `changed`: it changed size or content, or vanished (a rename), while being read (read again once
// it is stable).
class SourceFileError : public Error {
 public:
  enum class Kind { unreadable, changed };
  SourceFileError(Kind kind, std::filesystem::path path, const std::string& message)
      : Error(message), kind_(kind), path_(std::move(path)) {}
  // After a failed open or read with errno `err`: a file gone (renamed meanwhile) has changed.
  static SourceFileError from_errno(int err, std::filesystem::path path, const std::string& message) {
    return {err == ENOENT || err == ENOTDIR ? Kind::changed : Kind::unreadable, std::move(path), message};
  }
  Kind kind() const { return kind_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  Kind kind_;
  std::filesystem::path path_;
};

// Per-source polling state, persisted in the spool in the same transaction as the records a poll
// ingests (so a crash can neither lose a file nor ingest it twice).
struct DirState {
  std::string path;  // relative to the source root; "" is the root
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  bool settled = false;  // every unit below was dealt with (nothing waiting to become stable)
  bool has_subdirs = false;
  std::int64_t listed_at = 0;  // unix seconds of the last full listing
};

struct UnitState {
  std::string name;  // file (or content folder) name inside its directory
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::string status;  // adapter-defined: "ingested", "waiting", "quarantined", "skipped", ...
};

class SourceState {
 public:
  virtual ~SourceState() = default;
  virtual std::vector<DirState> child_dirs(std::string_view parent) = 0;
  virtual void put_dir(std::string_view parent, const DirState& dir) = 0;
  virtual void erase_dir_tree(std::string_view path) = 0;  // the directory and everything below it
  virtual std::vector<UnitState> units(std::string_view dir) = 0;
  virtual void put_unit(std::string_view dir, const UnitState& unit) = 0;
  virtual void erase_unit(std::string_view dir, std::string_view name) = 0;
  virtual std::uint64_t unit_count() = 0;  // units currently known in the tree
  virtual std::uint64_t units_with_status(std::string_view status) = 0;
};

// Receives what a poll finds. Implemented by the pipeline (gate + spool).
class IngestSink {
 public:
  virtual ~IngestSink() = default;
  // Commits the record (streaming its parts' bytes into the spool, or only their hashes while the
  // patient is not eligible). Throws SourceFileError when a part cannot be read or changed while
  // being read (the source then leaves the unit for a later poll); any other sennen::Error is a
  // failure of the pipeline, which the source lets end its poll.
  virtual void record(const RecordDraft& draft) = 0;
  // The patient visited on `date` (YYYYMMDD), evidence for the notification gate; `key` ties the
  // evidence to the record, so cancelling the record withdraws it.
  virtual void visit(std::string_view patient_id, std::string_view key, std::string_view date) = 0;
  // Copies the file aside with its reason and reports it; nothing is sent.
  virtual void quarantine(const std::filesystem::path& file, std::string_view rel_path, std::string_view reason) = 0;
  // For a file the source owns (one the DICOM receiver wrote under state_dir, often the only copy
  // there is): moves it aside whole, whatever its size, made durable, with its reason; the file is
  // gone from where it was. Throws sennen::Error when it cannot be moved (the file stays).
  virtual void quarantine_owned(const std::filesystem::path& file, std::string_view rel_path,
                                std::string_view reason) = 0;
  // Reports a file with its reason without opening it (a hard link, a file above the size limit):
  // the quarantine records what was there and how large, never a copy. Nothing is sent.
  virtual void quarantine_by_reference(std::string_view rel_path, std::string_view reason, std::uint64_t size) = 0;
  // A safe point: everything handed over so far, together with the SourceState writes made so
  // far, may be committed now.
  virtual void checkpoint() = 0;
};

// Care-month states of SourceStats::months.
inline constexpr const char* kMonthArrived = "arrived";
inline constexpr const char* kMonthMissing = "missing";           // its deadline has passed
inline constexpr const char* kMonthNotDue = "not due";            // its deadline has not come yet
inline constexpr const char* kMonthBeforeStart = "before start";  // before the source first ran: not asked for

struct SourceStats {
  static constexpr std::size_t kListed = 10;  // unreadable paths named, at most

  std::uint64_t files_seen = 0;   // units present in the tree at the end of the last poll
  std::uint64_t ingested = 0;     // units committed by the last poll
  std::uint64_t quarantined = 0;  // units quarantined by the last poll
  std::uint64_t waiting = 0;      // units not yet stable at the end of the last poll
  std::uint64_t bytes = 0;        // bytes ingested by the last poll
  // Folders and files the last poll could not read (tried again every poll), and the first
  // kListed of them (absolute paths).
  std::uint64_t unreadable = 0;
  std::vector<std::string> unreadable_paths;
  // Entries present in the tree that are never opened: symbolic links, devices, FIFOs, sockets,
  // folders on another file system or looping back to a folder above them.
  std::uint64_t skipped = 0;
  // What a source turned away or could not keep as it came, outside any file of its own (a DICOM
  // peer refused at association negotiation, an instance a PACS transcoded), by event and peer:
  // counted since the daemon started (the source keeps the totals) and by the last poll (while
  // that is not 0 the site reports a problem). E.g. events["association refused"]["CT1"].
  struct Count {
    std::uint64_t total = 0, last_poll = 0;
  };
  std::map<std::string, std::map<std::string, Count>> events;
  // A source that is owed files every month (type: dropbox, expect:): its calendar of the last 12
  // care months, by kind and "YYYY-MM", each one of the kMonth* states below. A missing month is a
  // problem (missing_month) while it lasts.
  std::map<std::string, std::map<std::string, std::string>> months;

  void add_unreadable(const std::filesystem::path& path) {
    ++unreadable;
    if (unreadable_paths.size() < kListed) unreadable_paths.push_back(path.string());
  }
};

// Whether the spool has reached its cap (config spool.max_bytes), so intake is paused until
// deliveries make room. Read-only and safe on any thread at any time while the source lives: a
// receiver thread may keep a copy, e.g. to answer a DICOM C-STORE with A700 (out of resources)
// instead of accepting what the spool cannot take. Default-constructed: never full.
class SpoolFull {
 public:
  SpoolFull() = default;
  explicit SpoolFull(const std::atomic<bool>& flag) : flag_(&flag) {}
  bool operator()() const { return flag_ && flag_->load(std::memory_order_relaxed); }

 private:
  const std::atomic<bool>* flag_ = nullptr;
};

struct SourceContext {
  const Clock& clock;
  SourceState& state;
  IngestSink& sink;
  const std::atomic<bool>& stop_requested;
  SourceStats& stats;      // the source updates it as it goes (progress display reads it)
  bool full_scan = false;  // re-stat every file, ignoring unchanged-directory shortcuts
  SpoolFull spool_full{};
};

class Source {
 public:
  virtual ~Source() = default;
  virtual const std::string& name() const = 0;
  // One pass over the source. Throws sennen::Error when the source as a whole cannot be read
  // (root missing, permission denied); problems with single files are quarantined instead.
  virtual void poll(SourceContext& ctx) = 0;
  // Where the bytes of a version are now (files get renamed after we saw them). nullopt when
  // the version no longer exists in the source; throws SourceFileError (unreadable) when the
  // service user cannot look now.
  virtual std::optional<std::vector<ContentPart>> locate(std::string_view path, std::string_view version) const = 0;
};

}  // namespace sennen
