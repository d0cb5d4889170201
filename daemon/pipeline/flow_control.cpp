#include "daemon/pipeline/flow_control.hpp"

#include <array>
#include <cmath>
#include <cstdio>

#include "daemon/util/time_format.hpp"

namespace sennen::pipeline {
namespace {

// What keeps batches from leaving, most actionable first.
std::string why_nothing_leaves(const Backlog& b) {
  if (!b.destination_error.empty())
    return "the central side has not accepted batches since " +
           (b.last_delivery ? util::iso8601_utc(b.last_delivery)
                            : "this service started at " + util::iso8601_utc(b.started_at)) +
           " (last error: " + b.destination_error + ")";
  if (b.next_window_open)
    return "batches wait for the upload window, which opens at " + util::iso8601_utc(b.next_window_open) +
           " (schedule.upload_window)";
  if (!b.sealing_blocked.empty()) return "sealing is paused: " + b.sealing_blocked;
  if (b.oldest_sealed_at)
    return "batches are waiting to be delivered, the oldest since " + util::iso8601_utc(b.oldest_sealed_at);
  return "records are waiting to be sealed and delivered";
}

std::string holds(const char* what, const Fill& f, const char* key) {
  return std::string(what) + " holds " + size_text(f.bytes) + " of its " + size_text(f.cap) + " cap (" + key + ")";
}

}  // namespace

FlowDecision decide_flow(const Fill& spool, const Fill& outbox, const Backlog& backlog) {
  FlowDecision d;
  if (outbox.full())
    d.sealing_paused = holds("outbox", outbox, "outbox.max_bytes") + ": " + why_nothing_leaves(backlog) +
                       "; sealing paused until deliveries make room";
  if (spool.full())
    d.intake_paused = holds("spool", spool, "spool.max_bytes") + ": " + why_nothing_leaves(backlog) +
                      "; intake paused: sources are not read until deliveries make room (nothing is lost: "
                      "the files stay where they are, DICOM senders are told to retry later)";
  return d;
}

config::Seconds max_pending_age(const config::Config& cfg) {
  if (cfg.metrics.max_pending_age) return *cfg.metrics.max_pending_age;
  return std::chrono::hours(cfg.schedule.upload_window ? 30 : 6);
}

FreeSpaceNeed state_dir_free_space_needed(const config::Config& cfg) {
  FreeSpaceNeed need{cfg.batch.max_bytes + kIngestChunkBytes,
                     "one batch (batch.max_bytes, " + size_text(cfg.batch.max_bytes) + ") and one spool transaction (" +
                         size_text(kIngestChunkBytes) + ")"};
  for (const auto& s : cfg.sources) {
    const std::uint64_t min_free = s.options ? s.options->min_free_bytes() : 0;
    if (min_free > need.bytes)
      need = {min_free,
              "the min_free of source " + s.name + " (" + size_text(min_free) + "), below which it refuses images"};
  }
  return need;
}

std::string size_text(std::uint64_t bytes) {
  static constexpr std::array<const char*, 5> kUnits = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  std::size_t unit = 0;
  double value = static_cast<double>(bytes);
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  std::array<char, 32> text{};
  const double tenths = static_cast<double>(std::llround(value * 10)) / 10;
  if (unit == 0 || tenths == static_cast<double>(static_cast<std::uint64_t>(tenths)))
    std::snprintf(text.data(), text.size(), "%.0f %s", tenths, kUnits[unit]);
  else
    std::snprintf(text.data(), text.size(), "%.1f %s", tenths, kUnits[unit]);
  return text.data();
}

}  // namespace sennen::pipeline
