// The index DB feed of a type: ssmix2 source (adapters/sources/ssmix2/index_db.hpp), against an
// in-memory index with the feed's ordering; the ODBC reader itself is exercised by
// tests/integration/test_index_db.py with real drivers.
#include <doctest/doctest.h>

#include <algorithm>
#include <tuple>

#include "adapters/sources/ssmix2/index_db.hpp"
#include "adapters/sources/ssmix2/odbc.hpp"
#include "adapters/sources/ssmix2/standard_source.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/util/error.hpp"
#include "tests/adapters/sources/ssmix2/recording_sink.hpp"
#include "tests/adapters/sources/ssmix2/tree_fixture.hpp"
#include "tests/support/manual_clock.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {
using test::age;
using test::hl7;
using test::kPid;
using test::put;

// Rows in the feed's order; `after` selects as the SQL of after_query does.
struct FakeIndex {
  std::vector<ssmix2::IndexRow> rows;
  bool down = false;
  int queries = 0;
};

class FakeReader final : public ssmix2::IndexReader {
 public:
  explicit FakeReader(FakeIndex& db) : db_(db) {}
  const std::string& describe() const override { return name_; }
  std::optional<ssmix2::Watermark> newest() override {
    check();
    std::optional<ssmix2::Watermark> out;
    for (const auto& r : db_.rows)
      if (!out || std::tie(r.watermark, r.directory, r.file) > std::tie(out->value, out->directory, out->file))
        out = ssmix2::Watermark{r.watermark, r.directory, r.file};
    return out;
  }
  std::vector<ssmix2::IndexRow> after(const ssmix2::Watermark& from, std::size_t limit) override {
    check();
    auto key = [](const std::string& w, const std::string& d, const std::string& f) { return std::tie(w, d, f); };
    std::vector<ssmix2::IndexRow> sorted = db_.rows;
    std::sort(sorted.begin(), sorted.end(), [&](const auto& a, const auto& b) {
      return key(a.watermark, a.directory, a.file) < key(b.watermark, b.directory, b.file);
    });
    std::vector<ssmix2::IndexRow> out;
    for (const auto& r : sorted)
      if ((from.value.empty() || key(r.watermark, r.directory, r.file) > key(from.value, from.directory, from.file)) &&
          out.size() < limit)
        out.push_back(r);
    return out;
  }

 private:
  void check() {
    ++db_.queries;
    if (db_.down) throw Error("index DB (ODBC DSN=test): cannot connect: [08001] connection refused");
  }
  FakeIndex& db_;
  std::string name_ = "DSN=test";
};

struct Fixture {
  test::TempDir tmp;
  fs::path root = tmp / "std";
  spool::Spool spool{tmp / "state"};
  test::ManualClock clock;
  test::RecordingSink sink;
  std::atomic<bool> stop{false};
  FakeIndex db;
  std::unique_ptr<Source> source;
  std::unique_ptr<SourceState> state = spool.source_state("emr");
  SourceStats stats;

  explicit Fixture(std::size_t page_size = 1000) {
    fs::create_directories(root);
    ssmix2::TreeSourceOptions o{"emr", {root}, std::chrono::seconds(30)};
    o.index_db = ssmix2::IndexDbOptions{};
    o.index_db->connection = "DSN=test";
    o.index_db->page_size = page_size;
    source = ssmix2::make_standard_source(o, [this] { return std::make_unique<FakeReader>(db); });
  }
  void poll(bool full = false, bool commit = true) {
    SourceContext ctx{clock, *state, sink, stop, stats, full};
    spool::Spool::Transaction tx(spool);
    source->poll(ctx);
    if (commit) tx.commit();
  }
  std::time_t past() const { return std::chrono::system_clock::to_time_t(clock.now()) - 3600; }
  // A file at its place, old enough to be read, and its index row (unless `indexed` is false).
  fs::path add(const std::string& order, const std::string& stamp, const std::string& wm, bool indexed = true) {
    auto f = put(root, "20250110", "OMP-01", order, stamp, '1', hl7(kPid, "RDE^O11"));
    age(f, past());
    if (indexed) row(f, wm);
    return f;
  }
  void row(const fs::path& file, const std::string& wm) {
    db.rows.push_back(
        {wm, "STD01\\" + fs::relative(file.parent_path(), root).string(), file.filename().string(), "STD01"});
  }
  std::uint64_t event(const char* name) const {
    auto e = stats.events.find(name);
    return e == stats.events.end() ? 0 : e->second.at(ssmix2::kIndexPeer).last_poll;
  }
  // Polls with the tree out of reach: a poll that reads any folder (or the root) fails.
  void poll_without_tree() {
    fs::rename(root, tmp / "away");
    try {
      poll();
    } catch (...) {
      fs::rename(tmp / "away", root);
      throw;
    }
    fs::rename(tmp / "away", root);
  }
};

}  // namespace

TEST_CASE("index feed: a row maps to its unit folder by the last 5 levels, whatever comes before") {
  ssmix2::IndexDbOptions o;
  auto t = ssmix2::map_row({"x", "D:\\SSMIX2\\STD01\\000\\001\\0000012345\\20250110\\OMP-01", "f_1", "STD01"}, o);
  CHECK(t.problem.empty());
  CHECK(t.unit_dir == "000/001/0000012345/20250110/OMP-01");
  CHECK(t.file == "f_1");
  CHECK(ssmix2::map_row({"x", "000/001/0000012345/20250110/OMP-01", "f_1", ""}, o).problem.empty());
  CHECK(ssmix2::map_row({"x", "000/001/0000012345/20250110/OMP-01", "f_1", "ANX01"}, o).other_volume);
  CHECK_FALSE(ssmix2::map_row({"x", "001/0000012345/20250110/OMP-01", "f_1", ""}, o).problem.empty());
  CHECK_FALSE(ssmix2::map_row({"x", "000/001/../20250110/OMP-01", "f_1", ""}, o).problem.empty());
  CHECK_FALSE(ssmix2::map_row({"x", "000/001/0000012345/20250110/OMP-01", "../f_1", ""}, o).problem.empty());
  CHECK_FALSE(ssmix2::map_row({"x", "000/001/0000012345/20250110/OMP-01", "", ""}, o).problem.empty());
}

TEST_CASE("index feed: messages name the connection without its password") {
  CHECK(odbc::redact("DSN=idx;UID=sennen;PWD=s3cret") == "DSN=idx;UID=sennen;PWD=***");
  CHECK(odbc::redact("Driver={PostgreSQL Unicode};Server=db; password =x;y;Port=5432") ==
        "Driver={PostgreSQL Unicode};Server=db; password =***;y;Port=5432");
  CHECK(odbc::redact("DSN=idx") == "DSN=idx");
}

TEST_CASE("index feed: the watermark keeps the boundary row and round-trips through the state") {
  ssmix2::IndexDbOptions o;
  const std::string q = ssmix2::after_query(o, {"2025-01-10 10:00:00.123", "a", "b"});
  CHECK(q.find("UpdateDatetime > '2025-01-10 10:00:00.123' OR (UpdateDatetime = '2025-01-10 10:00:00.123'") !=
        std::string::npos);
  CHECK(q.find("ORDER BY UpdateDatetime, OutRelDirectory, FileName") != std::string::npos);
  CHECK(ssmix2::after_query(o, {}).find("WHERE UpdateDatetime IS NOT NULL ORDER BY") != std::string::npos);
  CHECK_THROWS_AS(ssmix2::after_query(o, {"1' OR '1'='1", "", ""}), Error);
  UnitState u;
  const ssmix2::Watermark w{"20250110101010123", "0:0/1", "a:b_1"};
  ssmix2::WatermarkCodec::encode(w, u);
  CHECK(ssmix2::WatermarkCodec::decode(u) == w);
  u.status += "x";
  CHECK_FALSE(ssmix2::WatermarkCodec::decode(u));
}

TEST_CASE("index feed: the first poll walks; then new rows are ingested and an unchanged tree is not read") {
  Fixture f;
  f.add("000000000000001", "20250110101010001", "2025-01-10 10:00:00.001");
  f.poll();
  CHECK(f.sink.records.size() == 1);
  f.sink.clear();

  f.poll_without_tree();  // nothing new: only the index is asked
  CHECK(f.sink.records.empty());
  CHECK(f.stats.files_seen == 1);
  CHECK(f.stats.events.empty());  // nothing happened: no event, not even at 0

  f.add("000000000000002", "20250110101010002", "2025-01-10 10:00:00.002");
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  CHECK(f.sink.records[0].draft.key == std::string(kPid) + "_20250110_OMP-01_000000000000002");
  f.sink.clear();
  f.poll_without_tree();
  CHECK(f.sink.records.empty());
}

TEST_CASE("index feed: rows sharing the watermark across pages are all read, none twice") {
  Fixture f(1);  // one row per query
  f.poll();      // the first poll: an empty tree, an empty table
  for (int i = 1; i <= 4; ++i) f.add("00000000000000" + std::to_string(i), "2025011010101000" + std::to_string(i), "T");
  f.poll();
  CHECK(f.sink.records.size() == 4);
  f.sink.clear();
  f.add("000000000000005", "20250110101010005", "T");  // committed late with the same timestamp, after the others
  f.poll();
  CHECK(f.sink.records.size() == 1);
  f.sink.clear();
  f.poll_without_tree();
  CHECK(f.sink.records.empty());
}

TEST_CASE("index feed: update (1 -> 2 + new 1) and cancel rows send the new version and one delete") {
  Fixture f;
  auto v1 = f.add("000000000000777", "20250110101010000", "A");
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  f.sink.clear();
  // INS: the old row's file renamed to _2 (its row updated, newer timestamp), a new _1 row.
  std::string v1_2 = v1.string();
  v1_2.back() = '2';
  fs::rename(v1, v1_2);
  f.db.rows[0].file.back() = '2';
  f.db.rows[0].watermark = "B";
  auto v2 = f.add("000000000000777", "20250110101010999", "B");
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  CHECK(f.sink.records[0].draft.event == Event::upsert);
  CHECK(f.sink.records[0].draft.path.find("20250110101010999") != std::string::npos);
  f.sink.clear();
  // DEL: every version renamed to _0, a cancel file written with flag 0.
  std::string v2_0 = v2.string();
  v2_0.back() = '0';
  fs::rename(v2, v2_0);
  std::string v1_0 = v1_2;
  v1_0.back() = '0';
  fs::rename(v1_2, v1_0);
  auto cancel = put(f.root, "20250110", "OMP-01", "000000000000777", "20250110101011000", '0', hl7(kPid, "RDE^O11"));
  age(cancel, f.past());
  f.db.rows[0].file.back() = '0';
  f.db.rows[0].watermark = "C";
  f.db.rows[1].file.back() = '0';
  f.db.rows[1].watermark = "C";
  f.row(cancel, "C");
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  CHECK(f.sink.records[0].draft.event == Event::remove);
}

TEST_CASE("index feed: a row naming a missing file is counted and looked for every poll until it appears") {
  Fixture f;
  f.poll();
  auto file = f.add("000000000000003", "20250110101010003", "A");
  const fs::path hidden = f.tmp / "hidden";
  fs::rename(file, hidden);
  f.poll();
  CHECK(f.sink.records.empty());
  CHECK(f.event(ssmix2::kIndexMissingEvent) == 1);
  f.poll();
  CHECK(f.event(ssmix2::kIndexMissingEvent) == 1);  // still missing, still reported
  fs::rename(hidden, file);                         // e.g. a share that caught up
  f.poll();
  CHECK(f.sink.records.size() == 1);
  CHECK(f.event(ssmix2::kIndexMissingEvent) == 0);
}

TEST_CASE("index feed: a file not yet stable when its row is read is ingested once it is, without a new row") {
  Fixture f;
  f.poll();
  auto file = put(f.root, "20250110", "OMP-01", "000000000000004", "20250110101010004", '1', hl7(kPid, "RDE^O11"));
  f.row(file, "A");
  f.poll();
  CHECK(f.sink.records.empty());
  f.clock.advance(std::chrono::seconds(60));
  f.poll();
  CHECK(f.sink.records.size() == 1);
}

TEST_CASE("index feed: the reconciliation walk catches and counts files the index missed") {
  Fixture f;
  f.add("000000000000001", "20250110101010001", "A");
  f.poll();
  f.sink.clear();
  f.add("000000000000002", "20250110101010002", "B", /*indexed=*/false);
  f.poll();
  CHECK(f.sink.records.empty());  // the index does not name it: an ordinary poll does not see it
  f.poll(/*full=*/true);
  CHECK(f.sink.records.size() == 1);
  CHECK(f.event(ssmix2::kIndexMissedEvent) == 1);
  f.sink.clear();
  f.poll(true);
  CHECK(f.event(ssmix2::kIndexMissedEvent) == 0);
}

TEST_CASE("index feed: with the index DB down the tree is walked, reported, and the index tried again next poll") {
  Fixture f;
  f.add("000000000000001", "20250110101010001", "A");
  f.poll();
  f.sink.clear();
  f.db.down = true;
  f.add("000000000000002", "20250110101010002", "B");
  f.poll();
  CHECK(f.sink.records.size() == 1);  // found by the walk
  CHECK(f.event(ssmix2::kIndexFallbackEvent) == 1);
  f.sink.clear();
  f.db.down = false;
  const int before = f.db.queries;
  f.poll_without_tree();
  CHECK(f.db.queries > before);
  CHECK(f.sink.records.empty());  // the row of the walked file: already known, not sent again
  CHECK(f.event(ssmix2::kIndexFallbackEvent) == 0);
}

TEST_CASE("index feed: the watermark moves only with the records of its rows (a poll rolled back reads them again)") {
  Fixture f;
  f.poll();
  f.add("000000000000001", "20250110101010001", "A");
  f.poll(false, /*commit=*/false);  // killed before the commit
  CHECK(f.sink.records.size() == 1);
  f.sink.clear();
  f.poll();
  CHECK(f.sink.records.size() == 1);
}
