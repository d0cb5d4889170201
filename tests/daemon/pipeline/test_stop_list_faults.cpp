// The stop list changing at the moments a fault makes dangerous: while a batch of claims files
// waits and the destination cannot be asked, across a kill, while the spool cannot take the new
// list, while the heartbeat probes a destination that was failing. In each, the newly stopped
// patient's data must not leave.
#include <doctest/doctest.h>

#include "daemon/spool/spool.hpp"
#include "daemon/spool/sqlite.hpp"
#include "tests/daemon/pipeline/pipeline_fixture.hpp"

using namespace sennen;
using namespace sennen::pipeline::testing;

namespace {

// A claims file of patients 1 and 2, sealed while the receiver is down: the batch waits.
std::unique_ptr<pipeline::Pipeline> claims_batch_waiting(Site& site) {
  site.filters["lines"] = filter_lines;
  site.add_record("*lines", "m", "1:one\n2:two\n");
  site.receiver.on_deliver = receiver_down;
  auto p = site.start();
  run(*p);
  REQUIRE(site.receiver.received.empty());
  return p;
}

}  // namespace

TEST_CASE("stop list: a batch of claims files sealed before a patient was stopped never leaves unfiltered") {
  Site site;
  auto p = claims_batch_waiting(site);

  SUBCASE("the destination could not be asked when the patient was stopped") {
    site.set_stop_list("2\n");
    site.receiver.presence_unknown = true;
    site.clock.advance(std::chrono::hours(1));
    run(*p);  // patient 2 stopped; whether the destination has the batch cannot be known
    site.receiver.presence_unknown = false;
  }
  SUBCASE("a kill came after the stop was recorded, before the batch was looked at") {
    p.reset();
    spool::Spool(site.cfg.state_dir).apply_stop_list({"2"}, 1);  // what the killed run had committed
    site.set_stop_list("2\n");
    p = site.start();
  }
  site.receiver.on_deliver = nullptr;  // the receiver is back
  site.clock.advance(std::chrono::hours(1));
  run(*p);
  run(*p);
  CHECK(received_content(site.receiver, "*lines_m") == "1:one\n");
  CHECK(site.receiver.withdrawn() == std::vector<std::string>{"2"});
  CHECK(site.receiver.abandoned.size() == 1);  // the first batch, voided
}

TEST_CASE("stop list: while a new list cannot be applied, nothing leaves on the old one") {
  Site site;
  site.add_record("1", "a", "one");
  site.receiver.on_deliver = receiver_down;
  auto p = site.start();
  run(*p);  // patient 1's batch waits
  REQUIRE(site.receiver.received.empty());
  site.receiver.on_deliver = nullptr;

  // The spool cannot take a new stop (as when state_dir is full): the insert fails.
  sqlite::Connection db(site.cfg.state_dir / "spool.db");
  db.exec(
      "CREATE TRIGGER full BEFORE INSERT ON gate_stops BEGIN SELECT RAISE(ABORT, 'database or disk is full "
      "(test)'); END");
  site.add_record("2", "b", "two");                       // something to seal this cycle
  site.during_poll = [&] { site.set_stop_list("1\n"); };  // staff stop patient 1 meanwhile
  site.clock.advance(std::chrono::hours(1));
  const auto r = run(*p);
  CHECK(site.receiver.received.empty());
  CHECK(mentions(r, "was read but could not be applied (spool: INSERT INTO gate_stops"));
  CHECK(mentions(r, "database or disk is full (test)); nothing is sealed or delivered until it is"));

  site.during_poll = nullptr;
  CHECK(mentions(deliver_only(*p), "could not be applied"));  // still failing: still nothing
  CHECK(site.receiver.received.empty());

  db.exec("DROP TRIGGER full");  // space again
  CHECK(run(*p).ok());
  CHECK(site.receiver.record_paths() == std::vector<std::string>{"emr:2_b"});
  CHECK(site.receiver.withdrawn() == std::vector<std::string>{"1"});
}

TEST_CASE("stop list: a patient stopped while the heartbeat probes the destination is not sent") {
  Site site;
  site.add_record("1", "a", "one");
  site.receiver.on_deliver = receiver_down;
  auto p = site.start();
  run(*p);
  // Fail until the probe is due before the next attempt (the backoff's wait is random).
  for (int tries = 0;; ++tries) {
    REQUIRE(tries < 30);
    const auto next = p->next_delivery_at();
    REQUIRE(next);
    if (p->snapshot().destination_next_attempt_at >
        std::chrono::floor<std::chrono::seconds>(*next).time_since_epoch().count()) {
      site.clock.set(*next);
      break;
    }
    site.clock.set(*next + std::chrono::seconds(1));
    deliver_only(*p);
  }
  REQUIRE(site.receiver.received.empty());
  const int heartbeats = site.receiver.heartbeats;
  site.receiver.on_deliver = nullptr;                                   // the receiver is back
  site.receiver.during_heartbeat = [&] { site.set_stop_list("1\n"); };  // staff stop patient 1 meanwhile
  deliver_only(*p);
  REQUIRE(site.receiver.heartbeats > heartbeats + 1);  // the probe, then the cycle's own heartbeat
  CHECK(site.receiver.received.empty());
  CHECK(site.receiver.abandoned.size() == 1);
}
