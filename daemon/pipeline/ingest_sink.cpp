#include "daemon/pipeline/ingest_sink.hpp"

#include "daemon/util/durable_dirs.hpp"
#include "daemon/util/error.hpp"
#include "daemon/core/content_filter.hpp"
#include "daemon/core/patient_id.hpp"
#include "daemon/pipeline/flow_control.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/pipeline/quarantine_copy.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/name_text.hpp"
#include "daemon/util/stale_temps.hpp"

namespace sennen::pipeline {
namespace fs = std::filesystem;
namespace {
// A chunk is committed once it holds kIngestChunkBytes of content or this many operations: small
// enough that a crash replays little, large enough that commits (fsyncs) do not dominate ingest.
constexpr std::uint64_t kChunkOps = 5000;
constexpr std::uint64_t kMaxQuarantineCopy = 64ull << 20;

spool::Hold to_hold(gate::Decision d) {
  switch (d) {
    case gate::Decision::stopped:
      return spool::Hold::stopped;
    case gate::Decision::not_notified:
      return spool::Hold::not_notified;
    case gate::Decision::eligible:
      break;
  }
  return spool::Hold::none;
}
}  // namespace

IngestSinkImpl::IngestSinkImpl(spool::Spool& spool, spool::Spool::Transaction& tx, const gate::Gate& gate,
                               const Clock& clock, std::string source, fs::path quarantine_dir,
                               std::function<void()> on_progress)
    : spool_(spool),
      tx_(tx),
      gate_(gate),
      clock_(clock),
      source_(std::move(source)),
      quarantine_dir_(std::move(quarantine_dir)),
      on_progress_(std::move(on_progress)) {}

std::int64_t IngestSinkImpl::now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
}

std::optional<int> IngestSinkImpl::first_visit(const std::string& key) {
  if (!gate_.notification()) return std::nullopt;
  auto it = first_visit_cache_.find(key);
  if (it != first_visit_cache_.end()) return it->second;
  auto v = spool_.first_visit_since(key, gate_.notification()->notice_start_day);
  first_visit_cache_.emplace(key, v);
  return v;
}

void IngestSinkImpl::record(const RecordDraft& d) {
  // A record of many patients: stored whole, the gate is asked for each of them when it is sealed
  // (daemon/core/content_filter.hpp).
  if (!content_filter_of(d.patient_id).empty()) {
    if (spool_.put(d, d.patient_id, spool::Hold::none, now())) {
      ++counts_.eligible;
      for (const auto& part : d.parts) stored_bytes_ += part.size;
    }
    ++ops_in_tx_;
    if (on_progress_) on_progress_();
    return;
  }
  auto key = canonical_patient_id(d.patient_id);
  if (!key) throw Error("internal: " + source_ + " handed over a record without a valid patient ID: " + d.path);
  auto decision = gate_.decide(*key, first_visit(*key), clock_.now());
  if (d.event == Event::remove) spool_.remove_visit(source_, d.key);
  if (spool_.put(d, *key, to_hold(decision), now())) {
    switch (decision) {
      case gate::Decision::eligible:
        ++counts_.eligible;
        for (const auto& part : d.parts) stored_bytes_ += part.size;
        break;
      case gate::Decision::stopped:
        ++counts_.stopped;
        break;
      case gate::Decision::not_notified:
        ++counts_.not_notified;
        break;
    }
  }
  ++ops_in_tx_;
  if (on_progress_) on_progress_();
}

void IngestSinkImpl::visit(std::string_view patient_id, std::string_view key, std::string_view date) {
  auto pk = canonical_patient_id(patient_id);
  auto day = gate::day_from_yyyymmdd(date);
  if (!pk || !day) return;
  spool_.put_visit(source_, key, *pk, *day);
  first_visit_cache_.erase(*pk);
  ++ops_in_tx_;
}

void IngestSinkImpl::quarantine(const fs::path& file, std::string_view rel_path, std::string_view reason) {
  // Inside quarantine_dir_ whatever the name holds ("..", a leading '/').
  const fs::path copy = quarantine_dir_ / util::contained_path(source_) / util::contained_path(rel_path);
  const std::string shown = source_ + ":" + util::display_name(rel_path);
  QuarantineCopy kept;
  try {
    kept = copy_for_quarantine(file, copy, kMaxQuarantineCopy);
    std::string text = std::string(reason) + "\n";
    for (const auto& n : kept.notes) text += n + "\n";
    util::remove_stale_temps(fs::path(copy) += ".reason.txt");  // of an earlier try cut off
    util::AtomicFile why(fs::path(copy) += ".reason.txt", 0640);
    why.write(text);
    why.commit();
  } catch (const Error& e) {
    log::warning("cannot copy " + shown + " into quarantine: " + e.what());
  }
  // What was not copied (a link, a device, a hard-linked file) is part of why it is here.
  std::string stored(reason);
  if (!kept.notes.empty()) stored += "; " + kept.notes.front();
  if (kept.notes.size() > 1) stored += " (and " + std::to_string(kept.notes.size() - 1) + " more in the .reason.txt)";
  const std::string copied = kept.copied ? copy.string() : std::string();
  spool_.add_quarantine(source_, rel_path, stored, kept.size, copied, now());
  log::warning("quarantined " + shown + ": " + stored +
               (copied.empty() ? "" : " (copy in " + util::display_name(copied) + ")"));
}

void IngestSinkImpl::quarantine_owned(const fs::path& file, std::string_view rel_path, std::string_view reason) {
  const fs::path dest = quarantine_dir_ / util::contained_path(source_) / util::contained_path(rel_path);
  const std::string shown = source_ + ":" + util::display_name(rel_path);
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) throw Error("cannot quarantine " + shown + ": " + file.string() + ": " + ec.message());
  // Synced into their parents: once moved, the file in quarantine is the only copy.
  try {
    util::create_directories_durably(dest.parent_path(), quarantine_dir_.parent_path());
  } catch (const Error& e) {
    throw Error("cannot quarantine " + shown + ": " + e.what());
  }
  // A try cut off before (a kill, a power cut) left the file where it was and maybe a temp file of
  // its reason: this try writes the reason again.
  util::remove_stale_temps(fs::path(dest) += ".reason.txt");
  util::AtomicFile why(fs::path(dest) += ".reason.txt", 0640);
  why.write(std::string(reason) + "\n");
  why.commit();
  // A rename, not a copy: no size limit, and the only copy is never without a place. Both live
  // under state_dir; on another file system the rename fails and the file stays for the next poll.
  fs::rename(file, dest, ec);
  if (ec)
    throw Error("cannot move " + file.string() + " into quarantine " + dest.string() + ": " + ec.message() +
                " (it stays where it is and is tried again at the next poll)");
  util::fsync_directory(dest.parent_path());
  util::fsync_directory(file.parent_path());
  spool_.add_quarantine(source_, rel_path, reason, size, dest.string(), now());
  log::warning("quarantined " + shown + ": " + std::string(reason) + " (moved to " + util::display_name(dest.string()) +
               ")");
}

void IngestSinkImpl::quarantine_by_reference(std::string_view rel_path, std::string_view reason, std::uint64_t size) {
  spool_.add_quarantine(source_, rel_path, reason, size, "", now());
  log::warning("quarantined " + source_ + ":" + std::string(rel_path) + ": " + std::string(reason) +
               " (left where it is, not copied)");
}

void IngestSinkImpl::checkpoint() {
  if (ops_in_tx_ >= kChunkOps || tx_.bytes_stored() >= kIngestChunkBytes) {
    log::stage("ingest-commit", source_);
    tx_.checkpoint();
    log::stage("walk", source_);
    ops_in_tx_ = 0;
    first_visit_cache_.clear();
  }
}

}  // namespace sennen::pipeline
