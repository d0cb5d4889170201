#include <doctest/doctest.h>

#include "adapters/sources/mml/mml_source.hpp"
#include "daemon/spool/spool.hpp"
#include "tests/adapters/sources/mml/mml_fixture.hpp"
#include "tests/adapters/sources/ssmix2/recording_sink.hpp"
#include "tests/adapters/sources/ssmix2/tree_fixture.hpp"
#include "tests/support/manual_clock.hpp"

using namespace sennen;
namespace fs = std::filesystem;
using mml::test::Instance;
using mml::test::instance;

namespace {

struct Fixture {
  test::TempDir tmp;
  fs::path root = tmp / "drop";
  spool::Spool spool{tmp / "state"};
  test::ManualClock clock;
  test::RecordingSink sink;
  std::atomic<bool> stop{false};
  std::unique_ptr<Source> source;
  std::unique_ptr<SourceState> state = spool.source_state("mml");
  SourceStats stats;

  explicit Fixture(std::string deletion_purpose = "") {
    fs::create_directories(root);
    mml::Options o;
    o.name = "mml";
    o.roots = {root};
    o.deletion_purpose = std::move(deletion_purpose);
    source = mml::make_mml_source(std::move(o));
  }
  fs::path drop(const std::string& rel, const std::string& content, bool stable = true) {
    fs::path p = root / rel;
    fs::create_directories(p.parent_path());
    test::write_file(p, content);
    if (stable) test::age(p, std::chrono::system_clock::to_time_t(clock.now()) - 3600);
    return p;
  }
  void poll(bool full = false) {
    SourceContext ctx{clock, *state, sink, stop, stats, full};
    spool::Spool::Transaction tx(spool);
    source->poll(ctx);
    tx.commit();
  }
  std::string attribute(const RecordDraft& d, const std::string& k) {
    for (const auto& [key, v] : d.attributes)
      if (key == k) return v;
    return "<none>";
  }
};

}  // namespace

TEST_CASE("mml source: an instance anywhere below the root is handed over once, byte-exact") {
  Fixture f;
  auto file = f.drop("2025/01/a.xml", instance(Instance{}));
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  const auto& r = f.sink.records[0].draft;
  CHECK(r.event == Event::upsert);
  CHECK(r.key == "JPN999999900009DOC0001");
  CHECK(r.patient_id == "0000469905");
  CHECK(r.kind == "MML-progressCourse");
  CHECK(r.path == "2025/01/a.xml");
  CHECK(f.attribute(r, "uid") == "JPN999999900009DOC0001");
  CHECK(f.attribute(r, "supersedes") == "<none>");
  CHECK(f.sink.records[0].contents[0] == test::read_file(file));
  REQUIRE(r.parts[0].bytes);
  CHECK(*r.parts[0].bytes == test::read_file(file));
  auto again = f.source->locate(r.path, r.version);
  REQUIRE(again);
  CHECK((*again)[0].file == file);

  f.sink.clear();
  f.poll();
  f.poll(true);
  CHECK(f.sink.records.empty());
}

TEST_CASE("mml source: an update names the document it supersedes") {
  Fixture f;
  f.drop("a.xml", instance(Instance{}));
  f.poll();
  Instance update;
  update.uid = "JPN999999900009DOC0002";
  update.parent = "JPN999999900009DOC0001";
  f.drop("b.xml", instance(update));
  f.sink.clear();
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  const auto& r = f.sink.records[0].draft;
  CHECK(r.key == "JPN999999900009DOC0002");
  CHECK(f.attribute(r, "supersedes") == "JPN999999900009DOC0001");
  CHECK(f.attribute(r, "parent_relation") == "oldEdition");
}

TEST_CASE("mml source: a deletion instance is a delete of its parent only when deletion_purpose says so") {
  Instance del;
  del.uid = "JPN999999900009DOC0003";
  del.parent = "JPN999999900009DOC0001";
  del.purpose = "delete";
  {
    Fixture f("delete");
    f.drop("d.xml", instance(del));
    f.poll();
    REQUIRE(f.sink.records.size() == 1);
    CHECK(f.sink.records[0].draft.event == Event::remove);
    CHECK(f.sink.records[0].draft.key == "JPN999999900009DOC0001");
    CHECK(f.sink.records[0].draft.parts.empty());
  }
  {
    Fixture f;  // not configured: an ordinary instance
    f.drop("d.xml", instance(del));
    f.poll();
    REQUIRE(f.sink.records.size() == 1);
    CHECK(f.sink.records[0].draft.event == Event::upsert);
    CHECK(f.sink.records[0].draft.key == "JPN999999900009DOC0003");
  }
}

TEST_CASE("mml source: a file without a patient is quarantined once with its reason; the rest flows") {
  Fixture f;
  f.drop("module.xml", "<?xml version=\"1.0\"?><mmlPi:PatientModule xmlns:mmlPi=\"x\"/>");
  Instance bad;
  bad.patient = "12 34";
  f.drop("bad-id.xml", instance(bad));
  f.drop("ok.xml", instance(Instance{}));
  f.poll();
  CHECK(f.sink.records.size() == 1);
  REQUIRE(f.sink.quarantined.size() == 2);
  for (const auto& [rel, reason] : f.sink.quarantined) {
    if (rel == "module.xml")
      CHECK(reason.find("patient cannot be determined") != std::string::npos);
    else
      CHECK(reason.find("masterId is not a patient ID") != std::string::npos);
  }
  f.sink.clear();
  f.poll(true);
  CHECK(f.sink.quarantined.empty());
  CHECK(f.sink.records.empty());
}

TEST_CASE("mml source: a file still being written waits until it is stable") {
  Fixture f;
  f.drop("a.xml", instance(Instance{}), false);
  f.poll();
  CHECK(f.sink.records.empty());
  CHECK(f.stats.waiting == 1);
  f.clock.advance(std::chrono::seconds(60));
  f.poll();
  CHECK(f.sink.records.size() == 1);
}
