#include "adapters/sources/dicom_scp/receiver.hpp"

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

Receiver::Receiver(const ScpSourceOptions& options, Folders folders)
    : options_(options), folders_(std::move(folders)) {}

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
    log::warning("source " + options_.name + ": refusing C-STORE (A700 out of resources): the spool is full "
                 "(spool.max_bytes) until deliveries make room; the sender keeps the instance and retries");
    return {status::out_of_resources, {}};
  }
  struct statvfs vfs{};
  if (::statvfs(folders_.incoming.c_str(), &vfs) != 0) {
    log::error("source " + options_.name + ": cannot check free space under " + folders_.incoming.string() + ": " +
               util::errno_text(errno));
    return {status::out_of_resources, {}};
  }
  const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  if (free_bytes < options_.min_free) {
    log::error("source " + options_.name + ": refusing C-STORE (A700 out of resources): only " +
               std::to_string(free_bytes) + " bytes free under " + options_.state_dir.string() +
               ", min_free is " + std::to_string(options_.min_free) + "; free disk space or lower min_free");
    return {status::out_of_resources, {}};
  }
  const std::uint64_t waiting = incoming_bytes();
  if (waiting > options_.max_incoming) {
    log::error("source " + options_.name + ": refusing C-STORE (A700 out of resources): " +
               folders_.incoming.string() + " holds " + std::to_string(waiting) +
               " bytes not yet taken into the spool, max_incoming is " + std::to_string(options_.max_incoming) +
               "; check that the daemon's worker is polling this source");
    return {status::out_of_resources, {}};
  }
  // Nothing from the wire goes into this name; the UIDs are checked once the data set is here.
  return {status::success, folders_.incoming / (kTempPrefix + unique_suffix() + ".part")};
}

std::uint16_t Receiver::refuse(const fs::path& file, std::string_view calling_ae, std::uint16_t code,
                               const std::string& reason) {
  log::warning("source " + options_.name + ": refused an instance from '" + util::display_name(calling_ae) +
               "': " + reason);
  try {
    const std::string stem = unique_suffix();
    util::AtomicFile why(folders_.rejected / (stem + ".reason.txt"), 0640);
    why.write("from calling AE title '" + util::display_name(calling_ae) + "': " + util::one_line(reason) + "\n");
    why.commit();
    fs::rename(file, folders_.rejected / (stem + ".dcm"));
    util::fsync_directory(folders_.rejected);
  } catch (const std::exception& e) {
    log::error("source " + options_.name + ": cannot keep the refused data set for quarantine: " + e.what());
    std::error_code ec;
    fs::remove(file, ec);
  }
  return code;
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
    if (!r.instance) return refuse(file, calling_ae, status::cannot_understand, "malformed data set: " + r.error);
    const Instance& in = *r.instance;
    if (in.sop_instance_uid != sop)
      return refuse(file, calling_ae, status::data_set_does_not_match,
                    "the data set's SOPInstanceUID differs from the C-STORE request's (" + util::display_name(sop) +
                        ")");
    std::string mapped = map_patient_id(in.patient_id, options_.patient_id);
    if (!canonical_patient_id(mapped))
      return refuse(file, calling_ae, status::cannot_understand,
                    "PatientID (0010,0020) is not a usable patient ID: " + patient_id_problem(mapped));

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
