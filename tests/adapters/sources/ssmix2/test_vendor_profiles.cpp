// Vendor profiles (vendors/*.yaml, adapters/sources/ssmix2_common/vendor_profile.hpp): every
// shipped profile loads and sources each entry; `vendor:` selects one, the source's `profile:`
// overrides it; and the engine accepts exactly the declared variations on generated trees.
#include <doctest/doctest.h>

#include <map>

#include "adapters/registry/registry.hpp"
#include "adapters/sources/ssmix2/standard_source.hpp"
#include "adapters/sources/ssmix2_common/tree_options.hpp"
#include "adapters/sources/ssmix2_extended/extended_source.hpp"
#include "daemon/config/config.hpp"
#include "daemon/spool/spool.hpp"
#include "tests/adapters/sources/ssmix2/recording_sink.hpp"
#include "tests/adapters/sources/ssmix2/tree_fixture.hpp"
#include "tests/support/manual_clock.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {

const fs::path kVendorsDir = SENNEN_VENDORS_DIR;
const std::string kType = "L-OBSERVATIONS^OBSERVATIONS^99ZL01";

// A source of `type` with the vendor and profile lines given, read through the whole config.
config::Config config_with(const std::string& type, const std::string& lines, const fs::path& vendors = kVendorsDir) {
  return config::parse("site: {id: \"1312345678\", name: x}\nstate_dir: /s\nsources:\n  - name: emr\n    type: " +
                           type + "\n    root: /srv/t\n    vendor_profiles: " + vendors.string() + "\n" + lines +
                           "optout: {stop_list: /o.csv}\ndestination: {type: local, path: /out}\n"
                           "encryption: {recipients: [/c.crt], signer_cert: /s.crt, signer_key: /s.key}\n",
                       "/etc/sennen-edge/sennen-edge.yaml", adapters::catalog());
}

std::vector<std::string> problems_of(const std::string& type, const std::string& lines,
                                     const fs::path& vendors = kVendorsDir) {
  try {
    config_with(type, lines, vendors);
  } catch (const config::ConfigError& e) {
    std::vector<std::string> out;
    for (const auto& p : e.problems()) out.push_back(p.format());
    return out;
  }
  return {};
}

// One poll of the source `c` configures, reading `root`, with its state under `state_dir`.
void poll_tree(const config::Config& c, const fs::path& root, const fs::path& state_dir, bool extended,
               const test::ManualClock& clock, test::RecordingSink& sink, SourceStats& stats) {
  ssmix2::TreeSourceOptions o = ssmix2::tree_source_options(c.sources.at(0));
  o.roots = {root};
  auto source = extended ? ssmix2::make_extended_source(o) : ssmix2::make_standard_source(o);
  spool::Spool spool{state_dir};
  auto state = spool.source_state("emr");
  std::atomic<bool> stop{false};
  SourceContext ctx{clock, *state, sink, stop, stats, false};
  spool::Spool::Transaction tx(spool);
  source->poll(ctx);
  tx.commit();
}

// A generated standardized and extended tree with every width and field count the engine can
// parse; returns what the source took in and what it quarantined, by unit name.
struct Outcome {
  std::set<std::string> taken, quarantined;
};
Outcome run(const config::Config& c, bool extended) {
  test::TempDir tmp;
  const fs::path root = tmp / "t";
  test::ManualClock clock;
  const std::time_t past = std::chrono::system_clock::to_time_t(clock.now()) - 3600;
  const std::string pid = test::kPid;
  const fs::path unit_dir = root / pid.substr(0, 3) / pid.substr(3, 3) / pid / "20250110";
  for (std::string stamp : {"20250110101010", "202501101010101", "2025011010101012", "20250110101010123"}) {
    if (!extended) {
      test::put(root, "20250110", "OMP-01", "00000000000" + std::to_string(stamp.size()), stamp, '1',
                test::hl7(pid, "RDE^O11"));
      continue;
    }
    for (bool dept : {false, true}) {
      const fs::path folder = unit_dir / kType /
                              (pid + "_20250110_" + kType + "_0000000" + std::to_string(stamp.size()) +
                               (dept ? "1" : "0") + "_" + stamp + (dept ? "_01_1" : "_1"));
      test::write_file(folder / "main_document.hl7", test::hl7(pid, "ORU^R01"));
    }
  }
  for (auto& e : fs::recursive_directory_iterator(root)) test::age(e.path(), past);
  test::RecordingSink sink;
  SourceStats stats;
  poll_tree(c, root, tmp / "state", extended, clock, sink, stats);
  Outcome out;
  for (const auto& r : sink.records) out.taken.insert(fs::path(r.draft.path).filename().string());
  for (const auto& q : sink.quarantined) {  // not a structured binding: CHECK_MESSAGE captures it in a lambda
    const std::string& reason = q.second;
    CHECK_MESSAGE(reason.find("not accepted") != std::string::npos, reason);
    out.quarantined.insert(fs::path(q.first).filename().string());
  }
  return out;
}

std::size_t stamp_digits(const std::string& unit) {
  auto end = unit.rfind('_');
  if (unit.size() > 5 && unit.compare(end - 3, 3, "_01") == 0) end -= 3;
  return end - unit.rfind('_', end - 1) - 1;
}

}  // namespace

TEST_CASE("vendor profiles: every shipped vendor loads, and none claims more than generic") {
  const ssmix2::Variations generic;
  for (std::string_view v : ssmix2::kVendors) {
    CAPTURE(v);
    REQUIRE(fs::exists(kVendorsDir / (std::string(v) + ".yaml")));
    ssmix2::Variations got;
    got.timestamp_digits.clear();  // what the file says, not the defaults
    got.extended_field_counts.clear();
    got.extended_type_field = {ssmix2::TypeField::local_code};
    got.encodings_tolerated = {"eight_bit"};
    if (v != "generic") ssmix2::load_vendor_profile(kVendorsDir, "generic", got);
    ssmix2::load_vendor_profile(kVendorsDir, std::string(v), got);
    // No vendor's SS-MIX2 output is publicly specified (formats.md §2): all are generic for now,
    // and generic.yaml states the engine's defaults.
    CHECK(got.timestamp_digits == generic.timestamp_digits);
    CHECK(got.extended_field_counts == generic.extended_field_counts);
    CHECK(got.extended_type_field == generic.extended_type_field);
    CHECK(got.encodings_tolerated == generic.encodings_tolerated);
    // The seed's 17-kind table names no vendor (docs/coverage-kinds.md): nothing is expected.
    CHECK(got.expected_kinds.empty());
  }
}

TEST_CASE("vendor profiles: an entry without its source, a wrong name or a missing file is refused") {
  test::TempDir tmp;
  test::write_file(tmp / "acme.yaml", "vendor: acme\nsource: x\naccept:\n  timestamp_digits: {value: [17]}\n");
  ssmix2::Variations v;
  CHECK_THROWS_WITH_AS(ssmix2::load_vendor_profile(tmp.path(), "acme", v), doctest::Contains("source"),
                       config::ConfigError);
  test::write_file(tmp / "nec.yaml", "vendor: fujitsu\nsource: x\naccept: {}\n");
  CHECK_THROWS_AS(ssmix2::load_vendor_profile(tmp.path(), "nec", v), config::ConfigError);
  CHECK_THROWS_AS(ssmix2::load_vendor_profile(tmp.path(), "ssi", v), config::ConfigError);

  auto p = problems_of("ssmix2", "    vendor: fujitsu\n", "/nonexistent");
  REQUIRE(p.size() == 1);
  CHECK(p[0].find("sources[0].vendor") != std::string::npos);
  CHECK(p[0].find("/nonexistent/fujitsu.yaml") != std::string::npos);
  CHECK(p[0].find("set vendor_profiles") != std::string::npos);
  CHECK(problems_of("ssmix2", "", "/nonexistent").empty());  // no vendor named: the built-in generic values
  CHECK(problems_of("ssmix2", "    vendor: generic\n", "/nonexistent").empty());  // the same
  p = problems_of("ssmix2", "    profile: {timestamp_digits: [13]}\n");
  REQUIRE(p.size() == 1);
  CHECK(p[0].find("profile.timestamp_digits") != std::string::npos);
}

TEST_CASE("vendor profiles: vendor selects the profile and profile: overrides it") {
  auto c = config_with("ssmix2", "    vendor: ssi\n    profile: {timestamp_digits: [17, 15]}\n");
  const auto& o = c.sources[0].options_as<ssmix2::TreeOptions>();
  CHECK(o.vendor == "ssi");
  CHECK(o.accept.timestamp_digits == std::vector<int>{17, 15});
  CHECK(o.accept.extended_field_counts == std::vector<int>{6, 7});
  CHECK(o.accept.extended_type_field == std::vector{ssmix2::TypeField::whole});

  c = config_with("ssmix2-extended", "    profile: {extended_type_field: [standard_code, whole]}\n");
  CHECK(c.sources[0].options_as<ssmix2::TreeOptions>().accept.extended_type_field ==
        std::vector{ssmix2::TypeField::standard_code, ssmix2::TypeField::whole});
  for (const char* bad : {"[whole, whole]", "[code]", "[]"}) {
    CAPTURE(bad);
    auto p = problems_of("ssmix2-extended", std::string("    profile: {extended_type_field: ") + bad + "}\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0].find("profile.extended_type_field") != std::string::npos);
  }
}

TEST_CASE("vendor profiles: a site states what it expects per document kind; a wrong kind or form is refused") {
  auto c = config_with("ssmix2", "    profile: {expected_kinds: {lab_results: structured, reports: pdf_jpeg}}\n");
  const auto& o = c.sources[0].options_as<ssmix2::TreeOptions>();
  CHECK(o.accept.expected_kinds ==
        std::map<std::string, std::string>{{"lab_results", "structured"}, {"reports", "pdf_jpeg"}});
  CHECK(c.sources[0].options->expected_kinds() == o.accept.expected_kinds);
  CHECK(problems_of("ssmix2", "    profile: {expected_kinds: {labs: structured}}\n").size() == 1);
  CHECK(problems_of("ssmix2", "    profile: {expected_kinds: {reports: paper}}\n").size() == 1);
}

TEST_CASE("vendor profiles: each shipped profile accepts every declared variation on generated trees") {
  for (std::string_view v : ssmix2::kVendors) {
    CAPTURE(v);
    const std::string line = "    vendor: " + std::string(v) + "\n";
    auto std_run = run(config_with("ssmix2", line), false);
    CHECK(std_run.taken.size() == 4);  // timestamps of 14, 15, 16 and 17 digits
    CHECK(std_run.quarantined.empty());
    auto ext_run = run(config_with("ssmix2-extended", line), true);
    CHECK(ext_run.taken.size() == 8);  // each width with and without the 診療科 field
    CHECK(ext_run.quarantined.empty());
  }
}

TEST_CASE("vendor profiles: a narrowed profile quarantines what it does not accept, and only that") {
  auto std_run = run(config_with("ssmix2", "    vendor: nec\n    profile: {timestamp_digits: [17]}\n"), false);
  REQUIRE(std_run.taken.size() == 1);
  CHECK(stamp_digits(*std_run.taken.begin()) == 17);
  CHECK(std_run.quarantined.size() == 3);

  auto ext_run =
      run(config_with("ssmix2-extended", "    vendor: fujitsu\n    profile: {extended_field_counts: [7]}\n"), true);
  CHECK(ext_run.taken.size() == 4);
  CHECK(ext_run.quarantined.size() == 4);
  for (const auto& n : ext_run.quarantined) CHECK_MESSAGE(n.find("_01_") == std::string::npos, n);
}

TEST_CASE(
    "vendor profiles: encodings beyond ISO-2022-JP are accepted byte-exact, named, and counted unless tolerated") {
  for (bool tolerate : {false, true}) {
    CAPTURE(tolerate);
    test::TempDir tmp;
    const fs::path root = tmp / "t";
    test::ManualClock clock;
    const std::time_t past = std::chrono::system_clock::to_time_t(clock.now()) - 3600;
    // ESC ( J (JIS X 0201 Roman) and raw CP932 bytes (患者) where a module skipped conversion.
    auto jis = test::put(root, "20250110", "OMP-01", "000000000000001", "20250110101010123", '1',
                         test::hl7(test::kPid, "RDE^O11", "NTE|1||\x1b(Jabc\x1b(B\r"));
    auto cp932 = test::put(root, "20250110", "OMP-01", "000000000000002", "20250110101010123", '1',
                           test::hl7(test::kPid, "RDE^O11", "NTE|1||\x8a\xb3\x8e\xd2\r"));
    auto plain = test::put(root, "20250110", "OMP-01", "000000000000003", "20250110101010123", '1',
                           test::hl7(test::kPid, "RDE^O11"));
    for (const auto& f : {jis, cp932, plain}) test::age(f, past);
    auto c = config_with("ssmix2", tolerate ? "    profile: {encodings_tolerated: [jis_roman]}\n" : "");
    test::RecordingSink sink;
    SourceStats stats;
    poll_tree(c, root, tmp / "state", false, clock, sink, stats);
    REQUIRE(sink.records.size() == 3);
    std::map<std::string, std::string> flagged;
    for (const auto& r : sink.records) {
      CHECK(r.contents[0] == test::read_file(r.draft.parts[0].file));  // never re-encoded
      for (const auto& [k, v] : r.draft.attributes)
        if (k == "encoding_deviations") flagged[fs::path(r.draft.path).filename().string().substr(39, 3)] = v;
    }
    CHECK(flagged == std::map<std::string, std::string>{{"001", "jis_roman"}, {"002", "eight_bit"}});
    auto& events = stats.events[ssmix2::kEncodingEvent];
    CHECK(events["eight_bit"].last_poll == 1);
    CHECK(events.count("jis_roman") == (tolerate ? 0u : 1u));
  }
}

TEST_CASE("vendor profiles: extended_type_field says how content folders may name their type; keys stay the same") {
  const std::string jspeed = "L-JSPEED^災害時JSPEED記録^99ZL01^74465-6^災害時診療記録^LN";
  const std::string pid = test::kPid;
  for (const char* lines : {"", "    profile: {extended_type_field: [whole, standard_code]}\n"}) {
    CAPTURE(lines);
    test::TempDir tmp;
    const fs::path root = tmp / "t";
    test::ManualClock clock;
    const fs::path type_dir = root / pid.substr(0, 3) / pid.substr(3, 3) / pid / "20250110" / jspeed;
    const std::string by_whole = pid + "_20250110_" + jspeed + "_K1_20250110101010123_01_1";
    const std::string by_code = pid + "_20250110_74465-6_K2_20250110101010123_01_1";
    for (const auto& folder : {by_whole, by_code})
      test::write_file(type_dir / folder / "document.xml", "<ClinicalDocument/>");
    for (auto& e : fs::recursive_directory_iterator(root))
      test::age(e.path(), std::chrono::system_clock::to_time_t(clock.now()) - 3600);
    test::RecordingSink sink;
    SourceStats stats;
    poll_tree(config_with("ssmix2-extended", lines), root, tmp / "state", true, clock, sink, stats);
    std::map<std::string, std::string> keys;  // content folder -> record key
    for (const auto& r : sink.records) {
      CHECK(r.draft.kind == jspeed);
      keys[fs::path(r.draft.path).filename().string()] = r.draft.key;
    }
    CHECK(keys[by_whole] == pid + "_20250110_" + jspeed + "_K1");
    if (*lines) {
      CHECK(sink.quarantined.empty());
      CHECK(keys[by_code] == pid + "_20250110_" + jspeed + "_K2");
    } else {
      CHECK(keys.count(by_code) == 0);
      REQUIRE(sink.quarantined.size() == 1);
      const std::string reason = sink.quarantined.begin()->second;
      CHECK_MESSAGE(reason.find("names the type by its standard code 74465-6") != std::string::npos, reason);
      CHECK_MESSAGE(
          reason.find("add standard_code to extended_type_field in the source's profile") != std::string::npos, reason);
    }
  }
}
