// A poll stops at its next safe point when the service stops or the spool reaches its cap; the
// state calls go through unchanged, so what the source did so far is kept.
#include <doctest/doctest.h>

#include "daemon/pipeline/poll_guard.hpp"
#include "daemon/spool/spool.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;

TEST_CASE("poll guard: forwards every state call and stays down until the service stops or the spool fills") {
  test::TempDir t;
  spool::Spool spool(t.path());
  auto state = spool.source_state("emr");
  std::atomic<bool> stop{false};
  bool full = false;
  pipeline::PollGuard guard(*state, stop, [&] { return full; });

  guard.put_dir("", {"a", 1, 2, true, false, 3});
  guard.put_unit("a", {"f_1", 10, 1, 1, "ingested"});
  CHECK(guard.child_dirs("").size() == 1);
  CHECK(state->units("a").size() == 1);
  CHECK(guard.unit_count() == 1);
  CHECK_FALSE(guard.halt());

  SUBCASE("the spool fills: the call that notices still goes through, then the source sees stop") {
    full = true;
    guard.put_unit("a", {"g_1", 20, 1, 1, "ingested"});
    CHECK(guard.halt());
    CHECK(guard.halted_by_cap());
    CHECK(state->units("a").size() == 2);
    full = false;  // deliveries made room meanwhile: this poll still ends; the next one goes on
    guard.units("a");
    CHECK(guard.halt());
  }
  SUBCASE("the service stops") {
    stop = true;
    guard.erase_unit("a", "f_1");
    CHECK(guard.halt());
    CHECK_FALSE(guard.halted_by_cap());
    CHECK(state->units("a").empty());
  }
  SUBCASE("a stop already requested is seen before the first call") {
    stop = true;
    pipeline::PollGuard late(*state, stop, [] { return false; });
    CHECK(late.halt());
  }
}
