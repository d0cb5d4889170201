#pragma once
// manifest.json, the first entry of every batch: what the central side parses. The field names
// are fixed by docs/batch-format.md (format "sennen-edge-batch/1").
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/spool/spool.hpp"

namespace sennen::batcher {

inline constexpr const char* kFormat = "sennen-edge-batch/1";

struct PlannedRecord {
  spool::StoredRecord record;
  std::string archive_path;                // file (single part) or folder (several parts) in the tar
  std::vector<std::string> part_paths;     // archive path of each part, in order
};

struct ManifestHeader {
  std::string site_id;
  std::string batch_id;
  std::int64_t created_at = 0;  // unix seconds
  std::string stop_list_sha256;
};

// The archive path for a record's content, unique within the batch; "records/<source>/<path>".
std::string archive_path_for(const spool::StoredRecord& r);

// Bytes of one record's entry in manifest.json (as it will be written), for size planning.
std::string manifest_record_json(const PlannedRecord& r);

std::string build_manifest(const ManifestHeader& h, const std::vector<PlannedRecord>& records,
                           const std::vector<spool::Withdrawal>& withdrawals);

// The commit marker written after the batch: no patient data.
std::string build_marker(const ManifestHeader& h, std::size_t records, std::size_t withdrawals, std::uint64_t size,
                         const std::string& sha256);

}  // namespace sennen::batcher
