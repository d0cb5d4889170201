#pragma once
// DPC survey files (DPC調査データ: 様式1 FF1, 様式4 FF4, EF統合 EFn/EFg, Dファイル, Hファイル,
// Kファイル): recognition and validation, streamed line by line. What is known is in
// ../shared/docs/formats.md §5; what is not is marked there and here:
//  - tab-separated, Shift_JIS (CP932); every data row starts with 施設コード (9 digits: 都道府県 2 +
//    医療機関コード 7, the same in every file) and データ識別番号 (10 digits);
//  - UNCERTAIN (formats.md): a title row first. Line 1 is taken as one when its first field is
//    not 9 digits; any later such row is an error;
//  - UNCERTAIN: line ends. formats.md says nothing of them for DPC, so CRLF and LF are both taken
//    (a UKE file's CRLF rule is not applied); UTF-8 text is rejected saying so;
//  - the kind comes from the name (<FF1|FF4|EFn|EFg|Dn|D|H|K>_<9-digit code>_<YYMM or YYYYMM>,
//    as meddatum and tanshu3 name them); NOT FOUND: official H/K name patterns, so a file whose
//    name says no kind is still taken as DPC when its rows look like DPC rows ("dpc").
//  - every row has as many columns as the first data row (EF: 31, per tanshu3's layout), which
//    also catches a copy cut in the middle of a row. NOT FOUND: a trailer or count, so a copy cut
//    exactly at a line end cannot be told by content; waiting for the file to be stable is the
//    only defence there.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/sources/dropbox/finding.hpp"

namespace sennen::dropbox {

struct DpcFacts {
  std::string kind;      // FF1, FF4, EFn, EFg, Dn, D, H, K, or "dpc" when the name does not say
  std::string facility;  // 9 digits
  std::uint64_t rows = 0;
  std::size_t columns = 0;
  bool title_row = false;
  // The survey month (YYYYMM) from the name's last part: YYMM (as tanshu3's fixture) or YYYYMM
  // (UNCERTAIN which, formats.md §5); "" when the name has neither.
  std::string month;
};

struct DpcScan {
  std::optional<Rejection> rejection;
  DpcFacts facts;
};

// The DPC kind the file name gives (FF1, EFn, ...), or "".
std::string dpc_kind_from_name(std::string_view name);
// True when the first line is tab-separated and either the name gives a DPC kind or the line
// starts with a 9-digit code and a tab.
bool looks_like_dpc(std::string_view name, std::string_view head);
// The DPC 施設コード of a site: site.id's 都道府県 (2) and 医療機関コード (7), without the 点数表 digit.
std::string dpc_facility_of_site(std::string_view site_id);

DpcScan scan_dpc(const std::filesystem::path& file, std::string_view name, std::string_view site_facility9);

}  // namespace sennen::dropbox
