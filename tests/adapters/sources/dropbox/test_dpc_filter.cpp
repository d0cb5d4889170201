#include <doctest/doctest.h>

#include <cstring>

#include "adapters/sources/dropbox/dpc_filter.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
using namespace sennen::dropbox;

TEST_CASE("dpc id map: read as leniently as the stop list (BOM, CP932, tabs, quotes, Excel, zeros)") {
  test::TempDir tmp;
  test::write_file(tmp / "ids.csv",
                   "\xEF\xBB\xBF"
                   "データ識別番号,患者ID\r\n"
                   "0000000004,0000012345\r\n"
                   "\"0000000007\"\t=\"00777\"\r\n"
                   "８,\x82\x50\x82\x51\r\n"  // full-width 8 (UTF-8) and "12" in full-width CP932
                   "a note\r\n");
  auto ids = read_dpc_id_map(tmp / "ids.csv");
  CHECK(ids.size() == 3);
  CHECK(ids["4"] == "12345");
  CHECK(ids["7"] == "777");
  CHECK(ids["8"] == "12");
}

TEST_CASE("dpc id map: a データ識別番号 given two different patients is left out, not the last one believed") {
  test::TempDir tmp;
  test::write_file(tmp / "ids.csv", "4,12345\n7,777\n4,99999\n4,12345\n7,0777\n");
  auto ids = read_dpc_id_map(tmp / "ids.csv");
  CHECK(ids.size() == 1);
  CHECK(ids["7"] == "777");  // the same patient twice (leading zeros aside) is one patient
  CHECK_FALSE(ids.contains("4"));
}

TEST_CASE("dpc filter: rows of withheld and unmapped patients removed, title row and the rest byte-identical") {
  const std::string title = "\x8e\x7b\x90\xdd\t...\r\n";
  const std::string a = "130000001\t0000000004\t20250110\r\n", b = "130000001\t0000000007\t20250110\r\n",
                    c = "130000001\t0000000009\t20250110\r\n";
  const std::string original = title + a + b + a + c;
  std::size_t pos = 0;
  std::string out;
  const auto counts = filter_dpc(
      {{"4", "12345"}, {"7", "777"}},
      [&](std::span<std::byte> buf) {
        const std::size_t n = std::min(buf.size(), original.size() - pos);
        std::memcpy(buf.data(), original.data() + pos, n);
        pos += n;
        return n;
      },
      [](const std::optional<std::string>& p) {
        if (!p) return Withhold::unattributed;
        return *p == "777" ? Withhold::stopped : Withhold::none;
      },
      [&](std::string_view s) { out += s; });
  CHECK(out == title + a + a);
  CHECK(counts.kept == 2);
  CHECK(counts.stopped == 1);
  CHECK(counts.unattributed == 1);
}
