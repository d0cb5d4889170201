#pragma once
// One cycle of the pipeline: refresh the gate (stop list), poll sources, release records whose
// patients became eligible, seal batches, deliver them, write the heartbeat. The daemon runs
// cycles on its worker thread; `--once` runs one and exits with its result.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/config/config.hpp"
#include "daemon/core/clock.hpp"
#include "daemon/core/content_filter.hpp"
#include "daemon/core/destination.hpp"
#include "daemon/core/source.hpp"
#include "daemon/telemetry/heartbeat.hpp"

namespace sennen::pipeline {

struct Progress {
  std::uint64_t files_scanned = 0;  // units seen by polls this cycle
  std::uint64_t records_ingested = 0;
  std::uint64_t bytes_ingested = 0;
  std::uint64_t batches_sealed = 0, bytes_sealed = 0;
  std::uint64_t batches_delivered = 0, bytes_delivered = 0;
  std::string phase;         // "polling emr", "sealing", "delivering", "idle"
  std::string paused;        // why intake or sealing is paused (spool or outbox cap), empty when neither
  std::string line() const;  // one human-readable line
};

struct CycleResult {
  std::vector<std::string> errors;  // a source that could not be read, a batch not sealed or delivered
  std::uint64_t quarantined = 0;    // reported, not a failure
  Progress progress;
  bool ok() const { return errors.empty(); }
};

struct CycleOptions {
  // `sennen-edged --once` delivers whatever the upload window says: an operator asked for it now.
  bool ignore_window = false;
};

// What the pipeline moves data between, built from the configuration by the caller (the app uses
// adapters/registry; tests pass their own). Sources must be in the order of config.sources.
struct Adapters {
  std::vector<std::unique_ptr<Source>> sources;
  std::unique_ptr<Destination> destination;
  ContentFilters filters;  // for records of many patients (daemon/core/content_filter.hpp)
};

class Pipeline {
 public:
  using ProgressFn = std::function<void(const Progress&)>;

  // Opens the spool, recovers from whatever ended the last run (batches half-sealed, sealed batches
  // whose file is gone, leftovers of a kill). Throws sennen::Error on a fatal start-up problem.
  Pipeline(config::Config config, const Clock& clock, Adapters adapters, ProgressFn on_progress = {});
  ~Pipeline();

  // `only_sources`: poll just these (the others are not due); null polls all.
  CycleResult run_cycle(const std::atomic<bool>& stop, const std::set<std::string>* only_sources = nullptr,
                        CycleOptions options = {});
  // When sealed batches waiting in the outbox may go (now, or when the upload window opens or a
  // retry wait or probe is due): the service wakes then for a cycle that only delivers. Null when
  // no batch waits.
  std::optional<TimePoint> next_delivery_at();
  // Writes the heartbeat now (also done at the end of every cycle); false when the destination
  // did not take it (logged; the copy in state_dir is written either way).
  bool write_heartbeat();
  // What the heartbeat would say now (read from the spool: call it on the thread running cycles).
  telemetry::HeartbeatInput snapshot();
  const config::Config& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sennen::pipeline
