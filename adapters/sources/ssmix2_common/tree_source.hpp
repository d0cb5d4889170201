#pragma once
// Shared machinery of the two SS-MIX2 adapters (standardized and extended storage): roots,
// polling through the dirpoll walker, stray files, quarantine of stable bad units, and the
// key/flag bookkeeping that turns renames into "nothing to send" and cancels into deletes.
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapters/sources/dirpoll/walker.hpp"
#include "adapters/sources/ssmix2_common/index_db_options.hpp"
#include "adapters/sources/ssmix2_common/naming.hpp"
#include "adapters/sources/ssmix2_common/vendor_profile.hpp"
#include "daemon/core/source.hpp"

namespace sennen::ssmix2 {

struct TreeSourceOptions {
  std::string name;
  std::vector<std::filesystem::path> roots;
  std::chrono::seconds stable_after{30};
  std::uint64_t max_record_bytes = UINT64_MAX;  // a larger unit is quarantined by reference, never read
  bool allow_hard_links = false;             // read files with more than one hard link (else quarantined by reference)
  bool cross_filesystems = false;            // descend into folders on other file systems below a root
  std::string vendor = "generic";            // whose profile `accept` is, for messages
  Variations accept{};                       // unit-name variations accepted (vendor profile + overrides)
  std::optional<IndexDbOptions> index_db{};  // type: ssmix2 only: follow the index DB, walk every full_scan_interval
};

// Unit status values kept in SourceState.
inline constexpr const char* kIngested = "ingested";              // a current version, handed to the spool
inline constexpr const char* kHistory = "history";                // first seen superseded: not sent
inline constexpr const char* kCancel = "cancel";                  // condition flag 0
inline constexpr const char* kWaiting = "waiting";                // not yet stable
inline constexpr const char* kUnreadable = dirpoll::kUnreadable;  // cannot be read now: tried every poll
inline constexpr const char* kQuarantined = "quarantined";
inline constexpr const char* kIgnored = "ignored";  // not a unit of this storage kind
// A unit sent from one root of a multi-volume source that is no longer there, kept (under the
// state key "gone/<folder>") until it turns up in another root: a move, not a new record.
inline constexpr const char* kGone = "gone";

// The heartbeat event (sources[].events) under which encoding deviations are counted.
inline constexpr const char* kEncodingEvent = "encoding beyond ISO-2022-JP not in the vendor profile";

// A unit found in a unit folder: a file (standardized) or a content folder (extended).
struct FoundUnit {
  dirpoll::Entry entry;  // size = total bytes; mtime = newest of its files
  Name name;
  std::vector<ContentPart> parts;
  bool stable = false;
};

class TreeSource : public Source, protected dirpoll::UnitHandler {
 public:
  explicit TreeSource(TreeSourceOptions options);
  const std::string& name() const override { return options_.name; }
  void poll(SourceContext& ctx) override;
  std::optional<std::vector<ContentPart>> locate(std::string_view path, std::string_view version) const override;

 protected:
  // Turns the raw entries of a unit folder into units; entries that are not units are
  // quarantined (or ignored) here. Returns false if something is still unsettled.
  // `known` is the folder's unit state as the last poll left it.
  virtual bool collect_units(const dirpoll::Listing& listing, const std::string& state_dir,
                             const std::vector<UnitState>& known, SourceContext& ctx,
                             std::vector<FoundUnit>& units) = 0;
  // Builds the upsert for a new current version, or returns a quarantine reason, or why the
  // unit's file cannot be read now.
  struct Upsert {
    std::optional<RecordDraft> draft;
    std::string quarantine_reason;
    std::optional<SourceFileError> file_error;
    std::string visit_date;                    // YYYYMMDD when the record is evidence of a visit
    std::vector<std::string_view> deviations;  // from strict ISO-2022-JP (hl7_header.hpp), accepted
  };
  virtual Upsert make_upsert(const FoundUnit& unit, const std::string& rel_path, int root_index) = 0;
  // Content parts of a unit at `abs` (a file or a content folder), for locate().
  virtual std::optional<std::vector<ContentPart>> parts_at(const std::filesystem::path& abs) const = 0;

  bool on_unit_folder(const dirpoll::Listing& listing, const std::string& state_dir, SourceContext& ctx) override;
  // A poll is begin_poll, any number of walk_roots and examine_folder, then end_poll.
  void begin_poll(SourceContext& ctx);
  void walk_roots(SourceContext& ctx);
  void end_poll(SourceContext& ctx);
  // Lists the unit folder `unit_dir` (PID[0:3]/PID[3:6]/PID/DATE/TYPE) in every root that has it
  // and handles it as the walker would; only that folder is read. Returns the names found (all
  // roots), or nullopt when no root has the folder. Throws SourceFileError when it cannot be read.
  struct Examined {
    std::vector<std::string> names;
    bool settled = true;
  };
  std::optional<Examined> examine_folder(const std::string& unit_dir, SourceContext& ctx);
  // A unit folder's current version was handed to the spool (rel_path below its root).
  virtual void on_ingested(const std::string& rel_path) { (void)rel_path; }
  // How many units an adapter keeps in SourceState that are not files of the tree (its own
  // checkpoints), so files_seen does not count them.
  virtual std::uint64_t own_units(SourceContext& ctx) const {
    (void)ctx;
    return 0;
  }
  bool on_stray_file(const std::filesystem::path& file, const std::string& rel_path, const dirpoll::Entry& entry,
                     const std::string& state_dir, SourceContext& ctx) override;
  void on_vanished_folder(const std::string& key, SourceContext& ctx) override;

  // Quarantines an entry of a unit folder once it is stable and records its state; returns
  // false while it is not yet stable (the folder is not settled). `by_reference`: never copied.
  bool quarantine_entry(const dirpoll::Listing& listing, const dirpoll::Entry& e, const std::string& reason,
                        const std::string& state_dir, const std::vector<UnitState>& known, SourceContext& ctx,
                        bool by_reference = false);
  // Quarantines a unit once it is stable; returns the status to keep for it. A unit with more
  // than one hard link or above max_record_bytes is always quarantined by reference.
  const char* quarantine_when_stable(const std::filesystem::path& abs, const std::string& rel_path,
                                     const dirpoll::Entry& e, const std::string& reason, const UnitState* prev,
                                     SourceContext& ctx, bool by_reference = false);
  // Why a stable unit must not be read at all (hard links, size), or "".
  std::string refusal(const dirpoll::Entry& e) const;
  // Why a parsed unit name is outside the variations the source's vendor profile accepts, or "".
  std::string outside_profile(const Name& name, bool extended) const;
  // Records that a unit's file cannot be read now (see dirpoll::note_unreadable); returns its status.
  const char* unreadable(const std::string& state_dir, const std::vector<UnitState>& known, const dirpoll::Entry& e,
                         const SourceFileError& why, SourceContext& ctx) const;
  std::string rel_join(const std::string& dir, const std::string& name) const;
  static const UnitState* find_unit(const std::vector<UnitState>& known, const std::string& name);
  const TreeSourceOptions& options() const { return options_; }
  int current_root_ = 0;

 private:
  // Multi-volume roots share one key space. The status of a unit new in this folder that another
  // root holds (or held: kGone) under the same name and size, or nullptr.
  const char* moved_in(const std::string& state_dir, const std::string& rel, const dirpoll::Entry& e,
                       SourceContext& ctx) const;
  void keep_gone(const std::string& state_dir, const UnitState& u, SourceContext& ctx) const;

  TreeSourceOptions options_;
  // Records whose bytes deviate from ISO-2022-JP beyond what the vendor profile tolerates, by
  // deviation: since the daemon started and in the last poll (heartbeat sources[].events).
  std::map<std::string, SourceStats::Count> deviations_;
};

}  // namespace sennen::ssmix2
