#pragma once
// type: dicom-qr — poll a PACS: C-FIND studies by StudyDate from a persisted watermark (minus
// lookback), C-GET or C-MOVE the new or grown ones into the same durable incoming/ folder the
// dicom-scp source uses (through the same Receiver), and take them into the spool the same way
// (adapters/sources/dicom_common/incoming.hpp).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "adapters/kind.hpp"
#include "adapters/sources/dicom_common/qr_scu.hpp"
#include "adapters/sources/dicom_common/options.hpp"
#include "daemon/core/source.hpp"

namespace sennen::dicom {

enum class Retrieve {
  get,   // C-GET: the instances come back over the query association (no inbound port)
  move,  // C-MOVE to our own AE title: the PACS connects to our acceptor on move_port
};

struct QrSourceOptions {
  std::string name;
  std::filesystem::path state_dir;  // the daemon's state_dir; this source keeps dicom/<name>/ below it
  PeerOptions peer;
  Retrieve retrieve = Retrieve::get;
  std::uint16_t move_port = 0;      // retrieve: move — where we accept the PACS's C-STORE sub-associations
  std::string move_address;         // ... on this IPv4 address only; empty: every interface
  int utc_offset_minutes = 9 * 60;  // the site's: StudyDate ranges are the hospital's calendar days
  int lookback_days = 2;            // re-query this far behind the watermark, for late arrivals
  std::string since;                // YYYYMMDD where the first poll starts; empty: every study
  PatientIdMapping patient_id;
  std::uint64_t min_free = 1ull << 30;       // answer A700 to sub-operations below this much free space
  std::uint64_t max_incoming = 10ull << 30;  // ... or when incoming/ holds more than this
};

std::unique_ptr<Source> make_dicom_qr_source(QrSourceOptions options);

// The keys of type: dicom-qr as configured (config/sennen-edge.yaml).
struct QrKeys final : config::SourceOptions {
  PeerOptions peer;
  Retrieve retrieve = Retrieve::get;
  std::uint16_t move_port = 0;
  std::string move_address;
  std::chrono::seconds lookback{2 * 24 * 3600};
  std::optional<config::Date> since;
  Storage storage;
  std::uint64_t min_free_bytes() const override { return storage.min_free; }
  std::string why_no_retry() const override {
    return "a DICOM instance is received once; have the sender (modality or PACS) send it again";
  }
};
// type: dicom-qr, for the registry: its keys and how it is built.
const adapters::SourceKind& qr_kind();

}  // namespace sennen::dicom
