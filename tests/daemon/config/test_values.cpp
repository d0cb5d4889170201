// Scalar syntax: durations, sizes, dates, UTC offsets, and how problems are printed.
#include <doctest/doctest.h>

#include <ctime>

#include "daemon/config/config.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen::config;
using std::chrono::seconds;

TEST_CASE("parse_duration: units, bare seconds and rejects") {
  CHECK(parse_duration("60s") == seconds(60));
  CHECK(parse_duration("5m") == seconds(300));
  CHECK(parse_duration("2h") == seconds(7200));
  CHECK(parse_duration("1d") == seconds(86400));
  CHECK(parse_duration("90") == seconds(90));
  CHECK(parse_duration("0") == seconds(0));  // syntax is fine; callers decide whether 0 is allowed
  CHECK(parse_duration("0s") == seconds(0));
  CHECK(parse_duration("30 s") == seconds(30));
  CHECK(parse_duration("007m") == seconds(420));
  for (const char* bad : {"", "s", "60 seconds", "60sec", "1.5h", "-5s", "+5s", "5M", "5H", "1h30m", " 5s", "5s ", "5 ",
                          "1w", "99999999999999999999s", "9223372036854775807d"})
    CHECK_MESSAGE(!parse_duration(bad), bad);
}

TEST_CASE("parse_size: decimal and binary units, bare bytes, overflow") {
  CHECK(parse_size("64MiB") == 64ull << 20);
  CHECK(parse_size("1GiB") == 1ull << 30);
  CHECK(parse_size("500KB") == 500000ull);
  CHECK(parse_size("1048576") == 1048576ull);
  CHECK(parse_size("2MB") == 2000000ull);
  CHECK(parse_size("3KiB") == 3072ull);
  CHECK(parse_size("1TiB") == 1ull << 40);
  CHECK(parse_size("7B") == 7ull);
  CHECK(parse_size("64mib") == 64ull << 20);  // case is ignored
  CHECK(parse_size("64 MiB") == 64ull << 20);
  CHECK(parse_size("18446744073709551615") == 18446744073709551615ull);
  for (const char* bad :
       {"", "MiB", "64M", "64 megabytes", "1.5GiB", "-1", "64MiB ", "18446744073709551616", "17179869184GiB"})
    CHECK_MESSAGE(!parse_size(bad), bad);
}

TEST_CASE("parse_date accepts only real YYYY-MM-DD dates") {
  CHECK(parse_date("2025-04-01") == Date{2025, 4, 1});
  CHECK(parse_date("2024-02-29") == Date{2024, 2, 29});
  CHECK(parse_date("2000-02-29") == Date{2000, 2, 29});
  for (const char* bad : {"2025-02-29", "1900-02-29", "2025-02-30", "2025-04-31", "2025-13-01", "2025-00-10",
                          "2025-01-00", "2025-4-1", "2025/04/01", "20250401", "2025-04-01T00:00", "", "abcd-ef-gh"})
    CHECK_MESSAGE(!parse_date(bad), bad);
}

TEST_CASE("Date::days_since_epoch matches timegm and Date::iso pads") {
  CHECK(Date{1970, 1, 1}.days_since_epoch() == 0);
  CHECK(Date{1969, 12, 31}.days_since_epoch() == -1);
  CHECK(Date{2000, 3, 1}.days_since_epoch() == 11017);
  // Cross-check a spread of dates (leap years, century rules, month ends) against libc.
  for (const Date d : {Date{2025, 4, 1}, Date{2024, 2, 29}, Date{2024, 3, 1}, Date{1900, 3, 1}, Date{2100, 2, 28},
                       Date{2400, 12, 31}, Date{1999, 12, 31}, Date{1601, 1, 1}}) {
    std::tm tm{};
    tm.tm_year = d.year - 1900;
    tm.tm_mon = d.month - 1;
    tm.tm_mday = d.day;
    CHECK_MESSAGE(d.days_since_epoch() == timegm(&tm) / 86400, d.iso());
  }
  CHECK(Date{2025, 4, 1}.iso() == "2025-04-01");
  CHECK(Date{987, 1, 2}.iso() == "0987-01-02");
}

TEST_CASE("Date::days_since_epoch agrees with date(1)") {
  const std::string out = sennen::test::run_output("date -u -d 2025-04-01 +%s");
  CHECK(Date{2025, 4, 1}.days_since_epoch() == std::stoll(out) / 86400);
}

TEST_CASE("parse_utc_offset: named fixed zones and +HH:MM") {
  CHECK(parse_utc_offset("Asia/Tokyo") == 540);
  CHECK(parse_utc_offset("UTC") == 0);
  CHECK(parse_utc_offset("Etc/UTC") == 0);
  CHECK(parse_utc_offset("+09:00") == 540);
  CHECK(parse_utc_offset("+05:30") == 330);
  CHECK(parse_utc_offset("-03:30") == -210);
  CHECK(parse_utc_offset("+14:00") == 840);
  CHECK(parse_utc_offset("-12:00") == -720);
  for (const char* bad : {"America/New_York", "JST", "asia/tokyo", "+9:00", "+0900", "09:00", "+09:60", "+14:01",
                          "-12:30", "", "+09:00 "})
    CHECK_MESSAGE(!parse_utc_offset(bad), bad);
}

TEST_CASE("Problem::format and ConfigError::what") {
  Problem p{"a.yaml", 12, 20, "sources[0].poll_interval", "bad"};
  CHECK(p.format() == "a.yaml:12:20: sources[0].poll_interval: bad");
  Problem no_line{"a.yaml", 0, 0, "", "cannot open"};
  CHECK(no_line.format() == "a.yaml: cannot open");
  Problem no_key{"a.yaml", 3, 1, "", "YAML syntax error"};
  CHECK(no_key.format() == "a.yaml:3:1: YAML syntax error");
  ConfigError e({p, no_line});
  CHECK(std::string(e.what()) == "a.yaml:12:20: sources[0].poll_interval: bad\na.yaml: cannot open");
  CHECK(e.problems().size() == 2);
  // Callers that catch the project's one error type also catch configuration errors.
  CHECK_THROWS_AS(throw ConfigError({p}), sennen::Error);
}
