// /healthz: healthy while sources poll and nothing waits too long; each failure names its reason.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "daemon/metrics/health.hpp"
#include "daemon/pipeline/flow_control.hpp"
#include "tests/daemon/metrics/fixtures.hpp"

using namespace sennen;
using namespace sennen::metrics;

namespace {
Snapshot running_since(std::int64_t started, std::int64_t emr_success, std::int64_t ext_success) {
  Snapshot s;
  s.started_at = started;
  SourceMetrics emr, ext;
  emr.name = "emr";
  emr.poll_interval_seconds = 60;
  emr.last_success = emr_success;
  ext.name = "ext";
  ext.poll_interval_seconds = 600;
  ext.last_success = ext_success;
  s.sources = {emr, ext};
  return s;
}
const config::Seconds kSixHours{6 * 3600};
}  // namespace

TEST_CASE("recent polls and nothing old pending: 200 with a JSON body") {
  auto h = health(running_since(1000, 9950, 9500), kSixHours, 10000);
  CHECK(h.ok);
  auto j = nlohmann::json::parse(h.json);
  CHECK(j["status"] == "ok");
  CHECK(j["sources"].size() == 2);
  CHECK(j["sources"][0]["seconds_since_success"] == 50);
}

TEST_CASE("a source without a successful poll for three intervals fails, naming the source and its error") {
  auto s = running_since(1000, 10000 - 181, 9500);
  s.sources[0].last_error = "source root /srv/std cannot be read: No such file or directory";
  auto h = health(s, kSixHours, 10000);
  REQUIRE_FALSE(h.ok);
  REQUIRE(h.problems.size() == 1);
  CHECK(h.problems[0].find("source emr") == 0);
  CHECK(h.problems[0].find("cannot be read") != std::string::npos);
  CHECK(nlohmann::json::parse(h.json)["status"] == "failing");
  // Just inside three intervals it is still fine.
  CHECK(health(running_since(1000, 10000 - 180, 9500), kSixHours, 10000).ok);
}

TEST_CASE("before the first poll the clock runs from the start of the service") {
  CHECK(health(running_since(9900, 0, 0), kSixHours, 10000).ok);
  CHECK_FALSE(health(running_since(9000, 0, 0), kSixHours, 10000).ok);
}

TEST_CASE("a long cycle excuses a late poll, unless the last poll failed") {
  auto s = running_since(1000, 5000, 9500);
  s.cycle_running = true;
  CHECK(health(s, kSixHours, 10000).ok);
  s.sources[0].last_error = "gone";
  CHECK_FALSE(health(s, kSixHours, 10000).ok);
}

TEST_CASE("the oldest pending record or outbox batch beyond the bound fails") {
  const std::int64_t now = 100000;
  auto s = running_since(1000, now - 10, now - 10);
  s.depth.oldest_pending_at = now - 6 * 3600 + 10;
  CHECK(health(s, kSixHours, now).ok);
  s.outbox_oldest_at = now - 6 * 3600 - 10;
  s.destination.last_error = "HTTP 403";
  auto h = health(s, kSixHours, now);
  REQUIRE_FALSE(h.ok);
  CHECK(h.problems[0].find("HTTP 403") != std::string::npos);
  CHECK(nlohmann::json::parse(h.json)["oldest_pending_age_seconds"] == 6 * 3600 + 10);
}

TEST_CASE("whatever the heartbeat's assessment found after the last cycle fails /healthz") {
  auto s = running_since(1000, 9990, 9990);
  s.problems = {{"stop_list", "stop list cannot be read"}, {"stuck", "measured live instead"}};
  auto h = health(s, kSixHours, 10000);
  CHECK_FALSE(h.ok);
  CHECK(h.problems == std::vector<std::string>{"stop list cannot be read"});
}

TEST_CASE("max_pending_age: configured, else 6h, or 30h with an upload window") {
  CHECK(pipeline::max_pending_age(metrics::test::two_sources()) == std::chrono::hours(6));
  CHECK(pipeline::max_pending_age(metrics::test::two_sources("schedule: {upload_window: \"01:00-05:00\"}\n")) ==
        std::chrono::hours(30));
  auto cfg = metrics::test::two_sources("metrics: {port: 9465, max_pending_age: 2h}\n");
  CHECK(pipeline::max_pending_age(cfg) == std::chrono::hours(2));
  CHECK(cfg.metrics.port == 9465);
  CHECK(metrics::test::two_sources().metrics.port == 0);
}

TEST_CASE("a bad metrics section is reported with its key") {
  auto problem = [](const std::string& extra) {
    try {
      metrics::test::two_sources(extra);
    } catch (const config::ConfigError& e) {
      return e.problems().at(0).format();
    }
    return std::string("no error");
  };
  CHECK(problem("metrics: {port: 70000}\n").find("metrics.port") != std::string::npos);
  CHECK(problem("metrics: {max_pending_age: soon}\n").find("metrics.max_pending_age") != std::string::npos);
  CHECK(problem("metrics: {prot: 1}\n").find("metrics") != std::string::npos);
}

TEST_CASE("a source error quoting a name that is not UTF-8 still gives a JSON body") {
  auto s = running_since(1000, 10000 - 181, 9500);
  s.sources[0].last_error = "cannot read directory /srv/std/\x83\x65\xff\n";
  auto h = health(s, kSixHours, 10000);
  CHECK_FALSE(h.ok);
  auto j = nlohmann::json::parse(h.json);
  CHECK(j["sources"][0]["last_error"] == "cannot read directory /srv/std/\\x83e\\xff\\x0a");
}
