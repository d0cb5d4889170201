#pragma once
// type: dropbox: the monthly drop folder hospital staff fill from Windows (an SMB share): claims
// (UKE), DPC survey files and health-checkup documents (checkup.hpp). Files are taken from the folder's top level once
// their size and mtime have stayed the same for stable_after (Explorer copies slowly), recognised
// by their content, validated, and moved to `rejected/` with a reason file beside them (Japanese
// and English: what, where, what to do) when they fail.
//
// A valid UKE file (and a DPC file, when dpc_id_map is set) goes to the spool whole and then to
// `processed/`; it holds every patient of the month, so the sealer sends it through its content
// filter (uke_filter.hpp, dpc_filter.hpp), which removes the parts of every patient the gate
// withholds at that moment. Without dpc_id_map, DPC files are validated only and stay where staff
// put them (the log says so once per file). A read-only folder (receipts set) is never written:
// files stay, and a receipt per file says what became of it.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "adapters/kind.hpp"
#include "adapters/sources/dropbox/months.hpp"
#include "adapters/sources/dropbox/zip.hpp"
#include "daemon/config/catalog.hpp"
#include "daemon/core/content_filter.hpp"
#include "daemon/core/source.hpp"

namespace sennen::dropbox {

// Unit states kept for files of the drop folder.
inline constexpr const char* kWaiting = "waiting";  // not yet stable
// Valid, left in place (not sent, see above); followed by a digest of the settings that kept it.
inline constexpr const char* kValidated = "validated";
inline constexpr const char* kHandedOver = "handed over";  // in the spool; moved to processed/ next poll
inline constexpr const char* kReceipted = "receipted";     // read_only: done, its receipt written
inline constexpr const char* kNotMoved = "not moved";      // rejected, but it could not be set aside
// Unit states under this key: the sha256 of every content handed over (a file dropped again).
inline constexpr const char* kSentKey = "#sent";
// Unit states under this key: per record key (kind, facility, month), the sha256 of the content
// last handed over (kept as its status), which a corrected file names as `supersedes`.
inline constexpr const char* kCurrentKey = "#current";

struct DropboxOptions {
  std::string name;
  std::filesystem::path root;
  std::chrono::seconds stable_after{60};
  std::string site_facility;  // site.id: the 10-digit code (都道府県 2 + 点数表 1 + 医療機関コード 7)
  // The content filter DPC files go through ("dpc:<source name>"), or "" without dpc_id_map:
  // DPC files are then validated only, never sent (their rows cannot be attributed).
  std::string dpc_filter;
  MonthRules months;  // expect, deadline_day (months.hpp)
  ZipLimits zip;      // zip_max_files, zip_max_bytes, zip_max_ratio (zip.hpp)
  // read_only: the service never writes into root (a share it may only read): files stay where
  // staff put them, and the outcome of each is a receipt, receipts/<name>.receipt.txt, in this
  // folder instead of a move to processed/ or rejected/. Empty: the usual folders below root.
  std::filesystem::path receipts;
  // The recordTarget/patientRole/id root (an OID) under which a health-checkup document carries
  // this hospital's patient ID (checkup.hpp); empty: checkup documents are never sent.
  std::string checkup_id_root;
  // The DPC kinds (FF1, EFn, ...) whose rows this site has found to carry データ識別番号 second, as
  // the public descriptions show for EF (tanshu3) and 様式1 (meddatum) only (formats.md §5): a
  // file of another kind, or whose name says no kind, is validated and NOT SENT, since its rows
  // might be attributed by another column's value (dpc_send_kinds).
  std::vector<std::string> dpc_send_kinds{"FF1", "EFn", "EFg"};
};

// Where a rejected file and its reason go (below the root): `rejected/<name>` and
// `rejected/<name>.reason.txt`; with a receipts folder (read_only), `<receipts>/<name>.receipt.txt`
// says the same and the file stays.
inline constexpr const char* kRejectedFolder = "rejected";
inline constexpr const char* kProcessedFolder = "processed";

std::unique_ptr<Source> make_dropbox_source(DropboxOptions options);
// For the registry. Its records hold every patient of a month: the sealer sends them through the
// content filters the kind adds (by name): "uke", and "dpc:<source name>" for a dropbox source
// with a dpc_id_map.
const adapters::SourceKind& dropbox_kind();

}  // namespace sennen::dropbox
