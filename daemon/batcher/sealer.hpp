#pragma once
// Spool -> sealed batch files in state_dir/outbox. Plans batches under batch.max_bytes from the
// ready records in ingest order (plus every pending withdrawal), records the assignment in the
// spool before writing, and only marks a batch sealed once its file is complete and fsynced.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "daemon/batcher/batch_writer.hpp"
#include "daemon/batcher/manifest.hpp"
#include "daemon/core/clock.hpp"
#include "daemon/core/content_filter.hpp"
#include "daemon/spool/spool.hpp"

namespace sennen::batcher {

struct SealOptions {
  std::string site_id;
  std::uint64_t max_bytes = 64ull << 20;
  int zstd_level = 3;
  std::filesystem::path outbox;
  // Records of many patients are sent only through their content filter (by name).
  ContentFilters filters;
};

struct SealProgress {
  std::uint64_t batches = 0, records = 0, bytes = 0;
};

// Run at start-up and before every sealing run: a batch left half-sealed, by a crash or by a
// failure the sealer could not record (a full disk refusing the spool's "sealed", and then its
// "voided"), is abandoned (it never left the box): its records go back to ready and its files are
// removed. (A sealed batch whose file is gone may have been delivered: the pipeline asks the
// destination before voiding it.)
void recover_interrupted_batches(spool::Spool& spool, const std::filesystem::path& outbox);

class Sealer {
 public:
  Sealer(spool::Spool& spool, const SealingKeys& keys, SealOptions options, const Clock& clock);

  // Seals until nothing is ready. `eligible(patient_key)` is the gate, asked again for every
  // record at sealing time; ineligible ones are skipped (the caller purges them). A record that
  // cannot be written into a batch (an error of its own, not of the output) is set aside: its
  // bytes go from the spool to state_dir/quarantine/<source>/<path> with a .reason.txt, it gets
  // a quarantine entry and leaves the spool, and the batch is planned again without it, so one
  // record never blocks the others. Throws sennen::Error for anything else (the batch under way
  // is abandoned; its records stay ready).
  //
  // A record of many patients (content_filter_of its patient key) is not asked about as a whole:
  // it is streamed through its filter into a file beside the outbox, `patients` deciding for
  // each patient in it, and what is left is sealed (docs/batch-format.md). Without `patients` or
  // its filter it is not sealed at all (it stays ready).
  using Eligible = std::function<bool(const std::string& patient_key)>;
  std::vector<std::string> seal_all(const std::string& stop_list_sha256, const Eligible& eligible,
                                    const std::atomic<bool>& stop, SealProgress& progress,
                                    const PatientGate& patients = {});

  std::filesystem::path outbox_file(const std::string& batch_id) const;

 private:
  enum class Outcome { nothing_ready, sealed, set_aside };
  Outcome seal_one(const std::string& stop_list_sha256, const Eligible& eligible, const PatientGate& patients,
                   SealProgress& progress, std::string& batch_id);
  // Streams p.record through its content filter into p.filtered and sets the record's size,
  // sha256 and attributes to what is sent. False when it has no filter here.
  bool filter(PlannedRecord& p, const PatientGate& patients);
  void set_aside(const spool::StoredRecord& r, const std::string& why);

  spool::Spool& spool_;
  const SealingKeys& keys_;
  SealOptions options_;
  const Clock& clock_;
};

}  // namespace sennen::batcher
