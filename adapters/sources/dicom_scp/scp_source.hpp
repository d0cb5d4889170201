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
#include "adapters/sources/dicom_common/receiver.hpp"
#include "adapters/sources/dicom_common/store_scp.hpp"
#include "daemon/core/source.hpp"

namespace sennen::dicom {

// The SCP starts listening on the first poll and stops when the source is destroyed.
std::unique_ptr<Source> make_dicom_scp_source(ReceiverOptions options);

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
