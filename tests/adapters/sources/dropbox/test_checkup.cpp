#include <doctest/doctest.h>

#include "adapters/sources/dropbox/checkup.hpp"
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
