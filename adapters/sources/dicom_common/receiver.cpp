#include "adapters/sources/dicom_common/receiver.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>

#include "adapters/sources/dicom_common/instance.hpp"
#include "daemon/util/error.hpp"
#include "daemon/core/patient_id.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/name_text.hpp"

namespace sennen::dicom {
namespace fs = std::filesystem;

Folders Folders::of(const fs::path& state_dir, const std::string& source) {
  fs::path base = state_dir / "dicom" / source;
  return {base / "incoming", base / "rejected", base / "store"};
}

void EventCounter::add(const std::string& event, std::string_view peer) {
  std::lock_guard lock(mutex_);
  auto& by_peer = counts_[event];
  std::string key = util::display_name(peer);
  if (!by_peer.count(key) && by_peer.size() >= kMaxPeers) key = "(others)";
  auto& n = by_peer[key];
  ++n.total;
  ++n.last_poll;
}

std::map<std::string, std::map<std::string, SourceStats::Count>> EventCounter::snapshot() {
  std::lock_guard lock(mutex_);
  auto out = counts_;
  for (auto& [event, by_peer] : counts_)
    for (auto& [peer, n] : by_peer) n.last_poll = 0;
  return out;
}

Receiver::Receiver(const ReceiverOptions& options, Folders folders) : options_(options), folders_(std::move(folders)) {}

void Receiver::prepare(SpoolFull spool_full) {
  spool_full_ = spool_full;
  for (const auto& dir : {folders_.incoming, folders_.rejected, folders_.store}) fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(folders_.incoming))
    if (e.path().filename().string().rfind(kTempPrefix, 0) == 0) fs::remove(e.path());
}

std::string Receiver::unique_suffix() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch());
  return std::to_string(ns.count()) + "-" + std::to_string(++seq_);
}

std::uint64_t Receiver::incoming_bytes() {
  std::lock_guard lock(incoming_mutex_);
  auto now = std::chrono::steady_clock::now();
  if (now - scanned_at_ > std::chrono::seconds(1)) {
    std::uint64_t total = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folders_.incoming, ec)) {
      auto size = e.file_size(ec);
      if (!ec) total += size;
    }
    incoming_bytes_ = total;
    scanned_at_ = now;
  }
  return incoming_bytes_;
}

StoreHandler::Begin Receiver::begin_store(std::string_view, std::string_view) {
  if (spool_full_()) {
    log::warning("source " + options_.name +
                 ": refusing C-STORE (A700 out of resources): the spool is full "
                 "(spool.max_bytes) until deliveries make room; the sender keeps the instance and retries");
    return {status::out_of_resources, {}};
  }
  struct statvfs vfs {};
  if (::statvfs(folders_.incoming.c_str(), &vfs) != 0) {
    log::error("source " + options_.name + ": cannot check free space under " + folders_.incoming.string() + ": " +
               util::errno_text(errno));
    return {status::out_of_resources, {}};
  }
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  if (free_bytes < options_.min_free) {
    log::error("source " + options_.name + ": refusing C-STORE (A700 out of resources): only " +
               std::to_string(free_bytes) + " bytes free under " + options_.state_dir.string() + ", min_free is " +
               std::to_string(options_.min_free) + "; free disk space or lower min_free");
    return {status::out_of_resources, {}};
  }
  const std::uint64_t waiting = incoming_bytes();
  if (waiting > options_.max_incoming) {
    log::error("source " + options_.name + ": refusing C-STORE (A700 out of resources): " + folders_.incoming.string() +
               " holds " + std::to_string(waiting) + " bytes not yet taken into the spool, max_incoming is " +
               std::to_string(options_.max_incoming) + "; check that the daemon's worker is polling this source");
    return {status::out_of_resources, {}};
  }
  // Nothing from the wire goes into this name; the UIDs are checked once the data set is here.
  return {status::success, folders_.incoming / (kTempPrefix + unique_suffix() + ".part")};
}

void Receiver::refused(std::string_view calling_ae, Refusal what) {
  events_.add(what == Refusal::association ? kAssociationsRefused : kContextsRefused, calling_ae);
}

std::uint16_t Receiver::refuse(const fs::path& file, std::string_view calling_ae, std::string_view sop,
                               std::uint16_t code, const std::string& reason) {
  log::warning("source " + options_.name + ": refused an instance from '" + util::display_name(calling_ae) +
               "': " + reason);
  try {
    // Named by the request's SOP Instance UID when it is one, so that a refusal can be remembered.
    const std::string stem = (is_safe_uid(sop) ? std::string(sop) + "~" : std::string()) + unique_suffix();
    util::AtomicFile why(folders_.rejected / (stem + ".reason.txt"), 0640);
    why.write("from calling AE title '" + util::display_name(calling_ae) + "': " + util::one_line(reason) + "\n");
    why.commit();
    fs::rename(file, folders_.rejected / (stem + ".dcm"));
    util::fsync_directory(folders_.rejected);
    return options_.pull ? status::success : code;
  } catch (const std::exception& e) {
    log::error("source " + options_.name + ": cannot keep the refused data set for quarantine: " + e.what());
    std::error_code ec;
    fs::remove(file, ec);
  }
  return code == status::success ? status::out_of_resources : code;  // not kept: the sender must keep it
}

// No PatientID, or one the gate cannot compare with the stop list (patient_id.hpp, rule 4): the
// instance can never be sent. Refusing it would have the modality retry it forever (a QC phantom,
// an unregistered emergency patient) and hold up its queue, so it is taken, kept durably in the
// quarantine with the reason, answered success and counted per sender. Sent again with a
// PatientID, it is a new instance and flows.
std::uint16_t Receiver::hold_unattributable(const fs::path& file, std::string_view calling_ae, std::string_view sop,
                                            const std::string& why) {
  const std::uint16_t answer = refuse(file, calling_ae, sop, status::success,
                                      "unattributable, held in the quarantine and never sent: " + why +
                                          "; have the modality or PACS send it again with the patient's ID");
  if (answer == status::success) events_.add(kUnattributable, calling_ae);
  return answer;
}

std::uint16_t Receiver::end_store(const fs::path& file, bool received, std::string_view calling_ae,
                                  std::string_view sop, std::string_view why) {
  std::error_code ec;
  if (!received) {
    log::warning("source " + options_.name + ": transfer from '" + util::display_name(calling_ae) +
                 "' broke off: " + std::string(why));
    fs::remove(file, ec);
    return status::processing_failure;
  }
  try {
    // Durable before anything else: a pushing peer deletes its copy once we answer success.
    if (options_.sync_each_instance) {
      util::Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) throw Error("cannot open " + file.string() + ": " + util::errno_text(errno));
      util::fsync_or_throw(fd, file);
    }
    std::uint64_t size = fs::file_size(file);

    ReadResult r = read_instance(file);
    if (!r.instance) return refuse(file, calling_ae, sop, status::cannot_understand, "malformed data set: " + r.error);
    const Instance& in = *r.instance;
    if (in.sop_instance_uid != sop)
      return refuse(
          file, calling_ae, sop, status::data_set_does_not_match,
          "the data set's SOPInstanceUID differs from the C-STORE request's (" + util::display_name(sop) + ")");
    std::string mapped = map_patient_id(in.patient_id, options_.patient_id);
    if (in.patient_id.empty())
      return hold_unattributable(file, calling_ae, sop, "PatientID (0010,0020) is missing or empty");
    if (!canonical_patient_id(mapped))
      return hold_unattributable(file, calling_ae, sop,
                                 "PatientID (0010,0020) is not a usable patient ID: it " + patient_id_problem(mapped));

    fs::rename(file, folders_.incoming / (in.sop_instance_uid + "~" + unique_suffix() + ".dcm"));
    if (options_.sync_each_instance) util::fsync_directory(folders_.incoming);
    {
      std::lock_guard lock(incoming_mutex_);
      incoming_bytes_ += size;
    }
    return status::success;
  } catch (const std::exception& e) {
    log::error("source " + options_.name + ": cannot keep a received instance: " + e.what());
    fs::remove(file, ec);
    return status::out_of_resources;  // a failing disk: the peer keeps the instance and retries
  }
}

}  // namespace sennen::dicom
