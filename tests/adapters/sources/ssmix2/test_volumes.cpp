// Multi-volume storages (issue 13): several roots of one source are one key space. A unit that
// moves from one volume to another, alone or with its whole folder, or that is copied to another
// volume before being removed from the first, is the same record: it is not sent again, and its
// later cancel is a delete as usual.
#include <doctest/doctest.h>

#include "adapters/sources/ssmix2/standard_source.hpp"
#include "daemon/spool/spool.hpp"
#include "tests/adapters/sources/ssmix2/recording_sink.hpp"
#include "tests/adapters/sources/ssmix2/tree_fixture.hpp"
#include "tests/support/manual_clock.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {

struct Volumes {
  test::TempDir tmp;
  std::vector<fs::path> roots{tmp / "v0", tmp / "v1", tmp / "v2"};
  spool::Spool spool{tmp / "state"};
  test::ManualClock clock;
  test::RecordingSink sink;
  std::atomic<bool> stop{false};
  std::unique_ptr<Source> source;
  std::unique_ptr<SourceState> state = spool.source_state("emr");
  SourceStats stats;

  Volumes() {
    for (const auto& r : roots) fs::create_directories(r);
    source = ssmix2::make_standard_source({"emr", roots, std::chrono::seconds(30)});
  }
  fs::path put(int volume, const std::string& order, char flag = '1') {
    auto f = test::put(roots[volume], "20250110", "OMP-01", order, "20250110101010123", flag,
                       test::hl7(test::kPid, "RDE^O11"));
    age(f);
    return f;
  }
  void age(const fs::path& f) { test::age(f, std::chrono::system_clock::to_time_t(clock.now()) - 3600); }
  void poll() {
    sink.clear();
    SourceContext ctx{clock, *state, sink, stop, stats, false};
    spool::Spool::Transaction tx(spool);
    source->poll(ctx);
    tx.commit();
  }
  // Moves what is below `rel` (relative to a root) from one volume to another.
  void move(const std::string& rel, int from, int to) {
    fs::create_directories((roots[to] / rel).parent_path());
    fs::rename(roots[from] / rel, roots[to] / rel);
  }
};

const std::string kPatientDir = "000/001/0000012345";

}  // namespace

TEST_CASE("volumes: a file moving to another root is not sent again; its cancel there is a delete") {
  Volumes v;
  auto a = v.put(0, "000000000000001");
  v.poll();
  REQUIRE(v.sink.records.size() == 1);
  const std::string key = v.sink.records[0].draft.key;

  // The single file, to a volume walked after its old one.
  const std::string rel = fs::relative(a, v.roots[0]).string();
  v.move(rel, 0, 2);
  v.poll();
  CHECK(v.sink.records.empty());
  CHECK(v.stats.files_seen == 1);

  // Back to a volume walked before the one holding it now.
  v.move(rel, 2, 1);
  v.poll();
  CHECK(v.sink.records.empty());
  CHECK(v.stats.files_seen == 1);

  // Cancelled where it is now: one delete of the same key.
  fs::path now = v.roots[1] / rel;
  std::string cancelled = now.string();
  cancelled.back() = '0';
  fs::rename(now, cancelled);
  v.poll();
  REQUIRE(v.sink.records.size() == 1);
  CHECK(v.sink.records[0].draft.event == Event::remove);
  CHECK(v.sink.records[0].draft.key == key);
}

TEST_CASE("volumes: a whole patient folder moving volume, and a copy before removal, are not sent again") {
  Volumes v;
  v.put(0, "000000000000001");
  v.put(0, "000000000000002");
  v.poll();
  REQUIRE(v.sink.records.size() == 2);

  v.move(kPatientDir.substr(0, 3), 0, 1);  // the whole 000/ tree, as a date-range volume migration does
  v.poll();
  CHECK(v.sink.records.empty());
  CHECK(v.stats.files_seen == 2);

  // Copied to another volume first (both present), then removed from the old one.
  fs::copy(v.roots[1] / "000", v.roots[2] / "000", fs::copy_options::recursive);
  for (auto& e : fs::recursive_directory_iterator(v.roots[2])) v.age(e.path());
  v.poll();
  CHECK(v.sink.records.empty());
  fs::remove_all(v.roots[1] / "000");
  v.poll();
  CHECK(v.sink.records.empty());
  CHECK(v.stats.files_seen == 2);

  // A new order on any volume is still new.
  v.put(0, "000000000000003");
  v.poll();
  CHECK(v.sink.records.size() == 1);
}
