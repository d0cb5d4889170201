// One process per state_dir: the pid lock is exclusive, names its holder, and a file left behind
// by a holder that is gone blocks nobody.
#include <doctest/doctest.h>
#include <unistd.h>

#include "daemon/util/instance_lock.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;

TEST_CASE("the lock is exclusive and names its holder until released") {
  test::TempDir dir;
  const auto state = dir / "state";  // created by the lock
  CHECK_FALSE(util::lock_holder(state));
  {
    auto lock = util::InstanceLock::try_acquire(state);
    REQUIRE(lock);
    // flock(2) locks belong to an open file: a second acquisition conflicts even in this process.
    CHECK_FALSE(util::InstanceLock::try_acquire(state));
    CHECK(util::lock_holder(state) == ::getpid());
  }
  CHECK(std::filesystem::exists(state / util::kPidFile));  // left behind, as after a crash
  CHECK_FALSE(util::lock_holder(state));
  CHECK(util::InstanceLock::try_acquire(state));
}
