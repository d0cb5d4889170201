#pragma once
// Flow control (config spool.max_bytes, outbox.max_bytes). When the central side stops taking
// batches nothing is dropped: once the outbox is full sealing pauses and records wait in the
// spool; once the spool is full too intake pauses (sources are not read). Both resume by
// themselves once deliveries make room. Pure: the pipeline passes the figures and acts on the
// decision; the reasons are what the log, systemd STATUS and the heartbeat say.
#include <cstdint>
#include <string>

#include "daemon/config/config.hpp"

namespace sennen::pipeline {

// Content one spool transaction of a poll holds at most (plus one record larger than this): its
// size in the spool's write-ahead log before a checkpoint.
inline constexpr std::uint64_t kIngestChunkBytes = 64ull << 20;

struct Fill {
  std::uint64_t bytes = 0;
  std::uint64_t cap = 0;
  bool full() const { return bytes >= cap; }
};

// Why batches are not leaving, so a pause names what to fix. Times are unix seconds, 0 = none.
struct Backlog {
  std::int64_t last_delivery = 0;     // last batch the destination accepted (since start)
  std::int64_t started_at = 0;        // when this service started
  std::string destination_error;      // the last delivery's error; empty after a success
  std::int64_t next_window_open = 0;  // while the upload window is closed
  std::int64_t oldest_sealed_at = 0;  // the oldest sealed batch still waiting
  std::string sealing_blocked;        // sealing paused for another reason (the stop list)
};

struct FlowDecision {
  std::string sealing_paused;  // empty while new batches may be sealed
  std::string intake_paused;   // empty while sources may be polled
};

FlowDecision decide_flow(const Fill& spool, const Fill& outbox, const Backlog& backlog);

// The free space state_dir must have for the daemon to go on: one sealed batch (batch.max_bytes,
// written beside the records it holds) plus one ingest transaction (kIngestChunkBytes); at least
// each DICOM source's min_free, below which that source refuses images.
struct FreeSpaceNeed {
  std::uint64_t bytes = 0;
  std::string why;  // where the figure comes from, naming the configuration keys
};
FreeSpaceNeed state_dir_free_space_needed(const config::Config& cfg);

// How long a record or batch may wait to leave before the site counts as stuck: config
// metrics.max_pending_age, or 6h, and 30h when an upload window holds batches back for up to a day.
config::Seconds max_pending_age(const config::Config& cfg);

// "10.2 GiB", "4 GiB", "512 KiB", "17 bytes": binary units, one decimal when it is not whole.
std::string size_text(std::uint64_t bytes);

}  // namespace sennen::pipeline
