// The temp files a write cut off left beside its target: only those of that target, only
// AtomicFile's "<target>.tmp-<pid>", never this process's own.
#include <doctest/doctest.h>
#include <unistd.h>

#include <fstream>
#include <initializer_list>
#include <string>

#include "daemon/util/stale_temps.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
namespace fs = std::filesystem;

TEST_CASE("only the target's own temp files of other processes go") {
  test::TempDir dir;
  const std::string own = "a.reason.txt.tmp-" + std::to_string(::getpid());
  for (const std::string& name : std::initializer_list<std::string>{
           "a.reason.txt", "a.reason.txt.tmp-11441", "a.reason.txt.tmp-7", own, "a.reason.txt.tmp-",
           "a.reason.txt.tmp-12x", "b.reason.txt.tmp-11441", "xa.reason.txt.tmp-11441"})
    std::ofstream(dir / name) << "x";
  util::remove_stale_temps(dir / "a.reason.txt");
  CHECK(fs::exists(dir / "a.reason.txt"));
  CHECK_FALSE(fs::exists(dir / "a.reason.txt.tmp-11441"));
  CHECK_FALSE(fs::exists(dir / "a.reason.txt.tmp-7"));
  CHECK(fs::exists(dir / own));  // a write of this process under way
  CHECK(fs::exists(dir / "a.reason.txt.tmp-"));
  CHECK(fs::exists(dir / "a.reason.txt.tmp-12x"));
  CHECK(fs::exists(dir / "b.reason.txt.tmp-11441"));
  CHECK(fs::exists(dir / "xa.reason.txt.tmp-11441"));
  util::remove_stale_temps(dir / "missing" / "a.reason.txt");  // no folder: nothing to do, no error
}
