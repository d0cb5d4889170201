#include "adapters/sources/dropbox/uke.hpp"

#include <charconv>

#include "adapters/sources/dropbox/lines.hpp"

namespace sennen::dropbox {
namespace {

std::optional<std::uint64_t> number(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view field(const std::vector<std::string_view>& f, std::size_t i) { return i < f.size() ? f[i] : ""; }

bool is_record_type(std::string_view t) {
  return t.size() == 2 && t[0] >= 'A' && t[0] <= 'Z' && t[1] >= 'A' && t[1] <= 'Z';
}

Rejection at(std::uint64_t line, std::string field, std::string what_ja, std::string what_en, std::string todo_ja,
             std::string todo_en) {
  return {line, std::move(field), std::move(what_ja), std::move(what_en), std::move(todo_ja), std::move(todo_en)};
}

const char* const kExportAgainJa = "レセプトコンピュータから出力し直したファイルを置いてください。";
const char* const kExportAgainEn = "Put a file exported again from the claims (レセコン) system in the folder.";

}  // namespace

std::vector<std::string_view> split_fields(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  for (std::size_t start = 0;;) {
    auto p = line.find(sep, start);
    out.push_back(line.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

bool looks_like_uke(std::string_view head) { return head.substr(0, 3) == "IR,"; }

std::optional<std::string> uke_date(std::string_view s) {
  auto month_ok = [](std::string_view mm) { return mm >= "01" && mm <= "12"; };
  auto day_ok = [](std::string_view dd) { return dd >= "01" && dd <= "31"; };
  if (digits(s, 6) && month_ok(s.substr(4, 2)) && s.substr(0, 2) >= "18") return std::string(s);
  if (digits(s, 8) && month_ok(s.substr(4, 2)) && day_ok(s.substr(6, 2)) && s.substr(0, 2) >= "18")
    return std::string(s);
  if (digits(s, 5) || digits(s, 7)) {
    static constexpr int kEraStart[] = {0, 1868, 1912, 1926, 1989, 2019};  // index: era code
    const int era = s[0] - '0';
    if (era < 1 || era > 5 || !month_ok(s.substr(3, 2)) || (s.size() == 7 && !day_ok(s.substr(5, 2))))
      return std::nullopt;
    const int year = kEraStart[era] - 1 + (s[1] - '0') * 10 + (s[2] - '0');
    return std::to_string(year) + std::string(s.substr(3));
  }
  return std::nullopt;
}

UkeScan scan_uke(const std::filesystem::path& file, std::string_view site_facility) {
  UkeScan out;
  auto& f = out.facts;
  LineReader reader(file);
  LineReader::Line line;
  bool in_claim = false, seen_go = false, checked_encoding = false;
  std::uint64_t lf_line = 0;
  std::uint64_t claim_points = 0;  // the main payer's points, once claim_paid
  bool claim_paid = false;         // the current claim has a payer record (HO or KO) yet
  auto reject = [&](Rejection r) {
    out.rejection = std::move(r);
    return out;
  };
  while (reader.next(line)) {
    f.lines = line.number;
    if (line.raw_end == "\n" && !lf_line) lf_line = line.number;
    if (!checked_encoding && has_non_ascii(line.text)) {
      checked_encoding = true;
      if (saved_as_utf8(line.text)) {
        const bool lf = lf_line != 0;
        return reject(at(
            line.number, "",
            std::string("文字コードがUTF-8です") + (lf ? "（改行もLFのみ）" : "") +
                "。レセ電ファイルはShift_JIS(CP932)・CRLFです。テキストエディタで開いて保存し直した可能性があります。",
            std::string("the file is in UTF-8") + (lf ? " with LF-only line ends" : "") +
                "; UKE files are Shift_JIS (CP932) with CRLF. It was probably opened and saved again "
                "in a text editor.",
            "編集したファイルは使わず、" + std::string(kExportAgainJa),
            "Do not use the edited file. " + std::string(kExportAgainEn)));
      }
    }
    if (line.too_long)
      return reject(at(line.number, "", "1行が長すぎます（1 MiB超）。レセ電ファイルではありません。",
                       "the line is longer than 1 MiB; this is not a UKE file.", kExportAgainJa, kExportAgainEn));
    if (seen_go)
      return reject(at(line.number, "", "GO（請求書レコード）の後に行があります。",
                       "there is a line after the GO trailer record.", kExportAgainJa, kExportAgainEn));
    if (line.raw_end == "\n") {
      // Say whether it is UTF-8 too (the usual pair when an editor saved it): the first line with
      // non-ASCII text tells.
      bool utf8 = false;
      for (LineReader::Line rest; !checked_encoding && reader.next(rest);)
        if (has_non_ascii(rest.text)) {
          checked_encoding = true;
          utf8 = saved_as_utf8(rest.text);
        }
      if (utf8)
        return reject(
            at(line.number, "",
               "文字コードがUTF-8で、改行がLFのみです。レセ電ファイルはShift_JIS(CP932)"
               "・CRLFです。テキストエディタで開いて保存し直した可能性があります。",
               "the file is in UTF-8 with LF-only line ends; UKE files are Shift_JIS (CP932) with CRLF. It was "
               "probably opened and saved again in a text editor.",
               "編集したファイルは使わず、" + std::string(kExportAgainJa),
               "Do not use the edited file. " + std::string(kExportAgainEn)));
      return reject(at(line.number, "",
                       "改行がLFのみです（レセ電ファイルはCRLF）。テキストエディタで保存し直した可能性があります。",
                       "the line ends with LF only (UKE files use CRLF). It was probably saved again in a text editor.",
                       "編集したファイルは使わず、" + std::string(kExportAgainJa),
                       "Do not use the edited file. " + std::string(kExportAgainEn)));
    }
    if (!is_cp932(line.text))
      return reject(at(line.number, "", "Shift_JIS(CP932)として読めない文字があります。",
                       "the line holds bytes that are not Shift_JIS (CP932) text.", kExportAgainJa, kExportAgainEn));
    // A reader that also ends lines at a lone CR would see records here that the opt-out filter,
    // reading lines as they end here (LF), never looks at.
    if (line.text.find('\r') != std::string::npos)
      return reject(at(line.number, "", "行の途中に改行コード（CR）があります。",
                       "a carriage return (CR) stands inside the line; UKE lines end with CR LF only.", kExportAgainJa,
                       kExportAgainEn));
    const auto fields = split_fields(line.text, ',');
    const std::string_view type = fields[0];
    if (line.number == 1 && type != "IR")
      return reject(at(1, "レコード識別 (field 1)", "先頭がIR（医療機関情報レコード）ではありません。",
                       "the first record is not IR (医療機関情報).", kExportAgainJa, kExportAgainEn));
    if (!is_record_type(type))
      return reject(at(line.number, "レコード識別 (field 1)", "レコード識別が英大文字2文字ではありません。",
                       "the record type is not two capital letters.", kExportAgainJa, kExportAgainEn));
    if (type == "IR") {
      if (line.number != 1)
        return reject(at(line.number, "IR", "IRレコードが2つ以上あります。", "a second IR record.", kExportAgainJa,
                         kExportAgainEn));
      const auto pref = field(fields, 2), table = field(fields, 3), code = field(fields, 4);
      if (!digits(pref, 2) || !digits(table, 1) || !digits(code, 7))
        return reject(at(1, "IR 都道府県・点数表・医療機関コード (fields 3-5)",
                         "医療機関コードの形式が正しくありません（都道府県2桁・点数表1桁・医療機関コード7桁）。",
                         "the facility code is malformed (prefecture 2 digits, fee table 1, institution code 7).",
                         kExportAgainJa, kExportAgainEn));
      f.facility = std::string(pref) + std::string(table) + std::string(code);
      if (f.facility != site_facility)
        return reject(at(1, "IR 医療機関コード (fields 3-5)",
                         "他の医療機関のファイルです（ファイルの医療機関コード " + f.facility + "、この病院は " +
                             std::string(site_facility) + "）。",
                         "this is another facility's file (its code is " + f.facility + ", this hospital's is " +
                             std::string(site_facility) + ").",
                         "この病院のファイルか確認してください。他院のファイルは送信されません。",
                         "Check that the file is this hospital's; another facility's file is never sent."));
      auto month = uke_date(field(fields, 7));
      if (!month || month->size() != 6)
        return reject(at(1, "IR 請求年月 (field 8)", "請求年月が YYYYMM（または和暦 GYYMM）ではありません。",
                         "the billing month is not YYYYMM (or era-coded GYYMM).", kExportAgainJa, kExportAgainEn));
      f.billing_month = *month;
      f.payer = std::string(field(fields, 1));
      continue;
    }
    if (type == "GO") {
      if (in_claim && claim_paid) f.points += claim_points;
      seen_go = true;
      f.volume = std::string(field(fields, 3));
      f.last_volume = f.volume == "99";
      if (!f.last_volume) continue;  // totals are recorded on the last volume only
      auto count = number(field(fields, 1));
      auto points = number(field(fields, 2));
      if (!count || *count != f.payer_records)
        return reject(
            at(line.number, "GO 総件数 (field 2)",
               "総件数 " + std::string(field(fields, 1)) + " が、ファイル内の保険者・公費レコード（HO・KO）の数 " +
                   std::to_string(f.payer_records) + " と合いません。ファイルが壊れているか一部が欠けています。",
               "GO 総件数 " + std::string(field(fields, 1)) + " does not match the " + std::to_string(f.payer_records) +
                   " payer records (HO and KO, which the spec counts) in the file; it is damaged or incomplete.",
               kExportAgainJa, kExportAgainEn));
      if (!points || *points != f.points)
        return reject(at(line.number, "GO 総合計点数 (field 3)",
                         "総合計点数 " + std::string(field(fields, 2)) + " が、各レセプトの合計点数の和 " +
                             std::to_string(f.points) + " と合いません。",
                         "GO 総合計点数 " + std::string(field(fields, 2)) + " does not match the sum " +
                             std::to_string(f.points) + " of the claims' main payer points.",
                         kExportAgainJa, kExportAgainEn));
      continue;
    }
    if (type == "BU") f.dpc_records = true;
    if (type == "RE") {
      if (in_claim && claim_paid) f.points += claim_points;
      in_claim = true;
      claim_paid = false;
      ++f.claims;
      if (!uke_date(field(fields, 3)))
        return reject(at(line.number, "RE 診療年月 (field 4)", "診療年月が YYYYMM（または和暦 GYYMM）ではありません。",
                         "the care month is not YYYYMM (or era-coded GYYMM).", kExportAgainJa, kExportAgainEn));
      continue;
    }
    if (!in_claim)
      return reject(at(line.number, "レコード識別 (field 1)",
                       std::string(type) + "レコードがレセプト共通レコード（RE）より前にあります。",
                       "a " + std::string(type) + " record comes before the first claim (RE) record.", kExportAgainJa,
                       kExportAgainEn));
    if (type == "HO" || type == "KO") {
      ++f.payer_records;
      auto p = number(field(fields, 5));
      if (!claim_paid) {
        claim_points = p.value_or(0);
        claim_paid = true;
      }
    }
  }
  if (f.lines == 0)
    return reject(at(0, "", "ファイルが空です。", "the file is empty.", kExportAgainJa, kExportAgainEn));
  if (!seen_go)
    return reject(at(f.lines, "", "最後のGO（請求書レコード）がありません。コピーが途中で止まった可能性があります。",
                     "the GO trailer record is missing at the end: the copy was probably cut short.",
                     "元のファイルをもう一度最後までコピーしてください。",
                     "Copy the original file into the folder again, to the end."));
  return out;
}

namespace {
std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

// A field as part of a key: letters and digits as they are, any other byte as %XX, so that no
// field can hold the '/' that separates the parts.
std::string key_part(std::string_view field) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : field) {
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}
}  // namespace

bool uke_dpc_claims(const UkeFacts& facts, std::string_view name) {
  return facts.dpc_records || upper(name).find("RECEIPTD") != std::string::npos;
}

std::string uke_key(const UkeFacts& facts, std::string_view name) {
  const std::string n = upper(name);
  return "uke/" + facts.facility + "/" + facts.billing_month + "/payer-" + key_part(facts.payer) + "/volume-" +
         key_part(facts.volume) + "/" + (uke_dpc_claims(facts, name) ? "dpc" : "medical") +
         (n.ends_with(".HEN") ? "-returned" : "");
}

}  // namespace sennen::dropbox
