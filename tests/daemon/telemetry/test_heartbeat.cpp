// heartbeat.json as docs/heartbeat-format.md describes it: the fields the central team's fleet
// view relies on, and when the site reports itself failing.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "daemon/telemetry/heartbeat.hpp"

using namespace sennen;
using nlohmann::json;

namespace {
constexpr std::int64_t kNow = 1795608000;  // 2026-11-25T...

telemetry::HeartbeatInput healthy() {
  telemetry::HeartbeatInput in;
  in.site_id = "1312345678";
  in.site_name = "Test";
  in.now = kNow;
  in.started_at = kNow - 3600;
  in.destination = "https https://ingest.example.jp/sennen";
  in.destination_last_success = kNow - 60;
  in.bytes_pending = 3000;
  in.oldest_batch_at = kNow - 7200;
  in.upload_window = "01:00-05:00";
  in.upload_window_open = false;
  in.next_window_open = kNow + 3600;
  in.depth.ready_bytes = 700;
  in.depth.batched_bytes = 300;
  in.flow = {1000, 20000, 3000, 4000, "", ""};
  in.certificates = {{"client", "/etc/sennen-edge/site.crt", kNow + 45 * 86400, 45, ""},
                     {"signer", "/etc/sennen-edge/signer.crt", kNow + 400 * 86400, 400, ""}};
  in.state_dir_free_bytes = 5000;
  in.state_dir_total_bytes = 9000;
  in.config_sha256 = std::string(64, 'a');
  return in;
}

json beat(const telemetry::HeartbeatInput& in, telemetry::Audience a = telemetry::Audience::central) {
  return json::parse(telemetry::heartbeat_json(in, a));
}
}  // namespace

TEST_CASE("heartbeat: a healthy site carries identity, destination status, caps and certificates") {
  auto j = beat(healthy());
  CHECK(j["format"] == "sennen-edge-heartbeat/1");
  CHECK(j["status"] == "ok");
  CHECK(j["config_sha256"] == std::string(64, 'a'));
  CHECK(j["version"].is_string());
  const auto& d = j["destination"];
  CHECK(d["last_error"].is_null());
  CHECK(d["consecutive_failures"] == 0);
  CHECK(d["bytes_pending"] == 3000);
  CHECK(d["oldest_pending_age_seconds"] == 7200);
  CHECK(d["upload_window"] == "01:00-05:00");
  CHECK(d["upload_window_open"] == false);
  CHECK(d["next_window_open"].is_string());
  CHECK(j["spool"]["content_bytes"] == 1000);
  CHECK(j["spool"]["max_bytes"] == 20000);
  CHECK(j["spool"]["intake_paused"].is_null());
  CHECK(j["outbox"] == json{{"bytes", 3000}, {"max_bytes", 4000}, {"sealing_paused", nullptr}});
  CHECK(j["certificates"]["client"]["expires_in_days"] == 45);
  CHECK(j["certificates"]["client"]["error"].is_null());
  CHECK(j["certificates"]["signer"]["expires_in_days"] == 400);
  CHECK(j["certificates"]["signer"]["path"] == "/etc/sennen-edge/signer.crt");
  CHECK(j["certificates"]["signer"]["not_after"].get<std::string>().rfind("2027-", 0) == 0);
  CHECK(j["disk"] ==
        json{{"state_dir_free_bytes", 5000}, {"state_dir_total_bytes", 9000}, {"state_dir_free_needed_bytes", 0}});
  CHECK(j["problems"] == json::array());
}

TEST_CASE("heartbeat: no batch waiting, no window, no client certificate (local destination)") {
  auto in = healthy();
  in.oldest_batch_at = 0;
  in.upload_window.clear();
  in.upload_window_open = true;
  in.next_window_open = 0;
  in.certificates.erase(in.certificates.begin());
  auto j = beat(in);
  CHECK(j["destination"]["oldest_pending_age_seconds"] == 0);
  CHECK(j["destination"]["upload_window"].is_null());
  CHECK(j["destination"]["next_window_open"].is_null());
  CHECK(!j["certificates"].contains("client"));
  CHECK(j["status"] == "ok");
}

TEST_CASE("heartbeat: paused intake makes the site failing; a full outbox alone is reported, not failing") {
  auto in = healthy();
  in.flow.sealing_paused = "outbox holds 4 GiB of its 4 GiB cap (outbox.max_bytes): ...; sealing paused";
  auto j = beat(in);
  CHECK(j["outbox"]["sealing_paused"] == in.flow.sealing_paused);
  CHECK(j["status"] == "ok");  // the window may simply be closed; the fleet view flags the fill level
  in.flow.intake_paused = "spool holds 20 GiB of its 20 GiB cap (spool.max_bytes): ...; intake paused";
  j = beat(in);
  CHECK(j["spool"]["intake_paused"] == in.flow.intake_paused);
  CHECK(j["status"] == "failing");
}

TEST_CASE("heartbeat: an unreadable certificate is an error field and makes the site failing") {
  auto in = healthy();
  in.certificates[1] = {"signer", "/etc/sennen-edge/signer.crt", 0, 0, "cannot open /etc/sennen-edge/signer.crt"};
  auto j = beat(in);
  CHECK(j["certificates"]["signer"]["error"] == "cannot open /etc/sennen-edge/signer.crt");
  CHECK(j["certificates"]["signer"]["expires_in_days"].is_null());
  CHECK(j["certificates"]["client"]["expires_in_days"] == 45);
  CHECK(j["status"] == "failing");
}

TEST_CASE("heartbeat: a failing destination reports its error and failures") {
  auto in = healthy();
  in.destination_error = "HTTP 403 Forbidden";
  in.destination_consecutive_failures = 4;
  in.destination_next_attempt_at = kNow + 120;
  auto j = beat(in);
  CHECK(j["status"] == "failing");
  CHECK(j["destination"]["last_error"] == "HTTP 403 Forbidden");
  CHECK(j["destination"]["consecutive_failures"] == 4);
  CHECK(j["destination"]["next_attempt_at"].is_string());
  CHECK(j["destination"]["last_success"].is_string());
}

TEST_CASE("heartbeat: a source names the paths it cannot read, and counts what it never opens") {
  auto in = healthy();
  telemetry::SourceStatus s{"emr", "ssmix2", kNow - 10, kNow - 10, {}, ""};
  s.stats.add_unreadable("/srv/ssmix2/std/000/001/0000012345/20250110");
  s.stats.add_unreadable("/srv/ssmix2/std/000/002/0000022222/20250111/OMP-01/x_1");
  s.stats.skipped = 3;
  in.sources.push_back(s);
  auto j = beat(in, telemetry::Audience::box);
  const auto& src = j["sources"][0];
  CHECK(src["unreadable"] == 2);
  CHECK(src["unreadable_paths"] ==
        json{"/srv/ssmix2/std/000/001/0000012345/20250110", "/srv/ssmix2/std/000/002/0000022222/20250111/OMP-01/x_1"});
  CHECK(src["skipped"] == 3);
  CHECK(j["status"] == "failing");
  CHECK(j["problems"][0]["code"] == "unreadable");
  // The central side gets the count, not the paths (they name patients' folders).
  const auto central = beat(in);
  CHECK(central["sources"][0]["unreadable"] == 2);
  CHECK(central["sources"][0]["unreadable_paths"].is_null());
  CHECK(central.dump().find("0000012345") == std::string::npos);

  for (int i = 0; i < 20; ++i) s.stats.add_unreadable("/srv/x/" + std::to_string(i));
  in.sources = {s};
  j = beat(in, telemetry::Audience::box);
  CHECK(j["sources"][0]["unreadable"] == 22);
  CHECK(j["sources"][0]["unreadable_paths"].size() == SourceStats::kListed);
}

TEST_CASE("heartbeat: a drop folder's care-month calendar, by kind and month; a missing month makes it failing") {
  auto in = healthy();
  telemetry::SourceStatus s{"monthly", "dropbox", kNow - 10, kNow - 10, {}, ""};
  s.stats.months["uke-medical"] = {{"2025-01", kMonthArrived}, {"2025-02", kMonthNotDue}};
  in.sources.push_back(s);
  auto j = beat(in);
  CHECK(j["sources"][0]["months"] == json{{"uke-medical", {{"2025-01", "arrived"}, {"2025-02", "not due"}}}});
  CHECK(j["status"] == "ok");
  in.sources[0].stats.months["dpc"]["2025-01"] = kMonthMissing;
  j = beat(in);
  CHECK(j["sources"][0]["months"]["dpc"]["2025-01"] == "missing");
  CHECK(j["status"] == "failing");
  CHECK(j["problems"][0]["code"] == "missing_month");
}

TEST_CASE("heartbeat: errors quoting names that are not UTF-8 are one line each, never an exception") {
  // A source's error quotes a folder of the export tree: CP932 bytes and a newline.
  auto in = healthy();
  telemetry::SourceStatus s;
  s.name = "emr";
  s.type = "ssmix2";
  s.last_error = "cannot read directory /srv/std/\x83\x65\x83\x58\x83\x67\n<0>emergency: \xff";
  in.sources = {s};
  in.destination_error = "bad\rline";
  auto j = beat(in);
  CHECK(j["sources"][0]["last_error"] == "cannot read directory /srv/std/\\x83e\\x83X\\x83g\\x0a<0>emergency: \\xff");
  CHECK(j["destination"]["last_error"] == "bad\\x0dline");
  CHECK(j["status"] == "failing");
}

// Issue 15: "a restore today would have everything up to T", per source and for the site; records
// held by the gate are counted apart and never make it older.
TEST_CASE("heartbeat: recovery point per source and overall, held records counted apart") {
  auto in = healthy();
  telemetry::SourceStatus emr{"emr", "ssmix2", kNow - 30, kNow - 30, {}, {}};
  telemetry::SourceStatus ext{"emr-ext", "ssmix2-extended", kNow - 20, kNow - 20, {}, {}};
  in.sources = {emr, ext};
  in.depth.ready = 2;
  in.depth.held_stopped = 5;
  in.depth.sources["emr"] = {2, kNow - 600, 5, 0};  // two records waiting since 10 min ago
  in.depth.sources["emr-ext"] = {0, 0, 0, 3};       // held only: all that may leave has left
  json j = beat(in);
  CHECK(j["sources"][0]["recovery_point"]["time"] == "2026-11-25T11:50:00Z");
  CHECK(j["sources"][0]["recovery_point"]["pending"] == 2);
  CHECK(j["sources"][0]["recovery_point"]["withheld_stopped"] == 5);
  CHECK(j["sources"][1]["recovery_point"]["time"] == "2026-11-25T11:59:40Z");  // its last successful poll
  CHECK(j["sources"][1]["recovery_point"]["withheld_not_notified"] == 3);
  CHECK(j["recovery_point"]["time"] == "2026-11-25T11:50:00Z");  // the older of the two
  CHECK(j["recovery_point"]["age_seconds"] == 600);
  CHECK(j["recovery_point"]["withheld_stopped"] == 5);
  in.sources[1].last_success = 0;  // never polled successfully since the start, nothing waiting
  j = beat(in);
  CHECK(j["sources"][1]["recovery_point"]["time"].is_null());
  CHECK(j["recovery_point"]["time"].is_null());
  CHECK(j["recovery_point"]["age_seconds"].is_null());
}

TEST_CASE("heartbeat: coverage counts delivered records per document kind and form, with what is expected") {
  auto in = healthy();
  in.coverage.vendor_profiles = {"generic"};
  in.coverage.expected = {{"lab_results", "structured"}, {"reports", "pdf_jpeg"}};
  in.coverage.delivered = {{"OMP-01", "structured", 5},
                           {"OMP-11", "structured", 2},
                           {"L-PROGRESS^経過記録^99ZL01^11506-3^経過記録^LN", "pdf_jpeg", 3},
                           {"L-OBSERVATIONS^OBSERVATIONS^99ZL01", "structured", 4},
                           {"MML-progressCourse", "structured", 1},
                           {"ADT-12", "structured", 7},
                           {"DICOM-CT", "structured", 9}};
  const auto c = beat(in)["coverage"];
  CHECK(c["window_days"] == 30);
  CHECK(c["vendor_profiles"] == json::array({"generic"}));
  REQUIRE(c["kinds"].size() == 17);
  CHECK(c["kinds"][0]["kind"] == "patient");
  CHECK(c["kinds"][0]["label"] == "患者情報");
  CHECK(c["kinds"][16]["kind"] == "first_visit");
  auto kind = [&](const std::string& id) {
    for (const auto& k : c["kinds"])
      if (k["kind"] == id) return k;
    return json();
  };
  CHECK(kind("prescriptions")["structured"] == 7);
  CHECK(kind("progress_notes")["pdf_jpeg"] == 3);
  CHECK(kind("progress_notes")["structured"] == 1);  // the MML ProgressCourse module
  CHECK(kind("vitals")["structured"] == 4);
  CHECK(kind("lab_results")["structured"] == 0);
  CHECK(kind("lab_results")["expected"] == "structured");
  CHECK(kind("reports")["expected"] == "pdf_jpeg");
  CHECK(kind("patient")["expected"].is_null());
  CHECK(c["other_records"] == 16);  // ADT-12 visits and DICOM are none of the 17
}
