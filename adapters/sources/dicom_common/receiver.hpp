#pragma once
// The StoreHandler of both DICOM sources (shared, so it lives here): where a C-STORE's data set goes, and the checks
// that come before success is answered. Runs on the SCP's association threads (several at once) and on the dicom-qr
// source's C-GET; shares only folders with poll().
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "adapters/sources/dicom_common/options.hpp"
#include "adapters/sources/dicom_common/store_scp.hpp"
#include "daemon/core/source.hpp"

namespace sennen::dicom {

// What a receiving source is: a dicom-scp source, or the C-GET/C-MOVE receiver of a dicom-qr one.
struct ReceiverOptions {
  std::string name;
  std::filesystem::path state_dir;  // the daemon's state_dir; this source keeps dicom/<name>/ below it
  ScpOptions scp;
  std::uint64_t min_free = 1ull << 30;       // answer A700 below this much free space under state_dir
  std::uint64_t max_incoming = 10ull << 30;  // ... or when incoming/ holds more than this
  PatientIdMapping patient_id;
  // A push is answered success only once the instance is durable (fsync of the file and of
  // incoming/): the sender deletes its copy. A pull (C-GET, C-MOVE) turns this off: the PACS keeps
  // its copy and the watermark waits for the spool commit, so one sync of the file system before
  // the poll takes the files in (dicom_qr) makes them durable at a fraction of the cost.
  bool sync_each_instance = true;
  // A PACS's retrieve (C-GET, C-MOVE): an instance we refuse is answered success once it is kept
  // for quarantine. The PACS keeps its copy either way, and a failure would make some PACSs end
  // the whole retrieve there (Orthanc 1.10 does), so the rest of the study would never come.
  bool pull = false;
};

// <state_dir>/dicom/<source>/...
struct Folders {
  std::filesystem::path incoming;  // complete, fsynced instances ("<SOP>~<n>.dcm"), and ".recv-*" temporaries
  std::filesystem::path
      rejected;                 // refused data sets "[<SOP>~]<n>.dcm" with "<...>.reason.txt", for poll() to quarantine
  std::filesystem::path store;  // instances already in the spool: <Study>/<Series>/<SOP>.<hash>.dcm
  static Folders of(const std::filesystem::path& state_dir, const std::string& source);
};

inline constexpr const char* kTempPrefix = ".recv-";

// Event names (SourceStats::events) of the DICOM sources.
inline constexpr const char* kAssociationsRefused = "associations refused from";
inline constexpr const char* kContextsRefused = "presentation contexts refused for";
inline constexpr const char* kTranscoded = "instances transcoded by";
inline constexpr const char* kUnattributable = "unattributable instances held from";

// SourceStats::events counted on any thread (association threads, the poll), read by poll().
class EventCounter {
 public:
  static constexpr std::size_t kMaxPeers = 64;  // per event; any further peer counts as "(others)"
  void add(const std::string& event, std::string_view peer);
  // The totals; last_poll counts what came since the previous snapshot.
  std::map<std::string, std::map<std::string, SourceStats::Count>> snapshot();

 private:
  std::mutex mutex_;
  std::map<std::string, std::map<std::string, SourceStats::Count>> counts_;
};

class Receiver final : public StoreHandler {
 public:
  Receiver(const ReceiverOptions& options, Folders folders);
  // Removes temporaries a crash left behind (their peers never got success) and creates folders.
  // `spool_full` (from the first poll's SourceContext, valid while the source lives) is asked
  // before every C-STORE: a full spool is answered A700, so the peer keeps the instance and retries.
  void prepare(SpoolFull spool_full);
  Begin begin_store(std::string_view calling_ae, std::string_view sop_instance_uid) override;
  std::uint16_t end_store(const std::filesystem::path& file, bool received, std::string_view calling_ae,
                          std::string_view sop_instance_uid, std::string_view why) override;
  void refused(std::string_view calling_ae, Refusal what) override;
  EventCounter& events() { return events_; }

 private:
  std::uint16_t refuse(const std::filesystem::path& file, std::string_view calling_ae, std::string_view sop,
                       std::uint16_t status, const std::string& reason);
  std::uint16_t hold_unattributable(const std::filesystem::path& file, std::string_view calling_ae,
                                    std::string_view sop, const std::string& why);
  std::string unique_suffix();
  // incoming/'s size, rescanned at most once a second, plus what arrived since.
  std::uint64_t incoming_bytes();

  const ReceiverOptions& options_;
  Folders folders_;
  SpoolFull spool_full_;  // set before any association thread starts, then only read
  std::atomic<std::uint64_t> seq_{0};
  std::mutex incoming_mutex_;  // guards the two below: associations run on several threads
  std::uint64_t incoming_bytes_ = 0;
  std::chrono::steady_clock::time_point scanned_at_{};
  EventCounter events_;
};

}  // namespace sennen::dicom
