// Folders made so that they outlive a power cut. What is synced cannot be seen without one; these
// check what can: the folders are made whatever exists already, and a failure names the folder.
#include <doctest/doctest.h>

#include <fstream>

#include "daemon/util/durable_dirs.hpp"
#include "daemon/util/error.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
namespace fs = std::filesystem;

TEST_CASE("the missing folders are made, below the anchor and above it, and again changes nothing") {
  test::TempDir dir;
  const fs::path anchor = dir / "export";  // made here too: synced into its parent as it is made
  const fs::path day = anchor / "site01" / "20261205";
  util::create_directories_durably(day, anchor);
  CHECK(fs::is_directory(day));
  std::ofstream(day / "batch.cms") << "kept";
  util::create_directories_durably(day, anchor);  // all there: only synced again
  CHECK(fs::exists(day / "batch.cms"));
  util::create_directories_durably(anchor, anchor);
  CHECK(fs::is_directory(anchor));
  // Spelled with a trailing '/' or a '..' on either side: the same folders.
  util::create_directories_durably(anchor / "site01" / "20261206" / "", anchor.string() + "/");
  util::create_directories_durably(anchor / "site01" / ".." / "site02", anchor);
  CHECK(fs::is_directory(anchor / "site01" / "20261206"));
  CHECK(fs::is_directory(anchor / "site02"));
}

TEST_CASE("a file where a folder must be is named") {
  test::TempDir dir;
  std::ofstream(dir / "site01") << "a file, not a folder";
  const std::string named = "cannot create folder " + (dir / "site01" / "20261205").string();
  CHECK_THROWS_WITH_AS(util::create_directories_durably(dir / "site01" / "20261205", dir.path()),
                       doctest::Contains(named.c_str()), Error);
}

TEST_CASE("a folder outside the anchor is refused, not synced up to the root") {
  test::TempDir dir;
  CHECK_THROWS_WITH_AS(util::create_directories_durably(dir / "elsewhere", dir / "export"),
                       doctest::Contains("is not inside"), Error);
  CHECK_FALSE(fs::exists(dir / "elsewhere"));
}
