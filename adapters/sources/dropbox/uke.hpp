#pragma once
// UKE (レセ電, *.UKE / *.HEN) claim files: recognition and validation, streamed line by line.
// What is known of the format is in ../shared/docs/formats.md §4 (sources: the SSK 記録条件仕様 as
// published, receiptisan, meddatum); what is assumed is marked ASSUMPTION below.
//
// Layout read here (fields 0-based after splitting a line on ','; no quoting exists):
//   IR  [1] 審査支払機関 1|2  [2] 都道府県 2 digits  [3] 点数表 1 digit  [4] 医療機関コード 7 digits
//       [7] 請求年月 (YYYYMM, or era-coded GYYMM)
//   BU  診断群分類: found in DPC claim files only (formats.md §4, from meddatum's rezept_dpc.hrl)
//   RE  starts a claim block, which runs to the next RE or GO. [2] レセプト種別 [3] 診療年月
//       [13] カルテ番号等 (the chart number, optional)
//   HO / KO  a payer (insurer / public expense) of the claim; [5] 合計点数
//   GO  the trailer, last: [1] 総件数 [2] 総合計点数 [3] マルチボリューム識別情報 (99 = last volume)
// The GO trailer, as the SSK spec defines it (記録条件仕様 医科, 診療報酬請求書レコード): 総件数 counts
// claims per payer ("医保と公費それぞれ1件とカウント": a claim with insurance and one public
// expense counts 2), so it is the number of HO and KO records, not of RE records; the public sample
// (75 RE, 69 HO + 71 KO, GO 140) agrees. 総合計点数 sums each claim's main payer's 合計点数 (the
// claim's first HO, or its first KO when it has none; the sample's 86392 agrees). Both are recorded
// on the last volume only (99), so on an earlier volume they are not checked.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/sources/dropbox/finding.hpp"

namespace sennen::dropbox {

struct UkeFacts {
  std::string facility;       // 都道府県 + 点数表 + 医療機関コード (10 digits, as site.id)
  std::string billing_month;  // IR 請求年月 as YYYYMM (era-coded dates converted)
  std::uint64_t lines = 0;
  std::uint64_t claims = 0;         // RE records
  std::uint64_t payer_records = 0;  // HO + KO records: what GO 総件数 counts
  std::uint64_t points = 0;         // sum of each claim's main payer's 合計点数
  bool last_volume = true;          // GO マルチボリューム識別情報 is 99
  std::string payer;                // IR 審査支払機関 as written (1 社保, 2 国保)
  std::string volume;               // GO マルチボリューム識別情報 as written (99: the last or only volume)
  bool dpc_records = false;         // holds BU records: DPC claims
};

// What one UKE file is a version of: the files a hospital hands over for a month differ by payer
// (社保 and 国保 each get their own), by volume, by DPC or fee-for-service claims, and by returned
// claims (.HEN) against claims; a later file with all of these equal is a correction of the earlier.
// Which of these a site's files tell apart is not fully documented (formats.md §4 marks RECEIPTD
// UNCERTAIN), so every hint counts: a key too fine only fails to mark a correction as one (both
// files reach the central side), while a key too coarse would make one file replace another.
// `name` is the file's name as dropped (RECEIPTD* and *.HEN are hints).
std::string uke_key(const UkeFacts& facts, std::string_view name);
// True when the file holds DPC claims: BU records, or a name holding RECEIPTD (any case).
bool uke_dpc_claims(const UkeFacts& facts, std::string_view name);

struct UkeScan {
  std::optional<Rejection> rejection;
  UkeFacts facts;
};

// True when the first bytes are those of a UKE file ("IR," at the start).
bool looks_like_uke(std::string_view head);

// Reads the whole file and checks it: CP932 with CRLF (a UTF-8 or LF-only file is rejected saying
// so), IR first and once, every other record inside a claim block, GO last and its counts,
// the facility code against `site_facility` (site.id), dates Western or era-coded.
UkeScan scan_uke(const std::filesystem::path& file, std::string_view site_facility);

// A date of the form YYYYMM / YYYYMMDD, or the era-coded GYYMM / GYYMMDD of older specs, as
// YYYYMM(DD); nullopt when it is neither. Era codes per formats.md: 1 明治, 2 大正, 3 昭和, 4 平成;
// ASSUMPTION: 5 is 令和 (not in formats.md's sources; the current spec writes Western dates).
std::optional<std::string> uke_date(std::string_view s);

std::vector<std::string_view> split_fields(std::string_view line, char sep);

}  // namespace sennen::dropbox
