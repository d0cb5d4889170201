// The survey's aggregation (tools/edgectl/survey): counts, bounded keys and examples, the walk over
// a small tree written here, profile ranking and the suggested sources block.
#include <doctest/doctest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "daemon/util/error.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/edgectl/survey/tally.hpp"
#include "tools/edgectl/survey/walk.hpp"

namespace fs = std::filesystem;
using namespace sennen;
using survey::Storage;
using survey::Tally;

namespace {

ssmix2::Name std_name(std::string_view file) { return *ssmix2::parse_standard_name(file).name; }

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

const std::string kHl7 =
    "MSH|^~\\&|EMR||||20240102030405||ADT^A08^ADT_A01|1|P|2.5||||||~ISO IR87|ISO 2022-1994\r"
    "PID|||0000001^^^^PI||\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B\r";

}  // namespace

TEST_CASE("units are counted per data type, year, flag and timestamp width") {
  Tally t;
  t.begin_root("/r");
  t.unit(Storage::standard, std_name("0000001_20240102_OMP-01_123456789012345_20240102030405123_01_1"), "a", "");
  t.unit(Storage::standard, std_name("0000001_20240102_OMP-01_123456789012345_20240102030405_01_2"), "b", "");
  t.unit(Storage::standard, std_name("0000001_-_ADT-00_999999999999999_20230102030405123_-_1"), "c",
         "file name says patient 1 but it is filed under patient folder 2");
  CHECK(t.units(Storage::standard) == 3);
  CHECK(t.data_types().by.at("OMP-01") == 2);
  CHECK(t.data_types().by.at("ADT-00") == 1);
  CHECK(t.years().by.at("2024") == 2);
  CHECK(t.years().by.at("-") == 1);
  CHECK(t.flags().by.at("1") == 2);
  CHECK(t.flags().by.at("2") == 1);
  CHECK(t.timestamp_widths().by.at("17") == 2);
  CHECK(t.timestamp_widths().by.at("14") == 1);
  CHECK(t.misplaced_units().count == 1);
  CHECK(t.roots()[0].first_date == "20240102");
  CHECK(t.roots()[0].undated_units == 1);
  const auto seen = t.observed();
  CHECK(seen.timestamp_digits == std::vector<int>{14, 17});
}

TEST_CASE("keys and examples stay bounded however many distinct values a tree holds") {
  Tally t(3);
  survey::Counts c;
  for (std::size_t i = 0; i < survey::kMaxKeys + 100; ++i) c.add("k" + std::to_string(i));
  CHECK(c.by.size() == survey::kMaxKeys + 1);
  CHECK(c.by.at(survey::kOther) == 100);
  CHECK(c.total() == survey::kMaxKeys + 100);
  for (int i = 0; i < 50; ++i) t.unparseable(Storage::standard, "x" + std::to_string(i), "bad");
  CHECK(t.unparseable_units().count == 50);
  CHECK(t.unparseable_units().examples.size() == 3);
}

TEST_CASE("an HL7 head: message type, MSH-18, escape sequences, deviations, PID-3 mismatch") {
  Tally t;
  const auto name = std_name("0000002_-_ADT-00_999999999999999_20230102030405123_-_1");
  t.hl7(ssmix2::parse_hl7_header(kHl7), kHl7, "p", name);
  CHECK(t.message_types().by.at("ADT^A08^ADT_A01") == 1);
  CHECK(t.character_sets().by.at("~ISO IR87") == 1);
  CHECK(t.escape_sequences().by.at("ESC $ B") == 1);
  CHECK(t.escape_sequences().by.at("ESC ( B") == 1);
  CHECK(t.encoding_deviations().by.at("none") == 1);
  CHECK(t.patient_mismatch().count == 1);
  // the daemon compares canonical IDs: leading zeros do not make a mismatch
  t.hl7(ssmix2::parse_hl7_header(kHl7), kHl7, "z", std_name("1_-_ADT-00_999999999999999_20230102030405123_-_1"));
  CHECK(t.patient_mismatch().count == 1);
  const std::string cp932 = kHl7 + "OBX|1|ST|||\x82\xa0\r";
  t.hl7(ssmix2::parse_hl7_header(cp932), cp932, "q", name);
  CHECK(t.encoding_deviations().by.at("eight_bit") == 1);
  t.hl7(ssmix2::parse_hl7_header("%PDF-1.4"), "%PDF-1.4", "r", name);
  CHECK(t.not_hl7().count == 1);
}

TEST_CASE("the walk over a small tree: standard and extended units, misplaced, unparseable, links") {
  test::TempDir d;
  const fs::path std_root = d / "std", ext_root = d / "ext";
  write(std_root / "000/000/0000001/20240102/OMP-01/0000001_20240102_OMP-01_123456789012345_20240102030405123_01_1",
        kHl7);
  write(std_root / "000/000/0000001/-/ADT-00/0000001_-_ADT-00_999999999999999_20240102030405_-_1", kHl7);
  write(std_root / "000/000/0000001/-/ADT-00/notes.txt", "hello");
  write(std_root / "000/000/stray.txt", "stray");
  write(std_root / "000/000/0000002/-/ADT-00/0000001_-_ADT-00_999999999999999_20240102030405123_-_1", kHl7);
  fs::create_directory_symlink(d.path(), std_root / "000/link");
  const std::string type = "L-OBSERVATIONS^OBSERVATIONS^99ZL01";
  const fs::path content = ext_root / "000/000/0000001/20160101" / type /
                           ("0000001_20160101_" + type + "_000000020160101_201601011500321_1");
  write(content / "main_document.hl7", kHl7);
  write(content / "scan.PDF", "%PDF-1.4");
  Tally t;
  survey::WalkOptions o;
  survey::walk_root(std_root, t, o);
  survey::walk_root(ext_root, t, o);
  CHECK(t.files() == 7);
  CHECK(t.units(Storage::standard) == 3);
  CHECK(t.units(Storage::extended) == 1);
  CHECK(t.unparseable_units().count == 1);  // notes.txt
  CHECK(t.misplaced_units().count == 2);    // stray.txt; patient 0000001 filed under 0000002
  CHECK(t.skipped_entries().count == 1);    // the link
  CHECK(t.extended_field_counts().by.at("6") == 1);
  CHECK(t.timestamp_widths().by.at("15") == 1);
  CHECK(t.type_folder_shapes().by.at("3 components") == 1);
  CHECK(t.content_forms().by.at("pdf") == 1);
  CHECK(t.content_forms().by.at("hl7") == 1);
  const auto j = t.to_json();
  CHECK(j["volumes"][0]["layout"] == "standard");
  CHECK(j["volumes"][1]["layout"] == "extended");

  const ssmix2::Variations generic;
  ssmix2::Variations narrow;
  narrow.timestamp_digits = {17};
  const auto fits = survey::rank_profiles(t.observed(), {{"narrow", narrow}, {"generic", generic}});
  CHECK(fits[0].vendor == "generic");
  CHECK(fits[0].refused == 0);
  CHECK(fits[1].refused == 2);  // 14 and 15 digits
  const std::string block = survey::suggest_sources(t, fits[1], narrow);
  CHECK(block.find("type: ssmix2\n") != std::string::npos);
  CHECK(block.find("type: ssmix2-extended") != std::string::npos);
  CHECK(block.find("timestamp_digits: [14, 15, 17]") != std::string::npos);
  CHECK(survey::suggest_sources(t, fits[0], generic).find("profile:") == std::string::npos);
}

TEST_CASE("a root that cannot be read is an error for that root") {
  Tally t;
  CHECK_THROWS_AS(survey::walk_root("/nonexistent-survey-root", t, {}), Error);
}

TEST_CASE("content folders naming their type by a component are counted per form and suggest extended_type_field") {
  test::TempDir tmp;
  const std::string type = "L-PROGRESS^経過記録^99ZL01^11506-3^経過記録^LN";
  const fs::path dir = tmp / "ext/000/000/0000001/20160101" / type;
  write(dir / ("0000001_20160101_" + type + "_K1_20160101150032123_01_1") / "a.xml", "<x/>");
  write(dir / "0000001_20160101_11506-3_K2_20160101150032123_01_1/a.xml", "<x/>");
  write(dir / "0000001_20160101_11506-3_K3_20160101150032123_01_1/a.xml", "<x/>");
  write(dir / "0000001_20160101_L-PROGRESS_K4_20160101150032123_01_1/a.xml", "<x/>");
  Tally t;
  survey::walk_root(tmp / "ext", t, {});
  CHECK(t.units(Storage::extended) == 4);
  CHECK(t.unparseable_units().count == 0);
  CHECK(t.misplaced_units().count == 0);
  CHECK(t.extended_type_fields().by.at("whole") == 1);
  CHECK(t.extended_type_fields().by.at("standard_code") == 2);
  CHECK(t.extended_type_fields().by.at("local_code") == 1);
  CHECK(t.data_types().by.size() == 1);  // one type, whichever way its content folders name it
  CHECK(t.to_json()["extended_type_fields"]["standard_code"] == 2);
  const auto seen = t.observed();
  CHECK(seen.extended_type_field == std::vector<ssmix2::TypeField>{ssmix2::TypeField::whole,
                                                                   ssmix2::TypeField::local_code,
                                                                   ssmix2::TypeField::standard_code});
  const ssmix2::Variations generic;
  const auto fits = survey::rank_profiles(seen, {{"generic", generic}});
  CHECK(fits[0].refused == 2);
  const std::string block = survey::suggest_sources(t, fits[0], generic);
  CHECK_MESSAGE(block.find("extended_type_field: [whole, local_code, standard_code]") != std::string::npos, block);
}
