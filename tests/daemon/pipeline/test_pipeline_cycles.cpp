// Whole cycles of the pipeline in one process (tests/daemon/pipeline/pipeline_fixture.hpp): the
// opt-out guarantees under a changing stop list, and delivery faults.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>

#include "daemon/gate/eligibility.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/spool/sqlite.hpp"
#include "daemon/telemetry/health.hpp"
#include "tests/daemon/pipeline/pipeline_fixture.hpp"

using namespace sennen;
using namespace sennen::pipeline::testing;

namespace {
bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}
std::size_t count(const std::vector<std::string>& v, const std::string& x) {
  return static_cast<std::size_t>(std::count(v.begin(), v.end(), x));
}
}  // namespace

TEST_CASE("pipeline: a stop-list file emptied, garbled or missing releases nobody; only an operator does") {
  Site site;
  site.add_record("1", "a", "one");
  site.add_record("2", "a", "two");
  site.set_stop_list("1\n");
  auto p = site.start();
  CHECK(run(*p).ok());
  CHECK(site.receiver.record_paths() == std::vector<std::string>{"emr:2_a"});
  CHECK(site.receiver.withdrawn() == std::vector<std::string>{"1"});
  site.add_record("1", "b", "one again");  // written after the stop: held

  SUBCASE("emptied") { site.set_stop_list(""); }
  SUBCASE("garbage, with unreadable lines allowed") {
    site.cfg.optout.allow_unreadable_lines = true;
    p = site.start();
    site.set_stop_list("患者ID\n山田 太郎\n\x82\xa0\x82\xa2\n1 2 3\n");
  }
  SUBCASE("another list, without the patient") { site.set_stop_list("77\n78\n"); }

  auto r = run(*p);
  CHECK_FALSE(r.ok());  // the site needs attention
  CHECK(mentions(r, "no longer in the stop list"));
  CHECK_FALSE(has(site.receiver.record_paths(), "emr:1_a"));
  CHECK_FALSE(has(site.receiver.record_paths(), "emr:1_b"));
  auto hb = p->snapshot();
  CHECK(hb.gate.retained == 1);
  CHECK_FALSE(hb.gate.attention.empty());
  CHECK(count(site.receiver.withdrawn(), "1") == 1);

  // The right file comes back: no second withdrawal (77 and 78 are the other list's, kept too).
  site.cfg.optout.allow_unreadable_lines = false;
  p = site.start();
  site.set_stop_list("1\n77\n78\n");
  CHECK(run(*p).ok());
  CHECK(count(site.receiver.withdrawn(), "1") == 1);
  CHECK(p->snapshot().gate.retained == 0);
}

TEST_CASE("pipeline: a missing stop list pauses sealing; the IDs applied before stay stopped after a restart") {
  Site site;
  site.set_stop_list("1\n");
  auto p = site.start();
  CHECK(run(*p).ok());
  std::filesystem::remove(site.cfg.optout.stop_list);
  site.add_record("1", "a", "one");
  site.add_record("2", "a", "two");
  p = site.start();  // a restart: the file has not been read yet
  auto r = run(*p);
  CHECK(mentions(r, "cannot load the stop list"));
  CHECK(site.receiver.record_paths().empty());  // paused: nothing at all leaves
  site.set_stop_list("");                       // back, but emptied: 1 is retained
  CHECK_FALSE(run(*p).ok());
  CHECK(site.receiver.record_paths() == std::vector<std::string>{"emr:2_a"});
}

TEST_CASE("pipeline: released by an operator, a patient's held records go out once") {
  Site site;
  site.add_record("1", "a", "one");
  site.set_stop_list("1\n");
  auto p = site.start();
  run(*p);
  site.set_stop_list("");
  run(*p);
  CHECK(site.receiver.record_paths().empty());
  {
    spool::Spool s(site.cfg.state_dir);  // as sennen-edgectl optout release does
    CHECK(s.release_stop("1", "tester", "patient withdrew the opt-out", 100));
  }
  CHECK(run(*p).ok());
  CHECK(site.receiver.record_paths() == std::vector<std::string>{"emr:1_a"});
  auto hb = p->snapshot();
  CHECK(hb.gate.releases_total == 1);
  CHECK(hb.gate.retained == 0);
  CHECK(run(*p).ok());
  CHECK(count(site.receiver.record_paths(), "emr:1_a") == 1);
}

TEST_CASE("pipeline: a patient stopped while batches are being delivered: later batches holding them never leave") {
  Site site;  // one record per batch
  site.add_record("1", "a", "one");
  site.add_record("2", "b", "two");
  site.add_record("3", "c", "three");
  int delivered = 0;
  site.receiver.on_deliver = [&](const BatchFile&) {
    if (++delivered == 1) site.set_stop_list("2\n");  // staff add patient 2 while the first batch uploads
    return DeliveryResult::delivered();
  };
  auto p = site.start();
  run(*p);
  run(*p);
  const auto paths = site.receiver.record_paths();
  CHECK(has(paths, "emr:1_a"));
  CHECK(has(paths, "emr:3_c"));
  CHECK_FALSE(has(paths, "emr:2_b"));
  CHECK(site.receiver.withdrawn() == std::vector<std::string>{"2"});
}

TEST_CASE("pipeline: a batch voided before delivery is abandoned at the destination first") {
  Site site;
  site.add_record("1", "a", "one");
  site.add_record("2", "b", "two");
  // Both deliveries fail (a kill in the middle of the copy leaves a temp file at a local destination).
  site.receiver.on_deliver = [](const BatchFile&) { return DeliveryResult::retry("connection reset (test)"); };
  {
    auto p = site.start();
    run(*p);
  }
  REQUIRE(site.receiver.received.empty());
  site.receiver.on_deliver = nullptr;
  std::vector<std::string> sealed;
  for (const auto& f : site.outbox_files()) sealed.push_back(f.stem().string());
  REQUIRE(sealed.size() == 2);
  std::filesystem::remove(site.cfg.state_dir / "outbox" / (sealed[1] + ".cms"));  // the second's file is gone
  site.set_stop_list("1\n");  // the first holds a patient now stopped

  auto p = site.start();
  CHECK(site.receiver.abandoned == std::vector<std::string>{sealed[1]});  // at start-up: its file is gone
  run(*p);
  CHECK(site.receiver.abandoned == std::vector<std::string>{sealed[1], sealed[0]});  // then the one holding patient 1
  CHECK(site.receiver.record_paths() == std::vector<std::string>{"emr:2_b"});
}

TEST_CASE("pipeline: a voided batch never sends an old version after a newer one went out") {
  Site site;
  site.cfg.batch.max_bytes = 64 << 20;  // a cycle's records in one batch
  site.add_record("1", "a", "one");
  site.add_record("2", "k.v1", "version 1");
  site.receiver.on_deliver = [](const BatchFile&) { return DeliveryResult::retry("receiver down (test)"); };
  auto p = site.start();
  run(*p);  // batch 1: 1_a and version 1 of 2_k, waiting
  site.add_record("2", "k.v2", "version 2");
  run(*p);  // batch 2: version 2, waiting behind it
  site.receiver.on_deliver = nullptr;
  site.set_stop_list("1\n");  // batch 1 is voided (patient 1 in it)
  site.clock.advance(std::chrono::hours(1));
  run(*p);
  run(*p);
  const auto paths = site.receiver.record_paths();
  CHECK(paths == std::vector<std::string>{"emr:2_k.v2"});  // version 1 is superseded: never sent after it
  CHECK(site.receiver.withdrawn() == std::vector<std::string>{"1"});
}

TEST_CASE("pipeline: a batch the destination already has counts as delivered when a patient in it is stopped") {
  Site site;
  site.cfg.batch.max_bytes = 64 << 20;  // both records in one batch
  site.add_record("1", "a", "one");
  site.add_record("2", "b", "two");
  // The batch is stored, but the answer is lost (as if the box died right after the marker went up).
  site.receiver.keep_even_if_failing = true;
  site.receiver.on_deliver = [](const BatchFile&) { return DeliveryResult::retry("connection reset (test)"); };
  {
    auto p = site.start();
    run(*p);
  }
  REQUIRE(site.receiver.received.size() == 1);
  site.receiver.keep_even_if_failing = false;
  site.receiver.on_deliver = nullptr;
  site.set_stop_list("2\n");  // then patient 2 opts out

  SUBCASE("the destination says it has it") {
    auto p = site.start();  // after a restart
    CHECK(run(*p).ok());
    CHECK(site.receiver.presence_asked >= 1);
    CHECK(count(site.receiver.record_paths(), "emr:1_a") == 1);  // not voided and sent again
    CHECK(site.receiver.withdrawn() == std::vector<std::string>{"2"});
  }
  SUBCASE("the destination cannot say: the batch waits, unsent") {
    site.receiver.presence_unknown = true;
    auto p = site.start();
    CHECK_FALSE(run(*p).ok());
    CHECK(site.receiver.received.size() == 1);
    site.receiver.presence_unknown = false;
    site.clock.advance(std::chrono::hours(1));
    CHECK(deliver_only(*p).ok());
    CHECK(count(site.receiver.record_paths(), "emr:1_a") == 1);
    CHECK(site.receiver.withdrawn() == std::vector<std::string>{"2"});
  }
}

TEST_CASE("pipeline: a receiver that is back is used at the next probe, not at the end of the backoff") {
  Site site;
  site.add_record("1", "a", "one");
  int failures = 3;
  site.receiver.on_deliver = [&](const BatchFile&) {
    return failures-- > 0 ? DeliveryResult::retry("503 (test)") : DeliveryResult::delivered();
  };
  auto p = site.start();
  run(*p);                       // fails once; the wait is up to 30 s
  for (int i = 0; i < 2; ++i) {  // two more failures: the wait grows to up to 120 s
    site.clock.advance(std::chrono::minutes(5));
    deliver_only(*p);
  }
  REQUIRE(site.receiver.received.empty());
  const auto now = site.clock.now();
  auto next = p->next_delivery_at();
  REQUIRE(next);
  CHECK(*next <= now + std::chrono::seconds(15));  // the probe, however long the backoff
  site.clock.advance(std::chrono::seconds(15));
  CHECK(deliver_only(*p).ok());
  CHECK(site.receiver.record_paths() == std::vector<std::string>{"emr:1_a"});
}

TEST_CASE("pipeline: a heartbeat the destination refuses fails the cycle") {
  Site site;
  site.receiver.heartbeat_fails = true;
  auto p = site.start();
  auto r = run(*p);
  CHECK(mentions(r, "heartbeat not delivered"));
}

TEST_CASE("pipeline: a batch whose sealing failed and could not be undone is sealed again without a restart") {
  Site site;
  site.add_record("1", "a", "one");
  auto p = site.start();
  // The spool refuses to record the batch as sealed, and then to void it (as a full disk can).
  sqlite::Connection db(site.cfg.state_dir / "spool.db");
  db.exec(
      "CREATE TRIGGER full BEFORE UPDATE OF state ON spool_batches BEGIN SELECT RAISE(ABORT, 'database or disk is "
      "full (test)'); END");
  CHECK(mentions(run(*p), "database or disk is full (test)"));
  CHECK(site.receiver.received.empty());
  db.exec("DROP TRIGGER full");  // space again
  site.clock.advance(std::chrono::minutes(1));
  CHECK(run(*p).ok());
  CHECK(site.receiver.record_paths() == std::vector<std::string>{"emr:1_a"});
  CHECK(site.outbox_files().empty());
}

TEST_CASE("pipeline: a held record whose source cannot be looked at now stays held; it is not taken for gone") {
  Site site;
  site.set_stop_list("1\n");
  site.add_record("1", "a", "one");
  auto p = site.start();
  run(*p);  // held: patient 1 is stopped
  REQUIRE(site.receiver.record_paths().empty());
  // The patient withdraws the opt-out: staff take the ID out and an operator confirms.
  site.set_stop_list("");
  REQUIRE(spool::Spool(site.cfg.state_dir).release_stop("1", "test", "withdrew the opt-out", 1));

  SUBCASE("the share is offline") {
    std::filesystem::rename(site.source_folder(), site.dir / "offline");
    CHECK(mentions(run(*p), "source emr: "));  // the poll fails; the release must not drop the record
    CHECK(site.receiver.record_paths().empty());
    std::filesystem::rename(site.dir / "offline", site.source_folder());
  }
  SUBCASE("the source is left out of the configuration for a while") {
    const auto sources = site.cfg.sources;
    site.cfg.sources.clear();
    p = site.start();
    run(*p);
    CHECK(site.receiver.record_paths().empty());
    site.cfg.sources = sources;
    p = site.start();
  }
  CHECK(run(*p).ok());
  CHECK(site.receiver.record_paths() == std::vector<std::string>{"emr:1_a"});
}

TEST_CASE("pipeline: a clock stepped back does not put off a source's full scans") {
  struct Hourly final : config::SourceOptions {
    std::optional<std::chrono::seconds> full_scan_every() const override { return std::chrono::hours(1); }
  };
  Site site;
  site.cfg.sources[0].options = std::make_shared<Hourly>();
  auto p = site.start();
  run(*p);  // never scanned in full: due
  site.clock.advance(std::chrono::minutes(10));
  run(*p);
  site.clock.set(site.clock.now() - std::chrono::hours(24));  // the clock is stepped back a day
  run(*p);  // the last full scan is dated ahead of now: due, or it would wait a day
  site.clock.advance(std::chrono::minutes(10));
  run(*p);
  site.clock.advance(std::chrono::hours(1));
  run(*p);
  CHECK(site.polls == std::vector<bool>{true, false, true, false, true});
}

TEST_CASE("pipeline: a waiting batch whose outbox file is lost or cut short is sealed again without a restart") {
  Site site;
  site.add_record("1", "a", "one");
  site.add_record("2", "b", "two");
  site.receiver.on_deliver = receiver_down;
  auto p = site.start();
  run(*p);  // two batches wait
  const auto files = site.outbox_files();
  REQUIRE(files.size() == 2);
  SUBCASE("lost") { std::filesystem::remove(files[0]); }
  SUBCASE("cut short") { std::filesystem::resize_file(files[0], 100); }
  site.receiver.on_deliver = nullptr;  // the receiver is back
  site.clock.advance(std::chrono::hours(1));
  run(*p);
  run(*p);
  CHECK(site.receiver.abandoned == std::vector<std::string>{files[0].stem().string()});
  auto paths = site.receiver.record_paths();
  std::sort(paths.begin(), paths.end());
  CHECK(paths == std::vector<std::string>{"emr:1_a", "emr:2_b"});
}

TEST_CASE("pipeline: a waiting batch of a patient not notified under a stricter rule is voided, the record held") {
  Site site;
  const int today = gate::Gate(std::nullopt, site.cfg.site.utc_offset_minutes).today(site.clock.now());
  auto date = [](int day) {
    const std::chrono::year_month_day d{std::chrono::sys_days(std::chrono::days(day))};
    return config::Date{static_cast<int>(d.year()), static_cast<int>(static_cast<unsigned>(d.month())),
                        static_cast<int>(static_cast<unsigned>(d.day()))};
  };
  site.cfg.optout.notification = config::Notification{date(today - 60), 30};
  site.add_record("1", "a~" + gate::yyyymmdd(today - 50), "one");  // visited 50 days ago: eligible
  site.receiver.on_deliver = receiver_down;
  auto p = site.start();
  run(*p);
  REQUIRE(site.outbox_files().size() == 1);
  const std::string waiting = site.outbox_files()[0].stem().string();
  // The hospital makes the rule stricter (90 days) and restarts the service.
  site.cfg.optout.notification->wait_days = 90;
  site.receiver.on_deliver = nullptr;
  site.clock.advance(std::chrono::hours(1));
  p = site.start();
  run(*p);
  run(*p);
  CHECK(site.receiver.received.empty());
  CHECK(site.receiver.abandoned == std::vector<std::string>{waiting});
  CHECK(site.outbox_files().empty());
  // Eligible under the new rule 40 days on: then it leaves, once.
  site.clock.advance(std::chrono::hours(24 * 41));
  run(*p);
  run(*p);
  CHECK(site.receiver.record_paths() == std::vector<std::string>{"emr:1_a~" + gate::yyyymmdd(today - 50)});
}

TEST_CASE("pipeline: what a kill leaves behind is cleared at the next start") {
  Site site;
  site.add_record("1", "a", "one");
  auto p = site.start();
  REQUIRE(run(*p).ok());
  REQUIRE(site.receiver.received.size() == 1);
  const std::string delivered = site.receiver.received[0].batch_id;
  const auto outbox = site.cfg.state_dir / "outbox";
  // A kill between the spool's record of the delivery and the removal of the outbox copy, an s3
  // upload state and a heartbeat temp file of the same moment.
  sennen::test::write_file(outbox / (delivered + ".cms"), "sealed bytes");
  sennen::test::write_file(outbox / (delivered + ".s3upload"), "{}");
  sennen::test::write_file(site.cfg.state_dir / "heartbeat.json.tmp-4242", "{\"half");
  p.reset();
  p = site.start();
  CHECK_FALSE(std::filesystem::exists(outbox / (delivered + ".cms")));
  CHECK_FALSE(std::filesystem::exists(outbox / (delivered + ".s3upload")));
  CHECK_FALSE(std::filesystem::exists(site.cfg.state_dir / "heartbeat.json.tmp-4242"));
  CHECK(run(*p).ok());
  CHECK(site.receiver.received.size() == 1);
}

TEST_CASE("pipeline: a sealed batch whose outbox file is gone counts as delivered if the destination has it") {
  Site site;
  site.add_record("1", "a", "one");
  site.receiver.keep_even_if_failing = true;  // stored, answer lost
  site.receiver.on_deliver = [](const BatchFile&) { return DeliveryResult::retry("connection reset (test)"); };
  auto p = site.start();
  run(*p);
  REQUIRE(site.receiver.received.size() == 1);
  for (const auto& f : site.outbox_files()) std::filesystem::remove(f);
  site.receiver.on_deliver = nullptr;
  site.receiver.keep_even_if_failing = false;
  p.reset();
  p = site.start();
  CHECK(run(*p).ok());
  CHECK(site.receiver.record_paths() == std::vector<std::string>{"emr:1_a"});  // not sealed and sent again
}

TEST_CASE("pipeline: starts after runs that did not end cleanly are counted; three within an hour is a crash loop") {
  Site site;
  auto killed = [&] {  // the run's record as a kill -9 leaves it: open
    spool::Spool s(site.cfg.state_dir);
    s.set_counter("run_open", 1);
  };
  for (int i = 0; i < 3; ++i) {
    auto p = site.start();
    CHECK(p->snapshot().abnormal_starts_in_window == i);
    p.reset();
    killed();
    site.clock.advance(std::chrono::minutes(5));
  }
  auto p = site.start();
  auto hb = p->snapshot();
  CHECK(hb.abnormal_starts_in_window == 3);
  const auto problems = telemetry::assess(hb);
  CHECK(std::any_of(problems.begin(), problems.end(), [](const auto& x) { return x.code == "crash_loop"; }));
  p.reset();  // a clean stop
  site.clock.advance(std::chrono::hours(2));
  p = site.start();
  CHECK(p->snapshot().abnormal_starts_in_window == 0);  // a clean stop before, and the window has passed
}
