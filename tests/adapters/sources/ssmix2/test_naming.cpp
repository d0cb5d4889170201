#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "adapters/sources/ssmix2_common/naming.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace sennen::ssmix2;

namespace {

Name parse_ok(std::string_view s) {
  ParseResult r = parse_standard_name(s);
  INFO("name: ", s, " error: ", r.error);
  REQUIRE(r.name.has_value());
  CHECK(r.error.empty());
  return *r.name;
}

std::string parse_error(std::string_view s) {
  ParseResult r = parse_standard_name(s);
  INFO("name: ", s);
  CHECK_FALSE(r.name.has_value());
  return r.error;
}

Name ext_ok(std::string_view s) {
  ParseResult r = parse_extended_name(s);
  INFO("name: ", s, " error: ", r.error);
  REQUIRE(r.name.has_value());
  return *r.name;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

const std::string kJspeed = "L-JSPEED^災害時JSPEED記録^99ZL01^74465-6^災害時診療記録^LN";

}  // namespace

TEST_CASE("standard name: all seven fields are read") {
  const Name n = parse_ok("9999013_20111220_OMG-11_2011122000300_20111220224447339_24_1");
  CHECK(n.patient_id == "9999013");
  CHECK(n.date == "20111220");
  CHECK(n.kind == "OMG-11");
  CHECK(n.order_no == "2011122000300");
  CHECK(n.timestamp == "20111220224447339");
  CHECK(n.dept == "24");
  CHECK(n.flag == Flag::current);
  CHECK(n.stem() == "9999013_20111220_OMG-11_2011122000300_20111220224447339_24");
  CHECK(n.key() == "9999013_20111220_OMG-11_2011122000300");
}

TEST_CASE("standard name: flags, '-' date and dept, letters and '-' in the PID") {
  CHECK(parse_ok("A-b9_-_ADT-00_999999999999999_20111220224447339_-_0").flag == Flag::deleted);
  const Name n = parse_ok("A-b9_-_ADT-00_999999999999999_20111220224447339_-_2");
  CHECK(n.flag == Flag::superseded);
  CHECK(n.date == "-");
  CHECK(n.dept == "-");
  CHECK(n.patient_id == "A-b9");
  // Renaming the flag keeps the stem and key: that is what ties the versions together.
  const Name old = parse_ok("A-b9_-_ADT-00_999999999999999_20111220224447339_-_1");
  CHECK(old.stem() == n.stem());
  CHECK(old.key() == n.key());
}

TEST_CASE("standard name: timestamps of 14 to 17 digits are accepted, others refused") {
  CHECK(parse_ok("1_-_ADT-00_9_20111220224447_-_1").timestamp == "20111220224447");
  CHECK(parse_ok("1_-_ADT-00_9_201112202244473_-_1").timestamp.size() == 15);
  CHECK(parse_ok("1_-_ADT-00_9_2011122022444733_-_1").timestamp.size() == 16);
  for (const char* ts : {"2011122022444", "201112202244473399", "2011122022444a", ""}) {
    const std::string err = parse_error(std::string("1_-_ADT-00_9_") + ts + "_-_1");
    CHECK(contains(err, "timestamp \"" + std::string(ts) + "\" is not 14 to 17 digits"));
  }
}

TEST_CASE("standard name: field count") {
  CHECK(contains(parse_error("1_-_ADT-00_9_20111220224447_1"), "has 6 '_'-separated fields"));
  CHECK(contains(parse_error("1_-_ADT-00_9_20111220224447_-_1_x"), "has 8 '_'-separated fields"));
  CHECK(contains(parse_error(""), "has 1 '_'-separated fields"));
  CHECK(contains(parse_error("README.txt"), "\"README.txt\": has 1"));
}

TEST_CASE("standard name: patient ID rules") {
  CHECK(contains(parse_error("_-_ADT-00_9_20111220224447_-_1"), "patient ID is empty"));
  CHECK(
      contains(parse_error("12.3_-_ADT-00_9_20111220224447_-_1"), "patient ID \"12.3\" holds a character other than"));
  CHECK(contains(parse_error("ｱ1_-_ADT-00_9_20111220224447_-_1"), "holds a character other than"));
  const std::string pid64(64, '7');
  CHECK(parse_ok(pid64 + "_-_ADT-00_9_20111220224447_-_1").patient_id == pid64);
  CHECK(contains(parse_error(pid64 + "7_-_ADT-00_9_20111220224447_-_1"), "is longer than 64 characters"));
}

TEST_CASE("standard name: dates must be '-' or a real YYYYMMDD") {
  CHECK(parse_ok("1_20240229_OMD_9_20111220224447_01_1").date == "20240229");
  CHECK(parse_ok("1_20001231_OMD_9_20111220224447_01_1").date == "20001231");
  for (const char* d : {"20230229", "20110230", "20111301", "20111200", "00000000"})
    CHECK(contains(parse_error(std::string("1_") + d + "_OMD_9_20111220224447_01_1"), "is not a real calendar date"));
  for (const char* d : {"2011063", "2011063a", "201106300", "--", ""})
    CHECK(contains(parse_error(std::string("1_") + d + "_OMD_9_20111220224447_01_1"), "is neither \"-\" nor 8 digits"));
}

TEST_CASE("standard name: empty fields, bad flags and path characters") {
  CHECK(contains(parse_error("1_-__9_20111220224447_01_1"), "data type is empty"));
  CHECK(contains(parse_error("1_-_OMD__20111220224447_01_1"), "order number is empty"));
  CHECK(contains(parse_error("1_-_OMD_9_20111220224447__1"), "department code is empty"));
  CHECK(contains(parse_error("1_-_OMD_9_20111220224447_01_3"), "condition flag \"3\" is not 0, 1 or 2"));
  CHECK(contains(parse_error("1_-_OMD_9_20111220224447_01_"), "condition flag \"\""));
  CHECK(contains(parse_error("1_-_OMD_9_20111220224447_01_10"), "condition flag \"10\""));
  CHECK(contains(parse_error("x/1_-_OMD_9_20111220224447_01_1"), "holds '/'"));
  CHECK(contains(parse_error(std::string("1_-_OMD_9_20111220224447_01_1\0", 30)), "NUL byte"));
}

TEST_CASE("extended name: NHO 6-field sample (no dept, 15-digit timestamp)") {
  const std::string s = "0123456789_20160101_L-OBSERVATIONS^OBSERVATIONS^99ZL01_000000020160101_201601011500321_1";
  const Name n = ext_ok(s);
  CHECK(n.patient_id == "0123456789");
  CHECK(n.date == "20160101");
  CHECK(n.kind == "L-OBSERVATIONS^OBSERVATIONS^99ZL01");
  CHECK(n.order_no == "000000020160101");
  CHECK(n.timestamp == "201601011500321");
  CHECK(n.dept.empty());
  CHECK(n.flag == Flag::current);
  CHECK(n.stem() == s.substr(0, s.size() - 2));
  CHECK(n.key() == "0123456789_20160101_L-OBSERVATIONS^OBSERVATIONS^99ZL01_000000020160101");
  // The standardized-storage parser refuses it: 6 fields.
  CHECK_FALSE(parse_standard_name(s).name.has_value());
}

TEST_CASE("extended name: Japanese type folders, 6 and 7 fields") {
  const std::string six = "9999013_20110701_" + kJspeed + "_000000020110701_20110701120000000_2";
  Name n = ext_ok(six);
  CHECK(n.kind == kJspeed);
  CHECK(n.dept.empty());
  CHECK(n.flag == Flag::superseded);
  CHECK(n.stem() + "_2" == six);

  const std::string seven = "9999013_-_" + kJspeed + "_K1_20110701120000000_01_0";
  n = ext_ok(seven);
  CHECK(n.kind == kJspeed);
  CHECK(n.date == "-");
  CHECK(n.order_no == "K1");
  CHECK(n.dept == "01");
  CHECK(n.flag == Flag::deleted);
  CHECK(n.stem() + "_0" == seven);

  const std::string local = "^（ローカル名称）^^11506-3^経過記録^LN";
  n = ext_ok("12_20200101_" + local + "_1_20200101000000_-_1");
  CHECK(n.kind == local);
  CHECK(n.dept == "-");
}

TEST_CASE("extended name: a type holding '_' is the middle, outer fields come from both ends") {
  Name n = ext_ok("1_20200101_LOCAL_A^x_y^99ZL01_K9_20200101000000000_1");
  CHECK(n.kind == "LOCAL_A^x_y^99ZL01");
  CHECK(n.order_no == "K9");
  CHECK(n.dept.empty());
  n = ext_ok("1_20200101_LOCAL_A^x_y^99ZL01_K9_20200101000000000_15_1");
  CHECK(n.kind == "LOCAL_A^x_y^99ZL01");
  CHECK(n.dept == "15");
  // A digit-only key never confuses the 6/7 choice: only the second-to-last field decides.
  n = ext_ok("1_20200101_T_000000020160101_20200101000000000_-_1");
  CHECK(n.order_no == "000000020160101");
  CHECK(n.dept == "-");
}

TEST_CASE("extended name: errors") {
  auto err = [](std::string_view s) {
    ParseResult r = parse_extended_name(s);
    CHECK_FALSE(r.name.has_value());
    return r.error;
  };
  CHECK(contains(err("1_20200101_T_K_20200101000000"), "has 5 '_'-separated fields"));
  CHECK(contains(err("1_20200101_T_K_2020_-_1"),
                 "neither the second-to-last field \"-\" (6-field form) nor the third-to-last "
                 "field \"2020\""));
  CHECK(contains(err("1_20200101_K_20200101000000_01_1"), "data type is empty"));
  CHECK(contains(err("1_20200231_T_K_20200101000000_1"), "not a real calendar date"));
  CHECK(contains(err("1?_20200101_T_K_20200101000000_1"), "patient ID \"1?\""));
  CHECK(contains(err("1_20200101_T_K_20200101000000_7"), "condition flag \"7\""));
  CHECK(contains(err("1_20200101_T__20200101000000_1"), "specific key is empty"));
  CHECK(contains(err("1_20200101_T/U_K_20200101000000_1"), "holds '/'"));
}

TEST_CASE("extended name with the type folder's name") {
  const std::string six = "9999013_20110701_" + kJspeed + "_000000020110701_20110701120000000_1";
  ParseResult r = parse_extended_name(six, kJspeed);
  REQUIRE(r.name.has_value());
  CHECK(r.name->kind == kJspeed);
  CHECK(r.name->dept.empty());
  CHECK(r.name->stem() == ext_ok(six).stem());

  r = parse_extended_name("1_-_A_B_K_20200101000000_01_1", "A_B");
  REQUIRE(r.name.has_value());
  CHECK(r.name->kind == "A_B");
  CHECK(r.name->dept == "01");

  // A 14-digit dept code is misread without the type (documented limit) and read right with it.
  const std::string odd = "1_-_T_K_20200101000000_12345678901234_1";
  const Name guessed = ext_ok(odd);
  CHECK(guessed.kind == "T_K");
  CHECK(guessed.timestamp == "12345678901234");
  r = parse_extended_name(odd, "T");
  REQUIRE(r.name.has_value());
  CHECK(r.name->order_no == "K");
  CHECK(r.name->timestamp == "20200101000000");
  CHECK(r.name->dept == "12345678901234");

  r = parse_extended_name(six, "L-JSPEED");
  CHECK_FALSE(r.name.has_value());
  CHECK(contains(r.error, "is not the type folder's name \"L-JSPEED\""));
  r = parse_extended_name("1_-_T_K_1_20200101000000_01_1", "T");
  CHECK(contains(r.error, "has 5 '_'-separated fields after the type \"T\""));
  r = parse_extended_name("1_-_T_K_20200101000000_1", "");
  CHECK(contains(r.error, "type folder name given is empty"));
  r = parse_extended_name("1_T", "T");
  CHECK(contains(r.error, "is not PID_date_type_key_timestamp[_dept]_flag"));
  r = parse_extended_name("1_-_T_K_2020_01_1", "T");
  CHECK(contains(r.error, "timestamp \"2020\""));
}

TEST_CASE("extended name: the type field as the whole type folder name or one accepted component") {
  const std::vector<TypeField> all = kAllTypeFields;
  const std::string tail = "_000000020110701_20110701120000000_01_1";
  const std::string whole = "9999013_20110701_" + kJspeed + tail;
  const std::string local = "9999013_20110701_L-JSPEED" + tail;
  const std::string standard = "9999013_20110701_74465-6" + tail;

  // Each form: kind (and so the key) is the type folder's whole name; the stem keeps the text as written.
  ParseResult w = parse_extended_name(whole, kJspeed, all);
  REQUIRE(w.name.has_value());
  CHECK(w.name->type_field == TypeField::whole);
  CHECK(w.name->type_text.empty());
  // Not a structured binding: clang 14 refuses one captured by doctest's CAPTURE (sanitizer tree).
  for (const auto& c : {std::tuple{local, TypeField::local_code, "L-JSPEED"},
                        std::tuple{standard, TypeField::standard_code, "74465-6"}}) {
    const std::string& name = std::get<0>(c);
    const TypeField form = std::get<1>(c);
    const std::string text = std::get<2>(c);
    CAPTURE(name);
    ParseResult r = parse_extended_name(name, kJspeed, all);
    REQUIRE(r.name.has_value());
    CHECK(r.name->type_field == form);
    CHECK(r.name->type_text == text);
    CHECK(r.name->kind == kJspeed);
    CHECK(r.name->key() == w.name->key());
    CHECK(r.name->order_no == "000000020110701");
    CHECK(r.name->dept == "01");
    CHECK(r.name->stem() + "_1" == name);
    CHECK(check_placement("999/901/9999013/20110701/" + kJspeed, *r.name).empty());
  }

  // Only the accepted forms are read: the whole name alone by default.
  CHECK(parse_extended_name(whole, kJspeed).name.has_value());
  ParseResult r = parse_extended_name(standard, kJspeed);
  CHECK_FALSE(r.name.has_value());
  CHECK(contains(r.error, "is not the type folder's name"));
  r = parse_extended_name(standard, kJspeed, {TypeField::whole, TypeField::local_code});
  CHECK_FALSE(r.name.has_value());
  CHECK(contains(r.error, "is none of the type folder's name"));
  CHECK(contains(r.error, "the type folder's local code \"L-JSPEED\""));
  r = parse_extended_name(whole, kJspeed, {TypeField::standard_code});
  CHECK_FALSE(r.name.has_value());
  CHECK(contains(r.error, "is not the type folder's standard code \"74465-6\""));
  // A component text followed by more fields than the form has is not that component.
  r = parse_extended_name("9999013_20110701_74465-6_X" + tail, kJspeed, all);
  CHECK_FALSE(r.name.has_value());
  CHECK(contains(r.error, "has 5 '_'-separated fields after the type \"74465-6\""));

  // Empty components are never a form: the type folder of formats.md §1.9 without a local code.
  const std::string no_local = "^（ローカル名称）^^11506-3^経過記録^LN";
  r = parse_extended_name("1_-_11506-3_K_20200101000000_1", no_local, all);
  REQUIRE(r.name.has_value());
  CHECK(r.name->type_field == TypeField::standard_code);
  CHECK(r.name->kind == no_local);
  r = parse_extended_name("1_-__K_20200101000000_1", no_local, all);
  CHECK_FALSE(r.name.has_value());
  r = parse_extended_name("1_-_K_20200101000000_1", "L-OBS^OBS^99ZL01", {TypeField::standard_code});
  CHECK(contains(r.error, "no non-empty component of the accepted forms"));

  // A Japanese local code, and one holding '_': the outer fields are located by the text.
  r = parse_extended_name("1_-_経過_記録_K_20200101000000_1", "経過_記録^経過記録^99ZL01", all);
  REQUIRE(r.name.has_value());
  CHECK(r.name->type_field == TypeField::local_code);
  CHECK(r.name->type_text == "経過_記録");
  CHECK(r.name->order_no == "K");
  CHECK(r.name->dept.empty());

  // A type folder without '^' is its own local code: read as the whole name.
  r = parse_extended_name("1_-_OBS_K_20200101000000_1", "OBS", all);
  REQUIRE(r.name.has_value());
  CHECK(r.name->type_field == TypeField::whole);
  // Local and standard code the same text: one reading, the first accepted form.
  r = parse_extended_name("1_-_A1_K_20200101000000_1", "A1^a^99ZL01^A1^a^LN", {TypeField::standard_code});
  REQUIRE(r.name.has_value());
  CHECK(r.name->type_field == TypeField::standard_code);

  // Two texts that each give a valid name: refused, both readings named.
  const std::string twice = "A^a^^A_K^s^LN";
  const std::string ambiguous = "1_-_A_K_20200101000000_20200101000000_1";
  r = parse_extended_name(ambiguous, twice, all);
  CHECK_FALSE(r.name.has_value());
  CHECK(contains(r.error, "is ambiguous"));
  CHECK(contains(r.error, "the type folder's local code \"A\" with specific key \"K\""));
  CHECK(contains(r.error, "the type folder's standard code \"A_K\" with specific key \"20200101000000\""));
  // With one of the two forms accepted there is one reading.
  r = parse_extended_name(ambiguous, twice, {TypeField::local_code});
  REQUIRE(r.name.has_value());
  CHECK(r.name->order_no == "K");
  CHECK(r.name->dept == "20200101000000");
  r = parse_extended_name(ambiguous, twice, {TypeField::standard_code});
  REQUIRE(r.name.has_value());
  CHECK(r.name->order_no == "20200101000000");
  CHECK(r.name->dept.empty());
  // A second text that only looks like the type (its reading is not a valid name) is no ambiguity.
  r = parse_extended_name("1_-_A_K_20200101000000_01_1", twice, all);
  REQUIRE(r.name.has_value());
  CHECK(r.name->type_field == TypeField::local_code);
}

TEST_CASE("check_placement: consistent names pass, each disagreement is named") {
  const Name n = parse_ok("9999013_20111220_OMG-11_2011122000300_20111220224447339_24_1");
  CHECK(check_placement("999/901/9999013/20111220/OMG-11", n).empty());
  CHECK(check_placement("/999/901/9999013/20111220/OMG-11/", n).empty());

  CHECK(check_placement("999/901/9999014/20111220/OMG-11", n) ==
        "file name says patient 9999013 but it is filed under patient folder 9999014");
  CHECK(check_placement("999/900/9999013/20111220/OMG-11", n) ==
        "patient 9999013 belongs under 999/901 but is filed under 999/900");
  CHECK(check_placement("999/901/9999013/20111221/OMG-11", n) ==
        "file name says date 20111220 but it is filed under date folder 20111221");
  CHECK(check_placement("999/901/9999013/20111220/OMG-12", n) ==
        "file name says type OMG-11 but it is filed under type folder OMG-12");
  CHECK(contains(check_placement("9999013/20111220/OMG-11", n),
                 "expected 5 directories PID[0:3]/PID[3:6]/PID/date/type above "
                 "\"9999013_20111220_OMG-11_2011122000300_20111220224447339_24\" but found 3"));
  CHECK(contains(check_placement("", n), "but found 1"));
}

TEST_CASE("check_placement: the misplaced sample names every disagreement") {
  const Name n = parse_ok("9999013_20110630_OMP-11_123456789012345_20110701113813225_01_1");
  CHECK(check_placement("000/000/0000001/20000401/ADT-31", n) ==
        "file name says patient 9999013 but it is filed under patient folder 0000001; "
        "patient 9999013 belongs under 999/901 but is filed under 000/000; "
        "file name says date 20110630 but it is filed under date folder 20000401; "
        "file name says type OMP-11 but it is filed under type folder ADT-31");
}

TEST_CASE("check_placement: PIDs shorter than 6 characters") {
  Name n = parse_ok("12345_-_ADT-00_9_20111220224447_-_1");
  CHECK(check_placement("123/45/12345/-/ADT-00", n).empty());
  CHECK(contains(check_placement("123/450/12345/-/ADT-00", n), "belongs under 123/45"));
  CHECK(contains(check_placement("123/12345/-/ADT-00", n), "but found 4"));

  n = parse_ok("12_-_ADT-00_9_20111220224447_-_1");
  CHECK(check_placement("12//12/-/ADT-00", n).empty());  // empty second level written out
  CHECK(check_placement("12/12/-/ADT-00", n).empty());   // or left out
  CHECK(contains(check_placement("12/00/12/-/ADT-00", n), "patient 12 belongs under 12/ but is filed under 12/00"));
  CHECK(contains(check_placement("012/000/12/-/ADT-00", n), "belongs under 12/"));
}

TEST_CASE("check_placement: extended storage type folder") {
  const std::string s = "0123456789_20160101_" + kJspeed + "_000000020160101_201601011500321_1";
  const Name n = ext_ok(s);
  CHECK(check_placement("012/345/0123456789/20160101/" + kJspeed, n).empty());
  CHECK(contains(check_placement("012/345/0123456789/20160101/L-OBSERVATIONS", n),
                 "file name says type " + kJspeed + " but it is filed under type folder L-OBSERVATIONS"));
}

TEST_CASE("public sample tree: every file name parses, only the ADT-31 file is misplaced") {
  const fs::path samples = sennen::test::shared_samples();
  const fs::path root = samples.empty() ? fs::path() : samples / "nhoHQ_SSMIX2DataTestingTool/sampleData";
  if (root.empty() || !fs::exists(root)) {
    MESSAGE("shared samples absent, skipping the nhoHQ sample tree checks");
    return;
  }
  std::size_t files = 0;
  std::set<std::string> misplaced;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    ++files;
    const std::string file = e.path().filename().string();
    const ParseResult r = parse_standard_name(file);
    INFO("file: ", e.path().string(), " error: ", r.error);
    REQUIRE(r.name.has_value());
    CHECK(r.name->stem() + "_" + static_cast<char>(r.name->flag) == file);
    const std::string rel = fs::relative(e.path().parent_path(), root).generic_string();
    const std::string why = check_placement(rel, *r.name);
    if (!why.empty()) {
      misplaced.insert(rel + "/" + file);
      MESSAGE(rel, "/", file, ": ", why);
    }
  }
  CHECK(files >= 20);
  CHECK(misplaced == std::set<std::string>{"000/000/0000001/20000401/ADT-31/"
                                           "9999013_20110630_OMP-11_123456789012345_20110701113813225_01_1"});
}
