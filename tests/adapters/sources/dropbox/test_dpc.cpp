#include <doctest/doctest.h>

#include "adapters/sources/dropbox/dpc.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
using namespace sennen::dropbox;
namespace fs = std::filesystem;

namespace {
constexpr const char* kFacility9 = "130000001";  // site.id 1310000001 without its 点数表 digit
const std::string kName = "EFn_130000001_2501.txt";

// EF rows cut to their first columns (the check is of the count being the same in every row).
std::string ef_row(const std::string& facility, const std::string& data_id, const std::string& detail) {
  return facility + "\t" + data_id + "\t20250110\t20250105\t60\t0001\t" + detail + "\t620600\r\n";
}
std::string small_ef(const std::string& facility = kFacility9) {
  return ef_row(facility, "0000000004", "000") + ef_row(facility, "0000000004", "001") +
         ef_row(facility, "0000000007", "000");
}
DpcScan scan_text(const std::string& content, const std::string& name = kName) {
  test::TempDir tmp;
  test::write_file(tmp / "f.txt", content);
  return scan_dpc(tmp / "f.txt", name, kFacility9);
}
}  // namespace

TEST_CASE("dpc: the kind comes from the name; the facility code from site.id without the fee table digit") {
  CHECK(dpc_kind_from_name("EFn_130000001_2501.txt") == "EFn");
  CHECK(dpc_kind_from_name("FF1_130000001_202501.txt") == "FF1");
  CHECK(dpc_kind_from_name("sample_EFn_XXXXXXXXX_2408.txt") == "EFn");
  CHECK(dpc_kind_from_name("notes.txt") == "");
  CHECK(dpc_facility_of_site("1310000001") == "130000001");
  CHECK(dpc_facility_of_site("13-1") == "");
  CHECK(looks_like_dpc("x.txt", "130000001\t0000000004\t..."));
  CHECK_FALSE(looks_like_dpc("x.txt", "IR,1,13,1"));
}

TEST_CASE("dpc: a valid file, with or without a title row, is accepted with its facts") {
  auto s = scan_text(small_ef());
  REQUIRE_FALSE(s.rejection);
  CHECK(s.facts.kind == "EFn");
  CHECK(s.facts.rows == 3);
  CHECK(s.facts.columns == 8);
  auto t = scan_text("\x8e\x7b\x90\xdd\x83\x52\x81\x5b\x83\x68\t...\r\n" + small_ef());  // 施設コード title (CP932)
  REQUIRE_FALSE(t.rejection);
  CHECK(t.facts.title_row);
}

TEST_CASE("dpc: a lone CR inside a row is rejected: a row hidden behind it would pass the filter unattributed") {
  std::string ef = small_ef();
  const auto second = ef.find("\r\n") + 2;
  ef.insert(ef.find('\r', second), "\r" + ef.substr(second, ef.find("\r\n", second) - second));
  auto s = scan_text(ef);
  REQUIRE(s.rejection);
  CHECK(s.rejection->line == 2);
  CHECK(s.rejection->what_en == "a carriage return (CR) stands inside the line; DPC rows end with CR LF or LF.");
}

TEST_CASE("dpc: another facility's file, a cut row and UTF-8 are rejected with line and column") {
  auto other = scan_text(small_ef("130999999"));
  REQUIRE(other.rejection);
  CHECK(other.rejection->line == 1);
  CHECK(other.rejection->what_en.find("another facility") != std::string::npos);
  auto cut = small_ef();
  cut.resize(cut.size() - 12);
  auto c = scan_text(cut);
  REQUIRE(c.rejection);
  CHECK(c.rejection->line == 3);
  CHECK(c.rejection->what_en.find("columns") != std::string::npos);
  auto u = scan_text("施設コード\tデータ識別番号\n" + small_ef());
  REQUIRE(u.rejection);
  CHECK(u.rejection->what_en.find("UTF-8") != std::string::npos);
  auto id = scan_text(ef_row(kFacility9, "12345", "000"));
  REQUIRE(id.rejection);
  CHECK(id.rejection->field.find("データ識別番号") != std::string::npos);
}

// Found by fuzz_dpc: half-width katakana in CP932 pair up into well-formed two-byte UTF-8 (ﾅｶ is
// C5 B6), and a CP932 file whose first line with non-ASCII bytes held only such pairs was rejected
// as UTF-8. Japanese saved as UTF-8 has three-byte characters.
TEST_CASE("dpc: half-width katakana that happen to be well-formed UTF-8 are still CP932") {
  const std::string kana = "\xC5\xB6";  // ﾅｶ
  auto s = scan_text(ef_row(kFacility9, "0000000004", "000\t" + kana) + ef_row(kFacility9, "0000000007", "000\t-"));
  CHECK_FALSE(s.rejection);
  auto u = scan_text(ef_row(kFacility9, "0000000004", "000\t\xE3\x83\x8A\xE3\x82\xAB") +  // ナカ in UTF-8
                     ef_row(kFacility9, "0000000007", "000\t-"));
  REQUIRE(u.rejection);
  CHECK(u.rejection->what_en.find("UTF-8") != std::string::npos);
}

TEST_CASE("dpc: the public EF sample passes once in CP932 (its fixture is stored as UTF-8, which is rejected)") {
  const fs::path sample = test::shared_samples() / "31103_tanshu3/sample_EFn_XXXXXXXXX_2408.txt";
  if (test::shared_samples().empty() || !fs::exists(sample)) return;  // shared/samples absent
  test::TempDir tmp;
  REQUIRE(test::run("iconv -f UTF-8 -t CP932 '" + sample.string() + "' > '" + (tmp / "ef.txt").string() + "'") == 0);
  auto s = scan_dpc(tmp / "ef.txt", sample.filename().string(), "000000000");
  REQUIRE_FALSE(s.rejection);
  CHECK(s.facts.title_row);
  CHECK(s.facts.rows == 7);
  CHECK(s.facts.columns == 31);
  auto raw = scan_dpc(sample, sample.filename().string(), "000000000");
  REQUIRE(raw.rejection);
  CHECK(raw.rejection->what_en.find("UTF-8") != std::string::npos);
}
