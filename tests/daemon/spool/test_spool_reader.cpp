// SpoolReader: the read-only view sennen-edgectl uses while the daemon runs.
#include <doctest/doctest.h>

#include <string>

#include "daemon/util/error.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/spool/spool_reader.hpp"
#include "daemon/spool/sqlite.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {
std::string error_of(const fs::path& dir) {
  try {
    spool::SpoolReader r(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("spool reader: a missing spool is reported and not created") {
  test::TempDir t;
  CHECK(error_of(t.path()).find("has not run") != std::string::npos);
  CHECK_FALSE(fs::exists(t / "spool.db"));
}

TEST_CASE("spool reader: refuses a newer or an older schema instead of migrating") {
  test::TempDir t;
  { spool::Spool s(t.path()); }
  {
    sqlite::Connection db(t / "spool.db");
    db.exec("PRAGMA user_version=" + std::to_string(spool::Spool::kSchemaVersion + 1));
  }
  std::string e = error_of(t.path());
  CHECK(e.find("newer than this sennen-edgectl understands") != std::string::npos);
  {
    sqlite::Connection db(t / "spool.db");
    db.exec("PRAGMA user_version=0");
  }
  e = error_of(t.path());
  CHECK(e.find("older") != std::string::npos);
  sqlite::Connection db(t / "spool.db");
  sqlite::Statement q(db, "PRAGMA user_version");
  q.step();
  CHECK(q.column_int(0) == 0);  // the reader did not migrate
}

TEST_CASE("spool reader: counts agree with the spool, and it cannot write") {
  test::TempDir t;
  spool::Spool s(t.path());
  s.add_quarantine("emr", "a/b", "not HL7", 12, "/q/a/b", 100);
  s.add_counter("purged_total", 3);
  s.apply_stop_list({"1234", "99"}, 50);
  spool::SpoolReader r(t.path());
  r.begin();
  CHECK(r.depth().quarantined == s.depth().quarantined);
  auto q = r.quarantine();
  REQUIRE(q.size() == 1);
  CHECK(q[0].path == "a/b");
  CHECK(q[0].copy_path == "/q/a/b");
  CHECK(r.quarantine(q[0].id).size() == 1);
  CHECK(r.quarantine(q[0].id + 1).empty());
  CHECK(r.counters().at("purged_total") == 3);
  CHECK(r.stop_list_entries() == 2);
  auto a = r.audit("1234");
  REQUIRE(a.stopped_since.has_value());
  CHECK(*a.stopped_since == 50);
  CHECK(a.records.empty());
  CHECK_FALSE(r.last_delivered_batch().has_value());
  r.end();
  // The connection really is read-only: the daemon's tables cannot be touched through it.
  sqlite::Connection ro = sqlite::Connection::open_read_only(t / "spool.db");
  CHECK_THROWS_AS(ro.exec("DELETE FROM quarantine"), Error);
}
