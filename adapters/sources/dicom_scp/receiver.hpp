#pragma once
// The StoreHandler of the dicom-scp source: where a C-STORE's data set goes, and the checks that
// come before success is answered. Runs on the SCP's association threads (several at once) and on
// the dicom-qr source's C-GET; shares only folders with poll().
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include "adapters/sources/dicom_common/store_scp.hpp"
#include "adapters/sources/dicom_scp/scp_source.hpp"

namespace sennen::dicom {

// <state_dir>/dicom/<source>/...
struct Folders {
  std::filesystem::path incoming;  // complete, fsynced instances ("<SOP>~<n>.dcm"), and ".recv-*" temporaries
  std::filesystem::path rejected;  // refused data sets "[<SOP>~]<n>.dcm" with "<...>.reason.txt", for poll() to quarantine
  std::filesystem::path store;     // instances already in the spool: <Study>/<Series>/<SOP>.<hash>.dcm
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
  Receiver(const ScpSourceOptions& options, Folders folders);
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

  const ScpSourceOptions& options_;
  Folders folders_;
  SpoolFull spool_full_;  // set before any association thread starts, then only read
  std::atomic<std::uint64_t> seq_{0};
  std::mutex incoming_mutex_;  // guards the two below: associations run on several threads
  std::uint64_t incoming_bytes_ = 0;
  std::chrono::steady_clock::time_point scanned_at_{};
  EventCounter events_;
};

}  // namespace sennen::dicom
