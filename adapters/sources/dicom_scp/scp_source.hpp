#pragma once
// type: dicom-scp — instances pushed to us with C-STORE.
//
// The SCP thread answers success only after an instance is fsynced and renamed into
// <state_dir>/dicom/<source>/incoming/, which is part of the durable spool; poll() (on the
// pipeline's worker) then hands each incoming file to the IngestSink. See scp_source.cpp for how
// a file moves on without being lost or sent twice.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "adapters/kind.hpp"
#include "adapters/sources/dicom_common/options.hpp"
#include "adapters/sources/dicom_common/store_scp.hpp"
#include "daemon/core/source.hpp"

namespace sennen::dicom {

struct ScpSourceOptions {
  std::string name;
  std::filesystem::path state_dir;  // the daemon's state_dir; this source keeps dicom/<name>/ below it
  ScpOptions scp;
  std::uint64_t min_free = 1ull << 30;        // answer A700 below this much free space under state_dir
  std::uint64_t max_incoming = 10ull << 30;   // ... or when incoming/ holds more than this
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

// The SCP starts listening on the first poll and stops when the source is destroyed.
std::unique_ptr<Source> make_dicom_scp_source(ScpSourceOptions options);

// The keys of type: dicom-scp as configured (config/sennen-edge.yaml).
struct ScpKeys final : config::SourceOptions {
  ScpOptions scp;
  Storage storage;
  std::uint64_t min_free_bytes() const override { return storage.min_free; }
  std::string why_no_retry() const override {
    return "a DICOM instance is received once; have the sender (modality or PACS) send it again";
  }
};
// type: dicom-scp, for the registry: its keys and how it is built.
const adapters::SourceKind& scp_kind();

}  // namespace sennen::dicom
