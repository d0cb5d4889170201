// dicom::read_instance on Part-10 files written here byte by byte (Implicit VR Little Endian data
// sets, whose 4-byte lengths let a value be as long as a hostile sender likes).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "adapters/sources/dicom_common/instance.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;

namespace {
void le(std::string& out, std::uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
std::string even(std::string v, char pad) { return v.size() % 2 ? v + pad : v; }
// An explicit VR element of the meta group (2-byte length).
std::string meta(std::uint16_t element, const char* vr, const std::string& value) {
  std::string out;
  le(out, 0x0002, 2);
  le(out, element, 2);
  out += vr;
  if (std::string(vr) == "OB") {
    le(out, 0, 2);
    le(out, static_cast<std::uint32_t>(value.size()), 4);
  } else {
    le(out, static_cast<std::uint32_t>(value.size()), 2);
  }
  return out + value;
}
// An implicit VR element (4-byte length).
std::string implicit(std::uint16_t group, std::uint16_t element, const std::string& value) {
  std::string out;
  le(out, group, 2);
  le(out, element, 2);
  le(out, static_cast<std::uint32_t>(value.size()), 4);
  return out + value;
}
// A CT image header without pixels, its PatientID as given.
std::string part10(const std::string& patient_id) {
  const std::string sop_class = even("1.2.840.10008.5.1.4.1.1.2", '\0');
  const std::string sop = even("1.2.3.4.5.6", '\0');
  std::string group = meta(0x0001, "OB", std::string("\0\1", 2)) + meta(0x0002, "UI", sop_class) +
                      meta(0x0003, "UI", sop) + meta(0x0010, "UI", even("1.2.840.10008.1.2", '\0'));
  std::string file(128, '\0');
  file += "DICM";
  std::string length;
  le(length, static_cast<std::uint32_t>(group.size()), 4);
  file += meta(0x0000, "UL", length) + group;
  file += implicit(0x0008, 0x0016, sop_class) + implicit(0x0008, 0x0018, sop) +
          implicit(0x0008, 0x0060, even("CT", ' ')) + implicit(0x0010, 0x0020, even(patient_id, ' ')) +
          implicit(0x0020, 0x000D, even("1.2.3.4", '\0')) + implicit(0x0020, 0x000E, even("1.2.3.4.5", '\0'));
  return file;
}
}  // namespace

TEST_CASE("dicom instance: the identifying elements are read; one longer than such an element can be is refused") {
  test::TempDir t;
  test::write_file(t / "ok.dcm", part10("0012345"));
  const auto ok = dicom::read_instance(t / "ok.dcm");
  REQUIRE_MESSAGE(ok.instance, ok.error);
  CHECK(ok.instance->patient_id == "0012345");
  CHECK(ok.instance->sop_instance_uid == "1.2.3.4.5.6");
  CHECK(ok.instance->modality == "CT");
  // Loaded with the data set (under 4 KiB), and left on disk (over it): refused either way,
  // before the value is read.
  for (std::size_t size : {2048u, 1024u * 1024u}) {
    test::write_file(t / "long.dcm", part10(std::string(size, '7')));
    const auto r = dicom::read_instance(t / "long.dcm");
    CHECK_FALSE(r.instance);
    CHECK(r.error == "PatientID (0010,0020) is " + std::to_string(size) +
                         " bytes long, more than the 1024 such an element can need: a malformed or hostile data set");
  }
}
