#include "adapters/sources/dropbox/dpc.hpp"

#include "adapters/sources/dropbox/lines.hpp"
#include "adapters/sources/dropbox/uke.hpp"

namespace sennen::dropbox {
namespace {

const char* const kExportAgainJa = "DPCデータ作成ツール（電子カルテ）から出力し直したファイルを置いてください。";
const char* const kExportAgainEn = "Put a file exported again from the DPC data tool (EMR) in the folder.";

Rejection at(std::uint64_t line, std::string field, std::string ja, std::string en) {
  return {line, std::move(field), std::move(ja), std::move(en), kExportAgainJa, kExportAgainEn};
}

}  // namespace

std::string dpc_kind_from_name(std::string_view name) {
  static constexpr std::string_view kKinds[] = {"FF1", "FF4", "EFn", "EFg", "Dn", "D", "H", "K"};
  const auto parts = split_fields(name, '_');
  for (std::size_t i = 0; i + 1 < parts.size(); ++i)
    for (auto k : kKinds)
      if (parts[i] == k && parts[i + 1].size() == 9) return std::string(k);
  return "";
}

bool looks_like_dpc(std::string_view name, std::string_view head) {
  const auto eol = head.find('\n');
  const auto first = head.substr(0, eol);
  if (first.find('\t') == std::string_view::npos) return false;
  return !dpc_kind_from_name(name).empty() || (digits(first.substr(0, 9), 9) && first.size() > 9 && first[9] == '\t');
}

std::string dpc_facility_of_site(std::string_view site_id) {
  if (!digits(site_id, 10)) return "";
  return std::string(site_id.substr(0, 2)) + std::string(site_id.substr(3));
}

DpcScan scan_dpc(const std::filesystem::path& file, std::string_view name, std::string_view site_facility9) {
  DpcScan out;
  auto& f = out.facts;
  f.kind = dpc_kind_from_name(name);
  if (f.kind.empty()) f.kind = "dpc";
  {
    const auto parts = split_fields(name.substr(0, name.rfind('.')), '_');
    const auto last = parts.back();
    auto month_ok = [](std::string_view mm) { return mm >= "01" && mm <= "12"; };
    if (parts.size() > 1 && digits(last, 4) && month_ok(last.substr(2))) f.month = "20" + std::string(last);
    if (parts.size() > 1 && digits(last, 6) && month_ok(last.substr(4))) f.month = std::string(last);
  }
  LineReader reader(file);
  LineReader::Line line;
  bool checked_encoding = false;
  std::uint64_t lines = 0;
  auto reject = [&](Rejection r) {
    out.rejection = std::move(r);
    return out;
  };
  while (reader.next(line)) {
    lines = line.number;
    if (!checked_encoding && has_non_ascii(line.text)) {
      checked_encoding = true;
      if (saved_as_utf8(line.text))
        return reject({line.number, "",
                       "文字コードがUTF-8です。DPC調査データはShift_JIS(CP932)"
                       "です。テキストエディタや表計算ソフトで保存し直した可能性があります。",
                       "the file is in UTF-8; DPC survey files are Shift_JIS (CP932). It was probably saved again "
                       "in a text editor or a spreadsheet.",
                       "編集したファイルは使わず、" + std::string(kExportAgainJa),
                       "Do not use the edited file. " + std::string(kExportAgainEn)});
    }
    if (line.too_long)
      return reject(at(line.number, "", "1行が長すぎます（1 MiB超）。", "the line is longer than 1 MiB."));
    if (!is_cp932(line.text))
      return reject(at(line.number, "", "Shift_JIS(CP932)として読めない文字があります。",
                       "the line holds bytes that are not Shift_JIS (CP932) text."));
    // A reader that also ends lines at a lone CR would see rows here that the opt-out filter,
    // reading lines as they end here (LF), never attributes.
    if (line.text.find('\r') != std::string::npos)
      return reject(at(line.number, "", "行の途中に改行コード（CR）があります。",
                       "a carriage return (CR) stands inside the line; DPC rows end with CR LF or LF."));
    const auto fields = split_fields(line.text, '\t');
    if (!digits(fields[0], 9)) {
      if (line.number == 1) {  // a title row (UNCERTAIN, see dpc.hpp)
        f.title_row = true;
        continue;
      }
      return reject(at(line.number, "施設コード (column 1)", "施設コードが9桁の数字ではありません。",
                       "施設コード (facility code) is not 9 digits."));
    }
    if (fields[0] != site_facility9)
      return reject({line.number, "施設コード (column 1)",
                     "他の医療機関のファイルです（施設コード " + std::string(fields[0]) + "、この病院は " +
                         std::string(site_facility9) + "）。",
                     "this is another facility's file (its 施設コード is " + std::string(fields[0]) +
                         ", this hospital's is " + std::string(site_facility9) + ").",
                     "この病院のファイルか確認してください。他院のファイルは送信されません。",
                     "Check that the file is this hospital's; another facility's file is never sent."});
    if (fields.size() < 2 || !digits(fields[1], 10))
      return reject(at(line.number, "データ識別番号 (column 2)", "データ識別番号が10桁の数字ではありません。",
                       "データ識別番号 (data ID) is not 10 digits."));
    if (f.rows == 0) f.columns = fields.size();
    if (fields.size() != f.columns)
      return reject(at(line.number, "",
                       "列の数が " + std::to_string(fields.size()) + " で、最初の行の " + std::to_string(f.columns) +
                           " と違います。ファイルが壊れているか途中で切れています。",
                       "the row has " + std::to_string(fields.size()) + " columns where the first row has " +
                           std::to_string(f.columns) + "; the file is damaged or cut short."));
    f.facility = std::string(fields[0]);
    ++f.rows;
  }
  if (f.rows == 0) return reject(at(lines, "", "データ行がありません。", "the file holds no data rows."));
  return out;
}

}  // namespace sennen::dropbox
