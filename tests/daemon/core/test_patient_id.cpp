#include <doctest/doctest.h>

#include <random>
#include <string>

#include "daemon/core/patient_id.hpp"

using sennen::canonical_patient_id;
using sennen::fold_width;
using sennen::patient_id_problem;

namespace {
std::string id_of(std::string_view raw) { return canonical_patient_id(raw).value_or("<invalid>"); }
}  // namespace

TEST_CASE("canonical_patient_id: spellings of one ID agree") {
  for (std::string_view raw :
       {"0001234", "1234", "０００１２３４", " 1234 ", "=\"0001234\"", "\"0001234\"", "'0001234'", "\t1234\t",
        "\xE3\x80\x80"       // NOLINT(bugprone-suspicious-missing-comma): split so "\x80" does not swallow "1"
        "1234\xE3\x80\x80",  // U+3000
        "\xC2\xA0"
        "01234\xC2\xA0",  // NBSP
        "＝＂０００１２３４＂", "\" 1234 \"", "=\" 0001234 \"", "\"=\"0001234\"\"", "  =\"1234\"  ", "１２３４"}) {
    CAPTURE(raw);
    CHECK(id_of(raw) == "1234");
  }
}

TEST_CASE("canonical_patient_id: letters and hyphens") {
  CHECK(id_of("AB-12") == "AB-12");
  CHECK(id_of("ab-12") == "AB-12");
  CHECK(id_of("ａｂ－１２") == "AB-12");  // full-width letters and U+FF0D, which CP932 0x817C decodes to
  CHECK(id_of("Ab-0012") == "AB-0012");   // zeros are only dropped from all-digit IDs
  CHECK(id_of("0012A") == "0012A");
  CHECK(id_of("-0012") == "-0012");
  CHECK(id_of("-") == "-");
  CHECK(id_of("z") == "Z");
}

TEST_CASE("canonical_patient_id: zeros") {
  CHECK(id_of("000") == "0");
  CHECK(id_of("0") == "0");
  CHECK(id_of("００") == "0");
  CHECK(id_of("100") == "100");
  CHECK(id_of("0100") == "100");
  CHECK(id_of("1000000") == "1000000");
}

TEST_CASE("canonical_patient_id: length limit applies before zeros are dropped") {
  CHECK(id_of(std::string(64, '7')) == std::string(64, '7'));
  CHECK_FALSE(canonical_patient_id(std::string(65, '7')));
  CHECK(id_of(std::string(63, '0') + "5") == "5");
  CHECK_FALSE(canonical_patient_id(std::string(64, '0') + "5"));
  CHECK(id_of("  \"" + std::string(64, 'A') + "\"  ") == std::string(64, 'A'));  // wrapping is not counted
  // 64 full-width digits are 192 bytes but 64 characters.
  std::string wide;
  for (int i = 0; i < 64; ++i) wide += "９";
  CHECK(id_of(wide) == std::string(64, '9'));
}

TEST_CASE("canonical_patient_id: what is not an ID") {
  for (std::string_view raw : {"",
                               " ",
                               "\xE3\x80\x80",
                               "\"\"",
                               "=\"\"",
                               "''",
                               "12 34",
                               "１２　３４",
                               "山田",
                               "1234山田",
                               "12.34",
                               "12/34",
                               "=1234",
                               "#1234",
                               "1234#",
                               "+1234",
                               "12\t34",
                               "\"\"1234\"\"",    // only one level of quotes
                               "\"1234'",         // quotes must match
                               "=\"=\"1234\"\"",  // only one ="..." wrapping
                               "'=\"'1234'\"'",   // quote, Excel, quote: three levels
                               "=\"12 34\"",
                               "\"1234",
                               "1234\"",
                               "ＡＢ～１",
                               "1\xE2\x80\x83"  // NOLINT(bugprone-suspicious-missing-comma): "\x83" would swallow "2"
                               "2",             // EM SPACE is not folded
                               "\xE2\x80\x83"
                               "12",              // nor stripped (rules are exact)
                               "12\xEF\xBC\x80",  // U+FF00 is outside the folded range
                               "\xEF\xBD\x9F",    // U+FF5F likewise
                               "ﾃｽﾄ"}) {
    CAPTURE(raw);
    CHECK_FALSE(canonical_patient_id(raw));
  }
  CHECK_FALSE(
      canonical_patient_id(std::string_view("12\0"
                                            "34",
                                            5)));
  CHECK_FALSE(canonical_patient_id(std::string_view("1234\0", 5)));
}

TEST_CASE("canonical_patient_id: invalid UTF-8 is never an ID") {
  for (std::string_view raw : {"\xFF"
                               "1234",
                               "1234\x80", "\xC0\xB1", /* overlong '1' */
                               "\xED\xA0\x80"
                               "1",
                               "\xEF\xBC", /* cut full-width */ "\x82\x4F" /* CP932 '０' */}) {
    CAPTURE(raw);
    CHECK_FALSE(canonical_patient_id(raw));
    CHECK(patient_id_problem(raw) == "is not valid UTF-8 text");
  }
}

TEST_CASE("canonical_patient_id: '_' is part of an ID (a PACS's VLUT_01); a space inside or Japanese is not") {
  CHECK(canonical_patient_id("VLUT_01") == "VLUT_01");
  CHECK(canonical_patient_id("vlut_01") == "VLUT_01");
  CHECK(canonical_patient_id("ＶＬＵＴ＿０１") == "VLUT_01");  // full-width, as typed in Excel
  CHECK(canonical_patient_id(" VLUT_01 ") == "VLUT_01");       // DICOM pads LO with a space
  CHECK_FALSE(canonical_patient_id("VLUT 01"));
  CHECK_FALSE(canonical_patient_id("テスト01"));
}

TEST_CASE("patient_id_problem explains without quoting") {
  CHECK(patient_id_problem("1234") == "");
  CHECK(patient_id_problem("") == "is empty");
  CHECK(patient_id_problem("=\"\"") == "is empty");
  CHECK(patient_id_problem("98 76").find("space") != std::string::npos);
  CHECK(patient_id_problem("98 76").find("98") == std::string::npos);
  CHECK(patient_id_problem("山田太郎").find("characters other than") != std::string::npos);
  CHECK(patient_id_problem("山田太郎").find("山田") == std::string::npos);
  CHECK(patient_id_problem(std::string(65, '1')).find("64") != std::string::npos);
}

TEST_CASE("canonical_patient_id: idempotent, and agrees with patient_id_problem on random input") {
  std::mt19937 rng(20240401);
  const std::string_view pieces[] = {"0",        "1",  "9",  "a",  "Z",  "-",    " ",    "\"",
                                     "'",        "=",  "０", "ａ", "－", "＝",   "＂",   "\xE3\x80\x80",
                                     "\xC2\xA0", "\t", "山", "#",  "_",  "\xFF", "\x80", "\xEF\xBC"};
  std::uniform_int_distribution<std::size_t> pick(0, std::size(pieces) - 1), len(0, 12);
  int valid = 0;
  for (int n = 0; n < 20000; ++n) {
    std::string raw;
    for (std::size_t k = len(rng); k > 0; --k) raw += pieces[pick(rng)];
    CAPTURE(raw);
    auto id = canonical_patient_id(raw);
    REQUIRE(id.has_value() == patient_id_problem(raw).empty());
    if (!id) continue;
    ++valid;
    REQUIRE(canonical_patient_id(*id) == id);
    REQUIRE(id->find_first_not_of("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_") == std::string::npos);
    REQUIRE(!id->empty());
    REQUIRE(id->size() <= 64);
  }
  CHECK(valid > 500);  // the generator does reach valid IDs
}

TEST_CASE("fold_width") {
  CHECK(fold_width("ＡＢｃ０９！～") == "ABc09!~");
  CHECK(fold_width("\xE3\x80\x80x\xC2\xA0") == " x ");
  CHECK(fold_width("患者ＩＤ") == "患者ID");
  CHECK(fold_width("ｶﾙﾃ") == "ｶﾙﾃ");  // half-width katakana are not ASCII: unchanged
  CHECK(fold_width("a\xFF"
                   "b\xEF\xBC") ==
        "a\xFF"
        "b\xEF\xBC");  // invalid bytes kept
}
