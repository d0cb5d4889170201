#include <doctest/doctest.h>

#include <algorithm>

#include "daemon/telemetry/health.hpp"

using namespace sennen;
using telemetry::assess;

namespace {
std::vector<std::string> codes(const telemetry::HeartbeatInput& in) {
  std::vector<std::string> out;
  for (const auto& p : assess(in)) out.push_back(p.code);
  return out;
}
telemetry::HeartbeatInput healthy() {
  telemetry::HeartbeatInput in;
  in.now = 1'000'000;
  in.state_dir_total_bytes = 100ull << 30;
  in.state_dir_free_bytes = 50ull << 30;
  in.state_dir_free_needed = 128ull << 20;
  in.pending_age_bound = 6 * 3600;
  return in;
}
}  // namespace

TEST_CASE("health: a healthy site has no problem") { CHECK(assess(healthy()).empty()); }

TEST_CASE("health: each failing condition is one problem that says what to do") {
  auto in = healthy();
  SUBCASE("sealing failed") {
    in.sealing_error = "cannot read the signer key /etc/sennen-edge/site.key";
    in.sealing_failures = 2;
    CHECK(codes(in) == std::vector<std::string>{"sealing"});
    CHECK(assess(in)[0].message.find("site.key") != std::string::npos);
  }
  SUBCASE("a record stuck longer than the bound") {
    in.depth.oldest_pending_at = in.now - 7 * 3600;
    CHECK(codes(in) == std::vector<std::string>{"stuck"});
    CHECK(assess(in)[0].message.find("sennen-edgectl queue") != std::string::npos);
  }
  SUBCASE("a sealed batch stuck longer than the bound") {
    in.oldest_batch_at = in.now - 7 * 3600;
    CHECK(codes(in) == std::vector<std::string>{"stuck"});
  }
  SUBCASE("not stuck within the bound") {
    in.depth.oldest_pending_at = in.now - 5 * 3600;
    CHECK(assess(in).empty());
  }
  SUBCASE("less free space than one batch needs") {
    in.state_dir_free_bytes = 0;
    in.state_dir_free_needed_why = "batch.max_bytes plus one ingest transaction";
    CHECK(codes(in) == std::vector<std::string>{"disk"});
    CHECK(assess(in)[0].message.find("0 MiB free") != std::string::npos);
  }
  SUBCASE("a crash loop") {
    in.abnormal_starts_in_window = telemetry::kCrashLoopStarts;
    CHECK(codes(in) == std::vector<std::string>{"crash_loop"});
  }
  SUBCASE("one abnormal start is reported but is not a crash loop") {
    in.abnormal_starts_in_window = 1;
    CHECK(assess(in).empty());
  }
  SUBCASE("the stop list retained IDs awaiting confirmation") {
    in.gate.attention = "2 patient ID(s) are no longer in the stop list";
    CHECK(codes(in) == std::vector<std::string>{"stop_list_retained"});
  }
  SUBCASE("the stop list is unusable") {
    in.gate.paused_reason = "cannot load the stop list";
    CHECK(codes(in) == std::vector<std::string>{"stop_list"});
  }
}

TEST_CASE("health: a source event since the previous poll is a problem naming the peer; older ones only count") {
  auto in = healthy();
  telemetry::SourceStatus s;
  s.name = "modality";
  s.stats.events["associations refused from"]["CT1"] = {3, 0};
  in.sources.push_back(s);
  CHECK(assess(in).empty());
  in.sources[0].stats.events["associations refused from"]["CT1"] = {4, 1};
  CHECK(codes(in) == std::vector<std::string>{"source_event"});
  CHECK(assess(in)[0].message.find("'CT1'") != std::string::npos);
}

TEST_CASE("health: a care month missing past its deadline is a problem naming kind and month; others are not") {
  auto in = healthy();
  telemetry::SourceStatus s;
  s.name = "monthly";
  s.stats.months["uke-medical"] = {
      {"2025-01", kMonthBeforeStart}, {"2025-02", kMonthArrived}, {"2025-03", kMonthNotDue}};
  in.sources.push_back(s);
  CHECK(assess(in).empty());
  in.sources[0].stats.months["dpc"] = {{"2025-02", kMonthMissing}};
  CHECK(codes(in) == std::vector<std::string>{"missing_month"});
  CHECK(assess(in)[0].message.find("dpc 2025-02") != std::string::npos);
  CHECK(assess(in)[0].message.find("uke-medical") == std::string::npos);
}
