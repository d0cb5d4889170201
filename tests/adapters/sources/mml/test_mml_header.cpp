#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "adapters/sources/mml/mml_header.hpp"
#include "tests/adapters/sources/mml/mml_fixture.hpp"
#include "tests/support/captured_stderr.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
using mml::test::Instance;
using mml::test::instance;

TEST_CASE("mml header: patient, document identity and update chain of a v4 instance") {
  Instance i;
  i.parent = "JPN999999900009DOC0000";
  auto r = mml::parse_header(instance(i));
  REQUIRE_MESSAGE(r.header, r.error);
  CHECK(r.header->patient_id == "0000469905");  // white space around the Id trimmed
  CHECK(r.header->uid == "JPN999999900009DOC0001");
  CHECK(r.header->parent_id == "JPN999999900009DOC0000");
  CHECK(r.header->parent_relation == "oldEdition");
  CHECK(r.header->module_type == "progressCourse");
  CHECK(r.header->purpose == "record");
  CHECK(r.header->version == "4.1.2");
  CHECK(r.header->create_date == "2025-01-10T10:00:00");
  CHECK(r.header->encoding == "UTF-8");
}

TEST_CASE("mml header: a Shift_JIS instance (MML before v4) is read in its declared encoding") {
  Instance i;
  i.declaration = R"(<?xml version="1.0" encoding="Shift_JIS"?>)";
  i.version = "3.0";
  i.title = "\x8a\xb3\x8e\xd2";  // 患者 in Shift_JIS: not valid UTF-8, so read as UTF-8 it would fail
  auto r = mml::parse_header(instance(i));
  REQUIRE_MESSAGE(r.header, r.error);
  CHECK(r.header->encoding == "Shift_JIS");
  CHECK(r.header->version == "3.0");
  CHECK(r.header->patient_id == "0000469905");

  i.declaration = R"(<?xml version="1.0" encoding="UTF-8"?>)";  // the same bytes declared as UTF-8
  CHECK_FALSE(mml::parse_header(instance(i)).header);
}

TEST_CASE("mml header: bytes libxml2 cannot decode are an error here, with nothing printed on stderr") {
  // libxml2 reports these to its global handler, which printed them on stderr (the journal), with no
  // file named, instead of to the reader's.
  Instance i;
  i.declaration = R"(<?xml version="1.0" encoding="Shift_JIS"?>)";
  i.title = "\x81\x7f";  // no Shift_JIS character
  test::CapturedStderr err;
  const auto bad_bytes = mml::parse_header(instance(i));
  const auto ucs4 = mml::parse_header(std::string("\0\0<\0Mml", 7));  // a UCS-4 byte order libxml2 lacks
  CHECK(err.text() == "");
  CHECK_FALSE(bad_bytes.header);
  CHECK(bad_bytes.error.find("not well-formed XML before the end of the first docInfo: ") == 0);
  CHECK(bad_bytes.error.find("conversion failed") != std::string::npos);
  CHECK_FALSE(ucs4.header);
  CHECK(ucs4.error.find("encoding not supported") != std::string::npos);
}

TEST_CASE("mml header: what leaves the patient or the document undetermined is an error saying so") {
  CHECK(mml::parse_header("<?xml version=\"1.0\"?><mmlPi:PatientModule xmlns:mmlPi=\"x\"/>")
            .error.find("patient cannot be determined") != std::string::npos);
  Instance i;
  std::string no_master = instance(i);
  no_master.replace(no_master.find("<masterId>"), no_master.find("</masterId>") + 11 - no_master.find("<masterId>"),
                    "");
  CHECK(mml::parse_header(no_master).error == "no MmlHeader/masterId: the patient cannot be determined");
  i.patient = "";
  CHECK(mml::parse_header(instance(i)).error == "MmlHeader/masterId holds no patient ID");
  i = Instance{};
  i.uid = " ";
  CHECK(mml::parse_header(instance(i)).error.find("no docId/uid") != std::string::npos);
  std::string two = instance(Instance{});
  two.insert(two.find("</masterId>"), "<mmlCm:Id>other</mmlCm:Id>");
  CHECK(mml::parse_header(two).error.find("more than one Id") != std::string::npos);
  CHECK(mml::parse_header("not xml at all").error.find("not well-formed") != std::string::npos);
  CHECK_FALSE(mml::parse_header("").header);
}

TEST_CASE("mml header: only the head is needed; a prefix cut inside it is an error") {
  const std::string whole = instance(Instance{});
  const auto body = whole.find("<content>");
  auto r = mml::parse_header(std::string_view(whole).substr(0, body + 12));  // cut inside the content
  REQUIRE_MESSAGE(r.header, r.error);
  CHECK(r.header->uid == "JPN999999900009DOC0001");
  auto cut = mml::parse_header(std::string_view(whole).substr(0, whole.find("<uid>") + 8));
  CHECK_FALSE(cut.header);
  CHECK(cut.error.find("not well-formed") != std::string::npos);
}

TEST_CASE("mml header: no external entity or DTD is ever loaded") {
  test::TempDir tmp;
  test::write_file(tmp / "secret", "0000000001");
  std::string doc = instance(Instance{});
  doc.insert(doc.find("<Mml "), "<!DOCTYPE Mml [<!ENTITY x SYSTEM \"file://" + (tmp / "secret").string() + "\">]>\n");
  doc.replace(doc.find("0000469905"), 10, "&x;");
  auto r = mml::parse_header(doc);
  CHECK_FALSE(r.header);
  CHECK(r.error == "MmlHeader/masterId holds no patient ID");
}

namespace {
std::filesystem::path skoba() {
  const char* env = std::getenv("SENNEN_SAMPLES");
  return std::filesystem::path(env ? env : SENNEN_SAMPLES_DIR) / "skoba_mml";
}
}  // namespace

TEST_CASE("mml header: the public skoba/mml samples (skipped when absent)") {
  if (!std::filesystem::is_directory(skoba())) {
    MESSAGE("skoba_mml samples not present at " << skoba() << ": skipped");
    return;
  }
  auto r = mml::parse_header(test::read_file(skoba() / "mml4_sample1.xml"));
  REQUIRE_MESSAGE(r.header, r.error);
  CHECK(r.header->patient_id == "0000469905");
  CHECK(r.header->uid == "JPN999999900009AC1F1B696FE337200202081013220003");
  CHECK(r.header->parent_id == "JPN999999900009AC1F1B696FE337200202081013220002");
  CHECK(r.header->parent_relation == "oldEdition");
  CHECK(r.header->version == "4.1.2");
  // The other samples are single modules, not instances: no MmlHeader, so no patient.
  for (const char* f : {"mmllb_sample.xml", "mmlpi_sample.xml", "mmlps_sample.xml", "mmlrd_sample.xml"}) {
    auto m = mml::parse_header(test::read_file(skoba() / f));
    CHECK_MESSAGE(!m.header, f);
    CHECK_MESSAGE(m.error.find("patient cannot be determined") != std::string::npos, f, ": ", m.error);
  }
}
