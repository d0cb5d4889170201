// The collector turns per-cycle reports into totals since start: only polled sources count,
// a failed poll counts as a failure and not as ingest, destination failures are counted once
// each, and phase changes time sealing and delivery.
#include <doctest/doctest.h>

#include "daemon/app/metrics_collector.hpp"
#include "tests/daemon/metrics/fixtures.hpp"

using namespace sennen;
using namespace sennen::metrics;
using metrics::test::polled;
using sennen::app::MetricsCollector;

namespace {
pipeline::CycleResult cycle(std::uint64_t sealed, std::uint64_t delivered, std::uint64_t delivered_bytes = 0) {
  pipeline::CycleResult r;
  r.progress.batches_sealed = sealed;
  r.progress.bytes_sealed = sealed * 100;
  r.progress.batches_delivered = delivered;
  r.progress.bytes_delivered = delivered_bytes;
  return r;
}

const SourceMetrics& source(const Snapshot& s, const std::string& name) {
  for (const auto& m : s.sources)
    if (m.name == name) return m;
  FAIL("no source " << name);
  return s.sources.front();
}

pipeline::Progress phase(const std::string& name, std::uint64_t sealed, std::uint64_t delivered) {
  pipeline::Progress p;
  p.phase = name;
  p.batches_sealed = sealed;
  p.batches_delivered = delivered;
  return p;
}
}  // namespace

TEST_CASE("source counters add up over the polls that ran, and skip what a failed poll rolled back") {
  MetricsCollector c(metrics::test::two_sources(), 1000);
  telemetry::HeartbeatInput in;
  in.now = 1010;
  in.sources = {polled("emr", 1010, 50, 50, 5000, 2), polled("ext", 1010, 7, 7, 700, 0)};
  c.after_cycle(cycle(1, 1), nullptr, in, 0);

  const std::set<std::string> only_emr{"emr"};
  in.now = 1070;
  in.sources[0] = polled("emr", 1070, 53, 3, 300, 1);  // ext keeps its stats from the first poll
  c.after_cycle(cycle(0, 0), &only_emr, in, 0);

  in.now = 1130;
  in.sources[0] = polled("emr", 1130, 0, 9, 900, 0, "source root /srv/std cannot be read");
  in.sources[0].last_success = 1070;
  c.after_cycle(cycle(0, 0), &only_emr, in, 0);

  const Snapshot s = c.snapshot();
  const auto& emr = source(s, "emr");
  CHECK(emr.polls == 3);
  CHECK(emr.poll_failures == 1);
  CHECK(emr.records_ingested == 53);
  CHECK(emr.bytes_ingested == 5300);
  CHECK(emr.quarantined == 3);
  CHECK(emr.files == 53);
  CHECK(emr.last_success == 1070);
  CHECK(emr.last_poll == 1130);
  CHECK(emr.last_error == "source root /srv/std cannot be read");
  const auto& ext = source(s, "ext");
  CHECK(ext.polls == 1);
  CHECK(ext.records_ingested == 7);
  CHECK(ext.poll_interval_seconds == 600);
  CHECK(s.updated_at == 1130);
}

TEST_CASE("each failed delivery is counted once, also when a success came first in the same cycle") {
  MetricsCollector c(metrics::test::two_sources(), 1000);
  telemetry::HeartbeatInput in;
  in.destination = "local /srv/export";
  auto step = [&](std::uint64_t delivered, std::uint64_t consecutive) {
    in.destination_consecutive_failures = consecutive;
    c.after_cycle(cycle(0, delivered, delivered * 10), nullptr, in, 0);
  };
  step(0, 1);  // fail
  step(0, 2);  // fail
  step(0, 2);  // window closed: no attempt
  step(2, 0);  // two delivered
  step(1, 1);  // one delivered, then a failure
  const auto d = c.snapshot().destination;
  CHECK(d.failures == 3);
  CHECK(d.consecutive_failures == 1);
  CHECK(d.batches_delivered == 3);
  CHECK(d.bytes_delivered == 30);
  CHECK(d.name == "local /srv/export");
}

TEST_CASE("sealing and delivery time is measured between phase changes, over the batches they handled") {
  MetricsCollector c(metrics::test::two_sources(), 1000);
  const auto t0 = std::chrono::steady_clock::time_point{};
  using std::chrono::milliseconds;
  c.on_progress(phase("polling emr", 0, 0), t0);
  CHECK(c.snapshot().cycle_running);
  c.on_progress(phase("sealing", 0, 0), t0 + milliseconds(1000));
  c.on_progress(phase("delivering", 4, 0), t0 + milliseconds(3000));
  c.on_progress(phase("delivering", 4, 1), t0 + milliseconds(3500));  // same phase: no new sample
  c.on_progress(phase("idle", 4, 2), t0 + milliseconds(4000));
  // A cycle that seals nothing adds no time to the summary.
  c.on_progress(phase("sealing", 0, 0), t0 + milliseconds(5000));
  c.on_progress(phase("delivering", 0, 0), t0 + milliseconds(9000));
  c.on_progress(phase("idle", 0, 0), t0 + milliseconds(9500));
  const Snapshot s = c.snapshot();
  CHECK_FALSE(s.cycle_running);
  CHECK(s.seal_seconds.count == 4);
  CHECK(s.seal_seconds.sum == doctest::Approx(2.0));
  CHECK(s.upload_seconds.count == 2);
  CHECK(s.upload_seconds.sum == doctest::Approx(1.0));
}

TEST_CASE("a reload keeps the counters of the sources it keeps and drops the others") {
  MetricsCollector c(metrics::test::two_sources(), 1000);
  telemetry::HeartbeatInput in;
  in.sources = {polled("emr", 1010, 5, 5, 50, 0), polled("ext", 1010, 1, 1, 10, 0)};
  c.after_cycle(cycle(0, 0), nullptr, in, 0);
  auto cfg = metrics::test::two_sources();
  cfg.sources.pop_back();
  cfg.sources[0].poll_interval = std::chrono::seconds(5);
  c.reconfigure(cfg);
  const Snapshot s = c.snapshot();
  REQUIRE(s.sources.size() == 1);
  CHECK(s.sources[0].records_ingested == 5);
  CHECK(s.sources[0].poll_interval_seconds == 5);
}
