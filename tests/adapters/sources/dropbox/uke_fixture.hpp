#pragma once
// A small UKE file built in the test (CP932 bytes written as escapes), and the public sample.
#include <string>

namespace sennen::test {

inline constexpr const char* kFacility = "1310000001";  // the site of these tests
// テスト in CP932.
inline const std::string kKanaCp932 = "\x83\x65\x83\x58\x83\x67";

// Two claims: one with an insurer and a public payer (2 payer records), one insurer only.
inline std::string small_uke(const std::string& facility = kFacility, const std::string& go = "GO,3,1500,99") {
  std::string f = "IR,1," + facility.substr(0, 2) + "," + facility.substr(2, 1) + "," + facility.substr(3) + "," +
                  kKanaCp932 + ",,202501,00,0312345678\r\n";
  f += "RE,1,1122,202412," + kKanaCp932 + ",1,19700101,,,,,,,00123,\r\n";
  f += "HO,01010016,1,1,1,1000,,\r\n";
  f += "KO,83136019,1111111,,1,200,\r\n";
  f += "SI,11,2,111000110,,288,1,\r\n";
  f += "RE,2,1112,202412," + kKanaCp932 + ",2,19800202,,,,,,,00456,\r\n";
  f += "HO,01010016,1,2,1,500,,\r\n";
  f += "IY,21,1,620000001,1,10,1,\r\n";
  return f + go + "\r\n";
}

}  // namespace sennen::test
