#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "adapters/sources/dropbox/uke.hpp"
#include "adapters/sources/dropbox/uke_filter.hpp"
#include "tests/adapters/sources/dropbox/uke_fixture.hpp"
#include "daemon/util/error.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
using namespace sennen::dropbox;
namespace fs = std::filesystem;

namespace {
struct Filtered {
  std::string out;
  FilterCounts counts;
};
Filtered run_filter(const fs::path& file, const PatientGate& decide) {
  Filtered f;
  std::ifstream in(file, std::ios::binary);
  f.counts = filter_uke(
      [&](std::span<std::byte> b) {
        in.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
        return static_cast<std::size_t>(in.gcount());
      },
      decide, [&](std::string_view s) { f.out += s; });
  return f;
}
// The expectation, written without the product's parser: the original text with the block that
// starts at `block_start` cut out up to the next "\r\nRE," or "\r\nGO,", and the GO line given.
std::string cut_block(const std::string& original, const std::string& block_start, const std::string& new_go) {
  const auto b = original.find(block_start);
  REQUIRE(b != std::string::npos);
  auto next_re = original.find("\r\nRE,", b + 1), go = original.find("\r\nGO,");
  const auto e = std::min(next_re, go) + 2;
  std::string out = original.substr(0, b) + original.substr(e);
  return out.substr(0, out.find("GO,")) + new_go + "\r\n";
}
}  // namespace

TEST_CASE("uke filter: a stopped patient's claim block is removed, the rest byte-identical, GO recomputed") {
  test::TempDir tmp;
  const std::string original = test::small_uke();
  test::write_file(tmp / "in.UKE", original);
  auto f = run_filter(tmp / "in.UKE", [](const std::optional<std::string>& p) {
    return p == "123" ? Withhold::stopped : Withhold::none;  // chart 00123, canonical "123"
  });
  // Claim 1 had HO 1000 + KO: 2 payer records removed; claim 2 (HO 500) stays.
  CHECK(f.out == cut_block(original, "RE,1,", "GO,1,500,99"));
  CHECK(f.counts.stopped == 1);
  CHECK(f.counts.kept == 1);
  CHECK(f.counts.bytes_in == original.size());
  CHECK(f.counts.bytes_out == f.out.size());
  // What is left is itself a valid file.
  test::write_file(tmp / "out.UKE", f.out);
  CHECK_FALSE(scan_uke(tmp / "out.UKE", test::kFacility).rejection);
}

TEST_CASE("uke filter: a claim without a chart number is asked about as unattributed") {
  test::TempDir tmp;
  std::string original = test::small_uke();
  original.replace(original.find("00456"), 5, "");
  test::write_file(tmp / "in.UKE", original);
  int unattributed = 0;
  auto f = run_filter(tmp / "in.UKE", [&](const std::optional<std::string>& p) {
    if (!p) return ++unattributed, Withhold::unattributed;
    return Withhold::none;
  });
  CHECK(unattributed == 1);
  CHECK(f.counts.unattributed == 1);
  CHECK(f.out == cut_block(original, "RE,2,", "GO,2,1000,99"));
}

TEST_CASE("uke filter: nobody withheld leaves the file byte-identical") {
  test::TempDir tmp;
  test::write_file(tmp / "in.UKE", test::small_uke());
  auto f = run_filter(tmp / "in.UKE", [](const std::optional<std::string>&) { return Withhold::none; });
  CHECK(f.out == test::small_uke());
}

// Found by fuzz_uke: scan_uke compares the GO counts by value, so a zero-padded trailer is valid,
// and the filter used to rewrite it unpadded even when nobody was withheld.
TEST_CASE("uke filter: a zero-padded GO trailer is kept as it is with nobody withheld") {
  test::TempDir tmp;
  const std::string original = test::small_uke(test::kFacility, "GO,000003,000001500,99");
  test::write_file(tmp / "in.UKE", original);
  REQUIRE_FALSE(scan_uke(tmp / "in.UKE", test::kFacility).rejection);
  auto f = run_filter(tmp / "in.UKE", [](const std::optional<std::string>&) { return Withhold::none; });
  CHECK(f.out == original);
}

TEST_CASE("uke filter: a recomputed GO trailer keeps the zero-padded width of the original's fields") {
  test::TempDir tmp;
  const std::string original = test::small_uke(test::kFacility, "GO,000003,000001500,99");
  test::write_file(tmp / "in.UKE", original);
  auto f = run_filter(tmp / "in.UKE", [](const std::optional<std::string>& p) {
    return p == "123" ? Withhold::stopped : Withhold::none;
  });
  CHECK(f.out == cut_block(original, "RE,1,", "GO,000001,000000500,99"));
  test::write_file(tmp / "out.UKE", f.out);
  CHECK_FALSE(scan_uke(tmp / "out.UKE", test::kFacility).rejection);
}

TEST_CASE("uke filter: chart numbers in full-width CP932 digits meet the gate's canonical form") {
  util::Cp932ToUtf8 cp932;
  CHECK(chart_patient("00697", cp932) == "697");
  CHECK(chart_patient("\x82\x4f\x82\x50\x82\x51", cp932) == "12");  // ０１２
  CHECK_FALSE(chart_patient("", cp932));
}

TEST_CASE("uke filter: content that is not a claim file is refused, not passed through") {
  test::TempDir tmp;
  test::write_file(tmp / "in.UKE", "MSH|^~\\&|...\r\nPID|||0001\r\n");
  CHECK_THROWS_AS(run_filter(tmp / "in.UKE", [](const std::optional<std::string>&) { return Withhold::none; }), Error);
}

namespace {
constexpr const char* kWithoutConverter =
    "uke filter: without the CP932 converter of iconv the file waits in the spool (FilterUnavailable)";

// The folders glibc loads its gconv modules from, where this system has CP932.
std::vector<fs::path> gconv_folders() {
  std::vector<fs::path> out;
  for (const fs::path lib : {"/usr/lib", "/usr/lib64"}) {
    std::error_code ec;
    if (fs::exists(lib / "gconv" / "CP932.so", ec)) out.push_back(lib / "gconv");
    for (fs::directory_iterator d(lib, ec), end; !ec && d != end; d.increment(ec))
      if (fs::exists(d->path() / "gconv" / "CP932.so", ec)) out.push_back(d->path() / "gconv");
  }
  return out;
}
}  // namespace

// Run only by the next test, in a fresh process whose gconv folders are hidden: a converter
// missing (a minimal EL install without glibc-gconv-extra) is the box's fault, not the file's.
TEST_CASE(kWithoutConverter* doctest::skip()) {
  test::TempDir tmp;
  test::write_file(tmp / "in.UKE", test::small_uke());
  CHECK_THROWS_AS(run_filter(tmp / "in.UKE", [](const std::optional<std::string>&) { return Withhold::none; }),
                  FilterUnavailable);
}

TEST_CASE("uke filter: a box without the CP932 converter keeps claim files for later instead of setting them aside") {
  REQUIRE_MESSAGE(::geteuid() == 0, "needs root for a private mount namespace");
  const auto folders = gconv_folders();
  REQUIRE_MESSAGE(!folders.empty(), "glibc's CP932 gconv module was not found");
  std::string hide;
  for (const auto& f : folders) hide += "mount -t tmpfs tmpfs " + f.string() + " && ";
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  const std::string out =
      test::run_output("unshare --mount --propagation private sh -c '" + hide + "exec \"$0\" --no-skip --test-case=\"" +
                       kWithoutConverter + "\"' " + self + " 2>&1; true");  // the report, passed or failed
  CHECK_MESSAGE(out.find("test cases: 1 | 1 passed | 0 failed") != std::string::npos, out);
}
