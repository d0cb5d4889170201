#pragma once
// type: ssmix2 — SS-MIX2 standardized storage: one HL7 v2 message per file.
#include <memory>

#include "adapters/kind.hpp"
#include "adapters/sources/ssmix2/index_db.hpp"
#include "adapters/sources/ssmix2_common/tree_source.hpp"

namespace sennen::ssmix2 {

// With options.index_db, polls follow the index DB (index_db.hpp) and walk the tree only on the
// first poll, every full_scan_interval (the reconciliation walk) and while the index cannot be
// read. `index`: how the index is opened (tests); empty: through ODBC as configured.
std::unique_ptr<Source> make_standard_source(TreeSourceOptions options, IndexReaderFactory index = {});

// The heartbeat events (sources[].events, peer "index_db") of the index DB feed.
inline constexpr const char* kIndexFallbackEvent = "index DB unusable: the tree was walked instead";
inline constexpr const char* kIndexMissedEvent = "file the index DB did not name, found by the reconciliation walk";
inline constexpr const char* kIndexMissingEvent =
    "index DB row naming a file that is not there (looked for every poll)";
inline constexpr const char* kIndexBadRowEvent = "index DB row that names no file of the tree";
inline constexpr const char* kIndexPeer = "index_db";
const adapters::SourceKind& standard_kind();  // for the registry

}  // namespace sennen::ssmix2
