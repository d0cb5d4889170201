#pragma once
// type: dropbox: the monthly drop folder hospital staff fill from Windows (an SMB share): claims
// (UKE) and DPC survey files (health checkups: not yet). Files are taken from the folder's top level once
// their size and mtime have stayed the same for stable_after (Explorer copies slowly), recognised
// by their content, validated, and moved to `rejected/` with a reason file beside them (Japanese
// and English: what, where, what to do) when they fail.
//
// Not sent yet: a valid file stays where staff put it, kept as "validated". One file holds every
// patient of the month, and the record-level opt-out (removing each stopped or not-yet-notified
// patient's claim blocks when the batch is sealed, issue 14) is not built; sending the file whole
// would let stopped patients' claims leave. The log says so once per file.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "adapters/kind.hpp"
#include "daemon/config/catalog.hpp"
#include "daemon/core/source.hpp"

namespace sennen::dropbox {

// Unit states kept for files of the drop folder.
inline constexpr const char* kWaiting = "waiting";      // not yet stable
inline constexpr const char* kValidated = "validated";  // valid, left in place (not sent yet, see above)

struct DropboxOptions {
  std::string name;
  std::filesystem::path root;
  std::chrono::seconds stable_after{60};
  std::string site_facility;  // site.id: the 10-digit code (都道府県 2 + 点数表 1 + 医療機関コード 7)
};

// Where a rejected file and its reason go (below the root): `rejected/<name>` and
// `rejected/<name>.reason.txt`.
inline constexpr const char* kRejectedFolder = "rejected";

std::unique_ptr<Source> make_dropbox_source(DropboxOptions options);
const adapters::SourceKind& dropbox_kind();  // for the registry

}  // namespace sennen::dropbox
