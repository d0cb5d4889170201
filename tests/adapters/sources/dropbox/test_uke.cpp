#include <doctest/doctest.h>

#include "adapters/sources/dropbox/uke.hpp"
#include "tests/adapters/sources/dropbox/uke_fixture.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
using namespace sennen::dropbox;
namespace fs = std::filesystem;

namespace {
UkeScan scan_text(const std::string& content, const std::string& facility = test::kFacility) {
  test::TempDir tmp;
  test::write_file(tmp / "RECEIPTC.UKE", content);
  return scan_uke(tmp / "RECEIPTC.UKE", facility);
}
std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto p = s.find(from);
  REQUIRE(p != std::string::npos);
  return s.replace(p, from.size(), to);
}
}  // namespace

TEST_CASE("uke: a valid file is accepted with its facts") {
  auto s = scan_text(test::small_uke());
  REQUIRE_FALSE(s.rejection);
  CHECK(s.facts.facility == test::kFacility);
  CHECK(s.facts.billing_month == "202501");
  CHECK(s.facts.claims == 2);
  CHECK(s.facts.payer_records == 3);
  CHECK(s.facts.points == 1500);
}

TEST_CASE("uke: the public sample passes when the site is its facility; its GO counts payers, not claims") {
  const fs::path sample = test::shared_samples() / "yokenzan_receiptisan/RECEIPTC_GAIRAI_SAMPLE.UKE";
  if (test::shared_samples().empty() || !fs::exists(sample)) return;  // shared/samples absent
  auto s = scan_uke(sample, "1210000000");
  REQUIRE_FALSE(s.rejection);
  CHECK(s.facts.claims == 75);
  CHECK(s.facts.payer_records == 140);  // GO,140: HO 69 + KO 71
  CHECK(s.facts.points == 86392);
  CHECK(s.facts.billing_month == "202111");
}

TEST_CASE("uke: another facility's file is rejected at IR, naming both codes") {
  auto s = scan_text(test::small_uke("1319999999"));
  REQUIRE(s.rejection);
  CHECK(s.rejection->line == 1);
  CHECK(s.rejection->field.find("医療機関コード") != std::string::npos);
  CHECK(s.rejection->what_en.find("1319999999") != std::string::npos);
  CHECK(s.rejection->what_en.find(test::kFacility) != std::string::npos);
}

TEST_CASE("uke: a GO count that does not match is rejected at the GO line") {
  auto s = scan_text(test::small_uke(test::kFacility, "GO,2,1500,99"));
  REQUIRE(s.rejection);
  CHECK(s.rejection->line == 9);
  CHECK(s.rejection->field.find("総件数") != std::string::npos);
  auto p = scan_text(test::small_uke(test::kFacility, "GO,3,1499,99"));
  REQUIRE(p.rejection);
  CHECK(p.rejection->field.find("総合計点数") != std::string::npos);
}

TEST_CASE("uke: a lone CR inside a line is rejected: a claim hidden behind it would pass the filter unseen") {
  // "IY,...\rRE,..." is one line here (lines end at LF), two records to a reader that also ends
  // lines at CR: that RE would never be checked against the stop list.
  std::string hidden = test::small_uke();
  const std::string iy = "IY,21,1,620000001,1,10,1,";
  hidden.replace(hidden.find(iy), iy.size(), iy + "\rRE,3,1112,202412,X,1,19700101,,,,,,,00777,");
  auto s = scan_text(hidden);
  REQUIRE(s.rejection);
  CHECK(s.rejection->line == 8);
  CHECK(s.rejection->what_en == "a carriage return (CR) stands inside the line; UKE lines end with CR LF only.");
}

TEST_CASE("uke: an earlier volume (not 99) carries no totals and is not checked against them") {
  CHECK_FALSE(scan_text(test::small_uke(test::kFacility, "GO,,,01")).rejection);
}

TEST_CASE("uke: a half-copied file (no GO) is rejected as cut short") {
  auto full = test::small_uke();
  auto s = scan_text(full.substr(0, full.find("IY,")));
  REQUIRE(s.rejection);
  CHECK(s.rejection->what_en.find("GO trailer record is missing") != std::string::npos);
}

TEST_CASE("uke: UTF-8 with LF is rejected saying both, not guessed") {
  std::string utf8 = replace(replace(test::small_uke(), test::kKanaCp932, "テスト"), test::kKanaCp932, "テスト");
  utf8 = replace(utf8, test::kKanaCp932, "テスト");
  std::string lf;
  for (char c : utf8)
    if (c != '\r') lf += c;
  auto s = scan_text(lf);
  REQUIRE(s.rejection);
  CHECK(s.rejection->what_en.find("UTF-8 with LF-only") != std::string::npos);
  CHECK(s.rejection->what_ja.find("UTF-8") != std::string::npos);
  auto only_lf = std::string();
  for (char c : test::small_uke())
    if (c != '\r') only_lf += c;
  auto l = scan_text(only_lf);
  REQUIRE(l.rejection);
  CHECK(l.rejection->line == 1);
  CHECK(l.rejection->what_en.find("LF only") != std::string::npos);
}

TEST_CASE("uke: a name in half-width katakana that happens to be well-formed UTF-8 is still CP932") {
  // ﾃｽ (C3 BD) is also UTF-8 "½": two-byte UTF-8 alone does not make a file UTF-8.
  auto s = scan_text(replace(test::small_uke(), test::kKanaCp932, "\xC3\xBD"));
  CHECK_FALSE(s.rejection);
}

TEST_CASE("uke: era-coded dates are read") {
  CHECK(uke_date("202501") == "202501");
  CHECK(uke_date("19700101") == "19700101");
  CHECK(uke_date("43012") == "201812");      // 平成30年12月
  CHECK(uke_date("3450101") == "19700101");  // 昭和45年1月1日
  CHECK_FALSE(uke_date("202513"));
  CHECK_FALSE(uke_date("93012"));
  auto s = scan_text(replace(test::small_uke(), ",202501,", ",43012,"));
  REQUIRE_FALSE(s.rejection);
  CHECK(s.facts.billing_month == "201812");
}

TEST_CASE("uke: a detail record before the first claim, and a file not starting with IR, are rejected") {
  auto s = scan_text(replace(test::small_uke(), "RE,1,", "SI,1,\r\nRE,1,"));
  REQUIRE(s.rejection);
  CHECK(s.rejection->line == 2);
  auto t = scan_text("RE,1\r\nGO,0,0,99\r\n");
  REQUIRE(t.rejection);
  CHECK(t.rejection->line == 1);
}

TEST_CASE("uke: a key's parts cannot run into each other, whatever the payer and volume fields hold") {
  UkeFacts a, b;
  a.facility = b.facility = test::kFacility;
  a.billing_month = b.billing_month = "202501";
  a.payer = "1/volume-01";
  a.volume = "99";
  b.payer = "1";
  b.volume = "01/volume-99";
  CHECK(uke_key(a, "RECEIPTC.UKE") != uke_key(b, "RECEIPTC.UKE"));
  CHECK(uke_key(a, "RECEIPTC.UKE") ==
        std::string("uke/") + test::kFacility + "/202501/payer-1%2Fvolume%2D01/volume-99/medical");
}
