// Large parts live in spool_chunks (schema 3): every reader and writer of content goes through
// them. A tiny injected chunk size makes small files span many chunks.
#include <doctest/doctest.h>

#include <sqlite3.h>

#include <string>

#include "daemon/util/error.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/spool/spool_reader.hpp"
#include "daemon/spool/sqlite.hpp"
#include "daemon/util/sha256.hpp"
#include "sennen/spool_migrations.hpp"
#include "tests/support/permissions.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {
constexpr std::size_t kTinyChunk = 7;

std::string pattern(std::size_t n, char seed = 'a') {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i % 23);
  return s;
}

RecordDraft draft(const std::vector<std::pair<std::string, fs::path>>& files, const std::string& version,
                  const std::string& patient = "0001") {
  RecordDraft d;
  d.source = "emr";
  d.key = "k-" + version;
  d.version = version;
  d.patient_id = patient;
  d.kind = "OMP-01";
  d.path = version;
  for (const auto& [name, file] : files) d.parts.push_back({name, file, fs::file_size(file)});
  return d;
}

std::string read_all(spool::Spool& s, std::int64_t part_id) {
  auto r = s.open_part(part_id);
  std::string out;
  std::byte buf[5];  // smaller than a chunk, and not a divisor of it
  while (std::size_t n = r->read(buf)) out.append(reinterpret_cast<const char*>(buf), n);
  return out;
}

std::int64_t count(spool::Spool& s, const std::string& sql) {
  sqlite::Statement q(s.connection(), sql);
  q.step();
  return q.column_int(0);
}
std::int64_t chunks(spool::Spool& s) { return count(s, "SELECT COUNT(*) FROM spool_chunks"); }

spool::Spool::Locate at(const fs::path& file) {
  return [file](const spool::StoredRecord& r) {
    return std::optional<std::vector<ContentPart>>({ContentPart{"", file, r.parts[0].size}});
  };
}
}  // namespace

TEST_CASE("spool chunks: a part larger than a chunk is stored as chunks and read back byte-exact") {
  test::TempDir t;
  const std::string big = pattern(100), small = pattern(5, 'K');
  test::write_file(t / "big", big);
  test::write_file(t / "small", small);
  spool::Spool s(t / "state", kTinyChunk);
  spool::Spool::Transaction tx(s);
  REQUIRE(s.put(draft({{"a.pdf", t / "big"}, {"b.txt", t / "small"}}, "v1"), "1", spool::Hold::none, 1));
  REQUIRE(s.put(draft({{"", t / "big"}}, "v2"), "1", spool::Hold::none, 1));
  tx.commit();
  CHECK(chunks(s) == 2 * 15);  // 100 bytes in chunks of 7, twice; the 5-byte part is one row
  CHECK(count(s, "SELECT COUNT(*) FROM spool_parts WHERE content IS NOT NULL") == 1);
  auto ready = s.ready_records(0, 10);
  REQUIRE(ready.size() == 2);
  REQUIRE(ready[0].parts.size() == 2);
  CHECK(ready[0].parts[0].sha256 == util::sha256_hex(big));
  CHECK(ready[0].parts[1].sha256 == util::sha256_hex(small));
  CHECK(read_all(s, ready[0].parts[0].part_id) == big);
  CHECK(read_all(s, ready[0].parts[1].part_id) == small);
  CHECK(ready[1].sha256 == util::sha256_hex(big));  // a single-file record: the file's own hash
  CHECK(read_all(s, ready[1].parts[0].part_id) == big);
  CHECK(s.depth().content_bytes() == 205);

  SUBCASE("the same version again is not read or stored twice") {
    spool::Spool::Transaction tx2(s);
    CHECK_FALSE(s.put(draft({{"", t / "big"}}, "v2"), "1", spool::Hold::none, 2));
    tx2.commit();
    CHECK(chunks(s) == 30);
  }
  SUBCASE("delivery removes the chunks with their records; a voided batch keeps them") {
    s.create_batch("B1", s.next_batch_seq(), {ready[0].id, ready[1].id}, {}, 205, "sha", 2);
    s.void_batch("B1", "test");
    CHECK(chunks(s) == 30);
    ready = s.ready_records(0, 10);
    CHECK(read_all(s, ready[1].parts[0].part_id) == big);
    s.create_batch("B2", s.next_batch_seq(), {ready[0].id, ready[1].id}, {}, 205, "sha", 3);
    s.mark_sealed("B2", 1, "x");
    s.mark_delivered("B2", 4);
    CHECK(chunks(s) == 0);
    CHECK(count(s, "SELECT COUNT(*) FROM spool_parts") == 0);
  }
}

TEST_CASE("spool chunks: a file that changes while its chunks are written leaves nothing behind") {
  test::TempDir t;
  test::write_file(t / "big", pattern(50));
  spool::Spool s(t / "state", kTinyChunk);
  auto grew = draft({{"", t / "big"}}, "v1");
  grew.parts[0].size = 40;  // what the poller saw before the writer appended
  spool::Spool::Transaction tx3(s);
  CHECK_THROWS_AS(s.put(grew, "1", spool::Hold::none, 1), SourceFileError);
  auto gone = draft({{"", t / "big"}}, "v2");
  gone.parts[0].file = t / "renamed-meanwhile";
  try {
    s.put(gone, "1", spool::Hold::none, 1);
    FAIL("a vanished file was taken in");
  } catch (const SourceFileError& e) {
    CHECK(e.kind() == SourceFileError::Kind::changed);  // a rename: read again under its new name
  }
  CHECK(s.put(draft({{"", t / "big"}}, "v3"), "1", spool::Hold::none, 1));  // the transaction is usable
  tx3.commit();
  CHECK(count(s, "SELECT COUNT(*) FROM spool_records") == 1);
  CHECK(chunks(s) == 8);
}

TEST_CASE("spool chunks: holding drops the chunks; releasing re-reads them from the source, hash-verified") {
  test::TempDir t;
  const std::string big = pattern(60);
  test::write_file(t / "big", big);
  spool::Spool s(t / "state", kTinyChunk);
  spool::Spool::Transaction tx4(s);
  s.put(draft({{"", t / "big"}}, "v1", "0042"), "42", spool::Hold::none, 1);
  tx4.commit();
  CHECK(chunks(s) == 9);
  CHECK(s.hold_patient("42", spool::Hold::not_notified) == 1);
  CHECK(chunks(s) == 0);
  CHECK(s.depth().content_bytes() == 0);

  SUBCASE("released: the same bytes, in chunks again") {
    CHECK(s.release_patient("42", at(t / "big")) == std::pair<std::int64_t, std::int64_t>{1, 0});
    CHECK(chunks(s) == 9);
    auto ready = s.ready_records(0, 10);
    REQUIRE(ready.size() == 1);
    CHECK(read_all(s, ready[0].parts[0].part_id) == big);
  }
  SUBCASE("changed in the source: dropped, and no chunk of it stays") {
    test::write_file(t / "big", pattern(60, 'b'));
    CHECK(s.release_patient("42", at(t / "big")) == std::pair<std::int64_t, std::int64_t>{0, 1});
    CHECK(chunks(s) == 0);
    CHECK(count(s, "SELECT COUNT(*) FROM spool_records") == 0);
  }
  SUBCASE("unreadable now: stays held, and is released once readable again") {
    fs::permissions(t / "big", fs::perms::none);
    {
      test::WithoutFileAccessOverride as_service_user;
      CHECK(s.release_patient("42", at(t / "big")) == std::pair<std::int64_t, std::int64_t>{0, 0});
    }
    CHECK(s.depth().held_not_notified == 1);
    CHECK(chunks(s) == 0);
    fs::permissions(t / "big", fs::perms::owner_read);
    CHECK(s.release_patient("42", at(t / "big")) == std::pair<std::int64_t, std::int64_t>{1, 0});
    CHECK(chunks(s) == 9);
  }
}

TEST_CASE("spool chunks: a record held at ingest keeps only hashes, and is released into chunks") {
  test::TempDir t;
  const std::string big = pattern(30);
  test::write_file(t / "big", big);
  spool::Spool s(t / "state", kTinyChunk);
  spool::Spool::Transaction tx5(s);
  s.put(draft({{"", t / "big"}}, "v1", "0042"), "42", spool::Hold::stopped, 1);
  tx5.commit();
  CHECK(chunks(s) == 0);
  CHECK(s.release_patient("42", at(t / "big")).first == 1);
  auto ready = s.ready_records(0, 10);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].sha256 == util::sha256_hex(big));
  CHECK(read_all(s, ready[0].parts[0].part_id) == big);
}

TEST_CASE("spool chunks: a schema-1 spool is migrated and its records stay readable") {
  test::TempDir t;
  const std::string old_content = pattern(5000);
  fs::create_directories(t / "state");
  {
    sqlite::Connection db(t / "state" / "spool.db");
    db.exec(spool::kMigrations[0]);
    db.exec("PRAGMA user_version=1");
    db.exec(
        "INSERT INTO spool_records (id, source, record_key, version, patient_id, patient_key, kind, path, event, "
        "size, sha256, state, ingested_at) VALUES (1, 'emr', 'k', 'v', '1', '1', 'OMP-01', 'p', 'upsert', 5000, '" +
        util::sha256_hex(old_content) + "', 'ready', 1)");
    sqlite::Statement ins(db,
                          "INSERT INTO spool_parts (part_id, record_id, seq, name, size, sha256, content) "
                          "VALUES (1, 1, 0, '', 5000, ?1, ?2)");
    ins.bind(1, util::sha256_hex(old_content)).bind_blob(2, std::as_bytes(std::span(old_content))).run();
  }
  spool::Spool s(t / "state", kTinyChunk);  // larger than a chunk, but stored whole under schema 1
  CHECK(s.schema_version() == spool::Spool::kSchemaVersion);
  auto ready = s.ready_records(0, 10);
  REQUIRE(ready.size() == 1);
  CHECK(read_all(s, ready[0].parts[0].part_id) == old_content);
  spool::SpoolReader reader(t / "state");
  CHECK(reader.depth().ready == 1);
}

// Without chunks, a part was one blob, and a value larger than SQLite's length limit (about 1e9
// bytes by default; lowered here so the test needs no GiB files) failed as "bind zeroblob: not an
// error" and was taken for a file not yet stable, forever.
TEST_CASE("spool chunks: a part larger than what SQLite takes in one value is spooled in chunks") {
  test::TempDir t;
  const std::string big = pattern(5u << 20);
  test::write_file(t / "big", big);
  spool::Spool s(t / "state");
  sqlite3_limit(s.connection().handle(), SQLITE_LIMIT_LENGTH, 4u << 20 | 4096);
  spool::Spool::Transaction tx6(s);
  CHECK(s.put(draft({{"", t / "big"}}, "v1"), "1", spool::Hold::none, 1));
  tx6.commit();
  auto ready = s.ready_records(0, 10);
  REQUIRE(ready.size() == 1);
  CHECK(read_all(s, ready[0].parts[0].part_id) == big);
}

TEST_CASE("spool chunks: SQLite refusing a value says so, never \"not an error\"") {
  test::TempDir t;
  test::write_file(t / "f", pattern(3000));
  spool::Spool s(t / "state");
  sqlite3_limit(s.connection().handle(), SQLITE_LIMIT_LENGTH, 1000);
  spool::Spool::Transaction tx7(s);
  try {
    s.put(draft({{"", t / "f"}}, "v1"), "1", spool::Hold::none, 1);
    FAIL("a value over the limit was accepted");
  } catch (const SourceFileError& e) {
    FAIL("a spool failure was taken for the file's: " << e.what());
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK(what.find("not an error") == std::string::npos);
    CHECK(what.find("too big") != std::string::npos);
    CHECK(what.find("report this message") != std::string::npos);
  }
  tx7.rollback();
}
