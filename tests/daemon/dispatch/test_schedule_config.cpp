// The `schedule:` section: defaults, every value form, and each mistake reported at its
// file:line:column with a hint, like the rest of the loader.
#include <doctest/doctest.h>

#include <string>

#include "daemon/config/config.hpp"
#include "tests/support/configuration.hpp"

using namespace sennen::config;
using sennen::test::parse;

namespace {
const std::string kBase =
    "site:\n"                                         // 1
    "  id: \"1312345678\"\n"                          // 2
    "state_dir: /var/lib/sennen-edge\n"               // 3
    "sources:\n"                                      // 4
    "  - name: emr\n"                                 // 5
    "    type: ssmix2\n"                              // 6
    "    root: /srv/ssmix2/std\n"                     // 7
    "optout:\n"                                       // 8
    "  stop_list: /etc/sennen-edge/optout.csv\n"      // 9
    "destination:\n"                                  // 10
    "  type: local\n"                                 // 11
    "  path: /var/lib/sennen-edge/export\n"           // 12
    "encryption:\n"                                   // 13
    "  recipients: [/etc/sennen-edge/central.crt]\n"  // 14
    "  signer_cert: /etc/sennen-edge/site.crt\n"      // 15
    "  signer_key: /etc/sennen-edge/site.key\n";      // 16

// kBase plus a schedule section starting on line 17.
Config with_schedule(const std::string& lines) { return parse(kBase + "schedule:\n" + lines, "s.yaml"); }

Problem only_problem(const std::string& text) {
  try {
    parse(text, "s.yaml");
  } catch (const ConfigError& e) {
    std::string all;
    for (const auto& p : e.problems()) all += p.format() + "\n";
    REQUIRE_MESSAGE(e.problems().size() == 1, all);
    return e.problems()[0];
  }
  FAIL("expected a problem in:\n" << text);
  return {};
}
}  // namespace

TEST_CASE("no schedule: upload at any time, no bandwidth cap, the site's time zone") {
  Config c = parse(kBase, "s.yaml");
  CHECK_FALSE(c.schedule.upload_window.has_value());
  CHECK(c.schedule.bandwidth_bytes_per_second == 0);
  CHECK(c.schedule.utc_offset_minutes == 540);
  Config utc_site = parse("site:\n  timezone: UTC\n" + kBase.substr(std::string("site:\n").size()), "s.yaml");
  CHECK(utc_site.schedule.utc_offset_minutes == 0);
}

TEST_CASE("a full schedule") {
  Config c = with_schedule("  timezone: Asia/Tokyo\n  upload_window: \"01:00-05:00\"\n  bandwidth_limit: 50Mbit\n");
  CHECK(c.schedule.timezone == "Asia/Tokyo");
  CHECK(c.schedule.utc_offset_minutes == 540);
  REQUIRE(c.schedule.upload_window.has_value());
  CHECK(*c.schedule.upload_window == TimeWindow{60, 300});
  CHECK(c.schedule.bandwidth_bytes_per_second == 6250000);

  Config wrap = with_schedule("  timezone: \"-05:00\"\n  upload_window: 22:00-05:00\n");
  CHECK(wrap.schedule.utc_offset_minutes == -300);
  REQUIRE(wrap.schedule.upload_window.has_value());
  CHECK(*wrap.schedule.upload_window == TimeWindow{22 * 60, 5 * 60});

  // The whole day is the same as no window.
  CHECK_FALSE(with_schedule("  upload_window: \"00:00-24:00\"\n").schedule.upload_window.has_value());
  // An empty section is allowed (everything commented out).
  CHECK_FALSE(parse(kBase + "schedule:\n", "s.yaml").schedule.upload_window.has_value());
}

TEST_CASE("time windows") {
  CHECK(parse_time_window("01:00-05:00") == TimeWindow{60, 300});
  CHECK(parse_time_window("22:30-05:15") == TimeWindow{22 * 60 + 30, 5 * 60 + 15});
  CHECK(parse_time_window("00:00-24:00") == TimeWindow{0, 1440});
  CHECK(parse_time_window("23:00-24:00") == TimeWindow{23 * 60, 1440});
  for (const char* bad : {"", "1:00-5:00", "01:00 - 05:00", "25:00-05:00", "01:60-05:00", "24:00-05:00", "01:00-24:01",
                          "01:00-01:00", "00:00-00:00", "01:00-05:00x", "ab:cd-ef:gh", "01.00-05.00"})
    CHECK_MESSAGE(!parse_time_window(bad), bad);
}

TEST_CASE("bandwidth in bits per second, stored as bytes per second") {
  CHECK(parse_bandwidth("50Mbit") == 6250000u);
  CHECK(parse_bandwidth("50M") == 6250000u);
  CHECK(parse_bandwidth("50 Mbit") == 6250000u);
  CHECK(parse_bandwidth("50Mbps") == 6250000u);
  CHECK(parse_bandwidth("50Mbit/s") == 6250000u);
  CHECK(parse_bandwidth("800kbit") == 100000u);
  CHECK(parse_bandwidth("800Kbit") == 100000u);
  CHECK(parse_bandwidth("800k") == 100000u);
  CHECK(parse_bandwidth("1Gbit") == 125000000u);
  CHECK(parse_bandwidth("2G") == 250000000u);
  CHECK(parse_bandwidth("64bit") == 8u);
  CHECK(parse_bandwidth("1bit") == 1u);  // never 0, which would mean "no limit"
  for (const char* bad : {"", "50", "0Mbit", "50MB", "50MiB", "50Mb", "1.5Mbit", "-5Mbit", "50Tbit", "fast",
                          "99999999999999999999Gbit", "50Mbit "})
    CHECK_MESSAGE(!parse_bandwidth(bad), bad);
}

TEST_CASE("schedule mistakes are reported where they are, with what to write") {
  auto p = only_problem(kBase + "schedule:\n  upload_window: \"25:00-05:00\"\n");
  CHECK(p.line == 18);
  CHECK(p.column == 18);
  CHECK(p.key == "schedule.upload_window");
  CHECK(p.message.find("\"01:00-05:00\"") != std::string::npos);

  p = only_problem(kBase + "schedule:\n  upload_window: \"03:00-03:00\"\n");
  CHECK(p.line == 18);
  CHECK(p.message.find("is not a time window") != std::string::npos);

  p = only_problem(kBase + "schedule:\n  bandwidth_limit: 50MB\n");
  CHECK(p.line == 18);
  CHECK(p.column == 20);
  CHECK(p.key == "schedule.bandwidth_limit");
  CHECK(p.message.find("bits per second") != std::string::npos);

  p = only_problem(kBase + "schedule:\n  timezone: Europe/Berlin\n");
  CHECK(p.line == 18);
  CHECK(p.column == 13);
  CHECK(p.key == "schedule.timezone");
  CHECK(p.message.find("+09:00") != std::string::npos);

  p = only_problem(kBase + "schedule:\n  window: \"01:00-05:00\"\n");
  CHECK(p.line == 18);
  CHECK(p.column == 3);
  CHECK(p.message.find("upload_window") != std::string::npos);

  p = only_problem(kBase + "schedule: [01:00-05:00]\n");
  CHECK(p.line == 17);
  CHECK(p.key == "schedule");
}

TEST_CASE("a bandwidth cap below the stall limit is refused for https") {
  std::string https = kBase;
  const std::string local = "  type: local\n  path: /var/lib/sennen-edge/export\n";
  https.replace(https.find(local), local.size(),
                "  type: https\n  url: https://ingest.example.jp/sennen\n"
                "  tls: {ca: ca.crt, cert: site.crt, key: site.key}\n  low_speed_limit: 1MB\n");
  auto p = only_problem(https + "schedule:\n  bandwidth_limit: 4Mbit\n");  // 500 kB/s < 1 MB/s
  CHECK(p.key == "schedule.bandwidth_limit");
  CHECK(p.message.find("low_speed_limit") != std::string::npos);
  CHECK(parse(https + "schedule:\n  bandwidth_limit: 16Mbit\n", "s.yaml").schedule.bandwidth_bytes_per_second ==
        2000000u);
}
