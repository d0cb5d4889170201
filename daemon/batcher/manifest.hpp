#pragma once
// manifest.json, the first entry of every batch: what the central side parses. The field names
// are fixed by docs/batch-format.md (format "sennen-edge-batch/2"). Names are bytes: a field that
// carries one holds its text when it is valid UTF-8, else its display form plus "<field>_b64"
// with the bytes (util::put_name); the JSON is valid whatever the names hold.
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/content_filter.hpp"
#include "daemon/spool/spool.hpp"

namespace sennen::batcher {

inline constexpr const char* kFormat = "sennen-edge-batch/2";

struct PlannedRecord {
  // For a record sent through its content filter (daemon/core/content_filter.hpp): size, sha256
  // and its one part's are those of what is sent, `filtered` the file holding it.
  spool::StoredRecord record;
  std::filesystem::path filtered;
  std::string archive_path;             // file (single part) or folder (several parts) in the tar
  std::vector<std::string> part_paths;  // archive path of each part, in order
};

struct ManifestHeader {
  std::string site_id;
  std::string batch_id;
  std::int64_t created_at = 0;  // unix seconds
  std::string stop_list_sha256;
  std::int64_t sequence = 0;                   // the site's batch number (spool seq), 1, 2, ...
  std::vector<std::int64_t> voided_sequences;  // numbers of voided batches this one announces
};

// Sets p.archive_path and p.part_paths so that a tar of the batch extracts every member as itself
// (`used` holds what the batch's earlier records took; start with it empty): no two members share
// a path, and no member is where another needs a folder. "records/<source>/<path>" (and
// "/<part name>" for each part of a multi-file record) when every component of them is portable
// (portable_member_component), else "records/_id/<spool record id>" (and "/<part index>"); the
// manifest keeps the original names. Where that place is taken: "~<spool record id>" appended,
// then "records/_id/<id>", then "records/_id/<id>~<n>".
void assign_archive_paths(PlannedRecord& p, std::set<std::string>& used);

// A tar member path component that every reader extracts as itself, on Linux and on Windows:
// valid UTF-8, not empty, "." or "..", and without control characters, '/', '\' or any of <>:"|?*
// (a '/' would make it two components, or an empty one).
bool portable_member_component(std::string_view c);

// The record's attributes with what its content filter did: the original's sha256 and size, the
// units kept and those removed by reason (docs/batch-format.md, "Records filtered when sealed").
std::string filtered_attributes(const std::string& attributes_json, const std::string& original_sha256,
                                std::uint64_t original_size, const FilterCounts& counts);

// Bytes of one record's entry in manifest.json (as it will be written), for size planning.
std::string manifest_record_json(const PlannedRecord& r);

std::string build_manifest(const ManifestHeader& h, const std::vector<PlannedRecord>& records,
                           const std::vector<spool::Withdrawal>& withdrawals);

// The commit marker written after the batch: no patient data.
std::string build_marker(const ManifestHeader& h, std::size_t records, std::size_t withdrawals, std::uint64_t size,
                         const std::string& sha256);

}  // namespace sennen::batcher
