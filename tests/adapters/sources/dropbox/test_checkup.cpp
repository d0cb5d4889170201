#include <doctest/doctest.h>

#include "adapters/sources/dropbox/checkup.hpp"
#include "tests/support/captured_stderr.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
using namespace sennen::dropbox;

TEST_CASE("checkup: the patient IDs of recordTarget/patientRole, whatever the prefix; only there") {
  test::TempDir tmp;
  test::write_file(tmp / "doc.xml",
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<h:ClinicalDocument xmlns:h=\"urn:hl7-org:v3\">\n"
                   "  <h:id root=\"1.2.3.9\" extension=\"doc-1\"/>\n"
                   "  <h:recordTarget><h:patientRole>\n"
                   "    <h:id root=\"1.2.392.200119.6.204\" extension=\"12345\"/>\n"
                   "    <h:id root=\"9.9.9\" extension=\"0000000042\"/>\n"
                   "    <h:patient><h:id root=\"9.9.9\" extension=\"7\"/></h:patient>\n"
                   "  </h:patientRole></h:recordTarget>\n"
                   "</h:ClinicalDocument>\n");
  const auto doc = cda_patient_ids(tmp / "doc.xml");
  CHECK(doc.error.empty());
  REQUIRE(doc.ids.size() == 2);
  CHECK(doc.ids[0].root == "1.2.392.200119.6.204");
  CHECK(doc.ids[1].root == "9.9.9");
  CHECK(doc.ids[1].extension == "0000000042");
}

TEST_CASE("checkup: a document cut short is an error with its line, and names nobody") {
  test::TempDir tmp;
  test::write_file(tmp / "cut.xml",
                   "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><recordTarget><patientRole>\n"
                   "<id root=\"9.9.9\" extension=\"42\"/>\n");
  const auto doc = cda_patient_ids(tmp / "cut.xml");
  CHECK_FALSE(doc.error.empty());
  CHECK(doc.error.find("line") != std::string::npos);
  CHECK(doc.ids.empty());
}

TEST_CASE("checkup: bytes libxml2 cannot decode are an error here, with nothing printed on stderr") {
  // libxml2 reports these to its global handler, which printed them on stderr (the journal), with no
  // file named, several lines a read, instead of to the reader's.
  test::TempDir tmp;
  test::write_file(tmp / "sjis.xml",
                   "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\n"
                   "<ClinicalDocument>\x81\x7f</ClinicalDocument>\n");             // no Shift_JIS character
  test::write_file(tmp / "ucs4.xml", std::string("\0\0<\0ClinicalDocument", 20));  // a byte order libxml2 lacks
  test::CapturedStderr err;
  const auto bad_bytes = cda_patient_ids(tmp / "sjis.xml");
  const auto ucs4 = cda_patient_ids(tmp / "ucs4.xml");
  CHECK(err.text() == "");
  CHECK(bad_bytes.error.find("conversion failed") != std::string::npos);
  CHECK(bad_bytes.ids.empty());
  CHECK(ucs4.error.find("encoding not supported") != std::string::npos);
  CHECK(ucs4.ids.empty());
}
