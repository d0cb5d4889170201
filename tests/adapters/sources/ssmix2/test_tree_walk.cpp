// What the walk does with a messy or hostile tree: unreadable folders and files at every level,
// links, FIFOs, other file systems, bind-mount loops, hard links and oversized records. Each is
// reported (once) and the rest of the tree flows. Permissions are tested without root's override
// (test::WithoutFileAccessOverride); mounts need CAP_SYS_ADMIN and are skipped without it.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>

#include "adapters/sources/dirpoll/walker.hpp"
#include "adapters/sources/ssmix2/standard_source.hpp"
#include "adapters/sources/ssmix2_extended/extended_source.hpp"
#include "daemon/util/error.hpp"
#include "daemon/spool/spool.hpp"
#include "tests/adapters/sources/ssmix2/recording_sink.hpp"
#include "tests/adapters/sources/ssmix2/tree_fixture.hpp"
#include "tests/support/captured_stderr.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/support/permissions.hpp"

using namespace sennen;
namespace fs = std::filesystem;
using test::age;
using test::hl7;
using test::kPid;
using test::put;

namespace {
constexpr const char* kOther = "0010022222";  // another patient, under other prefix folders (001/002)
const std::string kExtType = "L-PDF^PDF^99ZL01";

struct Tree {
  test::TempDir tmp;
  fs::path root = tmp / "std";
  fs::path outside = tmp / "outside";
  spool::Spool spool{tmp / "state"};
  test::ManualClock clock;
  test::RecordingSink sink;
  std::atomic<bool> stop{false};
  ssmix2::TreeSourceOptions options{"emr", {root}, std::chrono::seconds(30)};
  bool extended = false;
  std::unique_ptr<Source> source;
  std::unique_ptr<SourceState> state = spool.source_state("emr");
  SourceStats stats;

  Tree() {
    fs::create_directories(root);
    fs::create_directories(outside);
  }
  // Polls as the service user would: permissions apply even when the test runs as root.
  void poll(bool full = false) {
    if (!source) source = extended ? ssmix2::make_extended_source(options) : ssmix2::make_standard_source(options);
    test::WithoutFileAccessOverride as_service_user;
    SourceContext ctx{clock, *state, sink, stop, stats, full};
    spool::Spool::Transaction tx(spool);
    source->poll(ctx);
    tx.commit();
  }
  std::time_t past() const { return std::chrono::system_clock::to_time_t(clock.now()) - 3600; }
  fs::path file(const std::string& order, const std::string& pid = kPid, const std::string& content = "") {
    auto f = put(root, "20250110", "OMP-01", order, "20250110101010000", '1',
                 content.empty() ? hl7(pid, "RDE^O11") : content, pid);
    age(f, past());
    return f;
  }
  // An extended-storage content folder holding `files` (name -> content), aged.
  fs::path content(const std::string& order, const std::vector<std::pair<std::string, std::string>>& files) {
    fs::path dir = root / "000/001" / kPid / "20250110" / kExtType /
                   (std::string(kPid) + "_20250110_" + kExtType + "_" + order + "_20250110120000000_01_1");
    for (const auto& [name, bytes] : files) test::write_file(dir / name, bytes);
    for (const auto& [name, bytes] : files) age(dir / name, past());
    age(dir, past());
    return dir;
  }
  std::vector<std::string> paths_sent() const {
    std::vector<std::string> out;
    for (const auto& r : sink.records) out.push_back(fs::path(r.draft.path).filename().string());
    return out;
  }
  std::size_t units(const std::string& status) { return state->units_with_status(status); }
};

// A mount made in a mount namespace of this test process's own, so nothing reaches the host even
// if the test dies; unmounted when it ends.
class TestMount {
 public:
  TestMount(const char* source, const fs::path& target, const char* type, unsigned long flags) : target_(target) {
    static const std::string isolation_failed = [] {  // once per process: "" when done
      if (::unshare(CLONE_NEWNS) == 0 && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0)
        return std::string();
      return std::string("no private mount namespace: ") + std::strerror(errno);
    }();
    if (!isolation_failed.empty()) {
      why_ = isolation_failed;
      return;
    }
    fs::create_directories(target);
    if (::mount(source, target.c_str(), type, flags, nullptr) != 0)
      why_ = std::string("mount failed: ") + std::strerror(errno);
  }
  ~TestMount() {
    if (why_.empty()) ::umount2(target_.c_str(), MNT_DETACH);
  }
  bool ok() const { return why_.empty(); }
  const std::string& why() const { return why_; }

 private:
  fs::path target_;
  std::string why_;
};
}  // namespace

TEST_CASE(
    "walk: an unreadable folder at any level is skipped and reported; the rest flows; it is read once it can be") {
  const char* levels[] = {"patient-ID prefix folder", "second prefix folder", "patient folder", "date folder",
                          "data type folder"};
  for (int level = 1; level <= 5; ++level) {
    SUBCASE(levels[level - 1]) {
      Tree t;
      test::CapturedStderr log;
      const fs::path mine = t.file("000000000000001");
      t.file("000000000000002", kOther);
      fs::path dir = mine.parent_path();
      for (int up = 5; up > level; --up) dir = dir.parent_path();
      fs::permissions(dir, fs::perms::none);

      t.poll();
      REQUIRE(t.sink.records.size() == 1);
      CHECK(t.sink.records[0].draft.patient_id == kOther);
      CHECK(t.stats.unreadable == 1);
      CHECK(t.stats.unreadable_paths == std::vector<std::string>{dir.string()});
      CHECK(t.sink.quarantined.empty());

      t.sink.clear();
      t.poll();  // tried again (its parent is not settled), reported in the stats, not logged again
      CHECK(t.sink.records.empty());
      CHECK(t.stats.unreadable == 1);
      CHECK(log.count("cannot read folder " + dir.string()) == 1);
      CHECK(log.text().find("grant the service user sennen-edge read and execute") != std::string::npos);

      fs::permissions(dir, fs::perms::owner_all);
      t.poll();
      REQUIRE(t.sink.records.size() == 1);
      CHECK(t.sink.records[0].draft.patient_id == kPid);
      CHECK(t.stats.unreadable == 0);
      CHECK(log.count(dir.string() + " is readable again") == 1);
      CHECK(t.units(dirpoll::kUnreadable) == 0);
      t.sink.clear();
      t.poll(true);
      CHECK(t.sink.records.empty());  // once
    }
  }
}

TEST_CASE("walk: a folder read before that can no longer be searched forgets nothing and sends nothing twice") {
  Tree t;
  const fs::path first = t.file("000000000000001");
  t.poll();
  REQUIRE(t.sink.records.size() == 1);
  t.sink.clear();
  t.file("000000000000002");
  const fs::path date = first.parent_path().parent_path();
  fs::permissions(date, fs::perms::owner_read | fs::perms::owner_write);  // listable, not searchable

  t.poll();
  CHECK(t.sink.records.empty());
  CHECK(t.stats.unreadable_paths == std::vector<std::string>{date.string()});

  fs::permissions(date, fs::perms::owner_all);
  t.poll();
  CHECK(t.paths_sent().size() == 1);  // only the new file: the first is still known as sent
  CHECK(t.sink.records.at(0).draft.key.find("000000000000002") != std::string::npos);
}

TEST_CASE("walk: an unreadable file has its own status, is tried every poll, and is read once it can be") {
  Tree t;
  test::CapturedStderr log;
  const fs::path f = t.file("000000000000001");
  fs::permissions(f, fs::perms::none);
  t.poll();
  CHECK(t.sink.records.empty());
  CHECK(t.sink.quarantined.empty());  // not bad: just not readable yet
  CHECK(t.stats.unreadable_paths == std::vector<std::string>{f.string()});
  CHECK(t.stats.waiting == 0);
  CHECK(t.units(dirpoll::kUnreadable) == 1);
  t.poll();
  CHECK(t.stats.unreadable == 1);
  CHECK(log.count("cannot open " + f.string()) == 1);
  fs::permissions(f, fs::perms::owner_read);
  t.poll();
  CHECK(t.sink.records.size() == 1);
  CHECK(t.stats.unreadable == 0);
  CHECK(t.units(dirpoll::kUnreadable) == 0);
  CHECK(log.count(f.string() + " is readable again") == 1);
}

TEST_CASE("walk: extended storage: an unreadable content folder or file in one waits for its permission") {
  Tree t;
  t.extended = true;
  t.root = t.tmp / "ext";
  t.options.roots = {t.root};
  const fs::path folder = t.content("000000020250110", {{"a.pdf", "%PDF-1.4"}, {"b.jpg", "\xff\xd8"}});
  SUBCASE("a file in it") {
    fs::permissions(folder / "b.jpg", fs::perms::none);
    t.poll();
    CHECK(t.stats.unreadable_paths == std::vector<std::string>{(folder / "b.jpg").string()});
    fs::permissions(folder / "b.jpg", fs::perms::owner_read);
  }
  SUBCASE("the content folder") {
    fs::permissions(folder, fs::perms::none);
    t.poll();
    CHECK(t.stats.unreadable_paths == std::vector<std::string>{folder.string()});
    fs::permissions(folder, fs::perms::owner_all);
  }
  CHECK(t.sink.records.empty());
  CHECK(t.sink.quarantined.empty());
  t.poll();
  REQUIRE(t.sink.records.size() == 1);
  CHECK(t.sink.records[0].draft.parts.size() == 2);
  CHECK(t.stats.unreadable == 0);
}

TEST_CASE("walk: links, FIFOs and sockets are never opened, reported once, counted as skipped") {
  Tree t;
  test::CapturedStderr log;
  const fs::path real = t.file("000000000000001");
  const fs::path type_dir = real.parent_path();
  test::write_file(t.outside / "secret", hl7(kPid, "RDE^O11"));
  // Named like SS-MIX2 files, placed where they belong.
  const std::string name2 = std::string(kPid) + "_20250110_OMP-01_000000000000002_20250110101010000_01_1";
  const std::string name3 = std::string(kPid) + "_20250110_OMP-01_000000000000003_20250110101010000_01_1";
  fs::create_symlink(t.outside / "secret", type_dir / name2);
  REQUIRE(::mkfifo((type_dir / name3).c_str(), 0644) == 0);
  // A whole patient tree behind a link to a folder, at the prefix level.
  t.file("000000000000004", kOther);
  fs::rename(t.root / "001", t.outside / "001");
  fs::create_directory_symlink(t.outside / "001", t.root / "001");

  t.poll();
  CHECK(t.paths_sent() == std::vector<std::string>{real.filename().string()});
  CHECK(t.sink.quarantined.empty());
  CHECK(t.stats.skipped == 3);
  const std::string text = log.text();
  CHECK(text.find("skipping " + (type_dir / name2).string() + ": a symbolic link (to " +
                  (t.outside / "secret").string() + "), which is never followed") != std::string::npos);
  CHECK(text.find("skipping " + (type_dir / name3).string() + ": a device, FIFO or socket") != std::string::npos);
  CHECK(text.find("skipping " + (t.root / "001").string() + ": a symbolic link to the folder " +
                  (t.outside / "001").string() +
                  ", which is never followed; if the files there belong to this "
                  "source, add " +
                  (t.outside / "001").string() + " as another root") != std::string::npos);

  t.sink.clear();
  t.poll(true);
  t.poll();
  CHECK(t.sink.records.empty());
  CHECK(t.stats.skipped == 3);
  CHECK(log.count("skipping ") == 3);  // once each, not every poll
}

TEST_CASE("walk: a folder on another file system is not descended into unless the source allows it") {
  Tree t;
  TestMount mount("tmpfs", t.root / "001", "tmpfs", 0);
  if (!mount.ok()) {
    MESSAGE("skipped: " << mount.why());
    return;
  }
  t.file("000000000000001");
  t.file("000000000000002", kOther);  // written into the tmpfs mounted at root/001
  t.poll();
  CHECK(t.paths_sent().size() == 1);
  CHECK(t.sink.records.at(0).draft.patient_id == kPid);
  CHECK(t.stats.skipped == 1);

  t.options.cross_filesystems = true;  // a config change: the folder holding the mount point is listed every poll
  t.source.reset();
  t.sink.clear();
  t.poll();
  CHECK(t.paths_sent().size() == 1);
  CHECK(t.sink.records.at(0).draft.patient_id == kOther);
  CHECK(t.stats.skipped == 0);
}

TEST_CASE("walk: a bind-mount loop ends the descent, whether other file systems are crossed or not") {
  for (bool cross : {false, true}) {
    CAPTURE(cross);
    Tree t;
    t.options.cross_filesystems = cross;
    t.file("000000000000001");
    TestMount loop((t.root / "000").c_str(), t.root / "000/001/loop", nullptr, MS_BIND);
    if (!loop.ok()) {
      MESSAGE("skipped: " << loop.why());
      return;
    }
    test::CapturedStderr log;
    t.poll();
    CHECK(t.sink.records.size() == 1);
    CHECK(t.stats.skipped == 1);
    // The loop is named as such either way (a bind mount is also another mount).
    CHECK(log.text().find("the same folder as " + (t.root / "000").string()) != std::string::npos);
  }
}

TEST_CASE("walk: a file with another hard link is quarantined by reference, unless hard links are allowed") {
  for (bool allowed : {false, true}) {
    CAPTURE(allowed);
    Tree t;
    t.options.allow_hard_links = allowed;
    test::write_file(t.outside / "secret", hl7(kPid, "RDE^O11"));
    const fs::path f = t.file("000000000000001");
    fs::remove(f);
    fs::create_hard_link(t.outside / "secret", f);
    age(f, t.past());
    // Also above the unit depth, where files are quarantined as misplaced.
    fs::create_hard_link(t.outside / "secret", t.root / "stray");
    age(t.root / "stray", t.past());
    t.poll();
    if (allowed) {
      CHECK(t.sink.records.size() == 1);
      CHECK(t.sink.by_reference.empty());
    } else {
      CHECK(t.sink.records.empty());
      REQUIRE(t.sink.by_reference.size() == 2);
      for (const auto& [path, reason] : t.sink.quarantined)
        CHECK(reason.find("hard links: a file linked from elsewhere is not read") != std::string::npos);
    }
  }
}

TEST_CASE("walk: a record above max_record_bytes is quarantined by reference once, never read, never waiting") {
  Tree t;
  t.options.max_record_bytes = 256ull << 20;  // the default of type: ssmix2
  const fs::path big = t.file("000000000000001");
  fs::resize_file(big, 1ull << 30);  // sparse: a 1 GiB "record" costs no disk
  age(big, t.past());
  t.file("000000000000002");
  t.poll();
  CHECK(t.sink.records.size() == 1);
  CHECK(t.stats.waiting == 0);
  CHECK(t.stats.unreadable == 0);
  REQUIRE(t.sink.by_reference.size() == 1);
  CHECK(t.sink.quarantined[0].second.find("is 1073741824 bytes, more than max_record_bytes (268435456)") !=
        std::string::npos);
  CHECK(t.stats.waiting == 0);
  t.sink.clear();
  t.poll(true);
  CHECK(t.sink.quarantined.empty());
  CHECK(t.stats.waiting == 0);
}

TEST_CASE("walk: extended storage: max_record_bytes applies to a content folder's total") {
  Tree e;
  e.extended = true;
  e.root = e.tmp / "ext";
  e.options.roots = {e.root};
  e.options.max_record_bytes = 10;
  e.content("000000020250110", {{"a.pdf", "123456"}, {"b.pdf", "7890!"}});
  e.poll();
  CHECK(e.sink.records.empty());
  REQUIRE(e.sink.by_reference.size() == 1);
  CHECK(e.sink.quarantined[0].second.find("is 11 bytes, more than max_record_bytes (10)") != std::string::npos);
}

namespace {
struct SpoolFailure final : IngestSink {
  void record(const RecordDraft&) override { throw Error("spool: database or disk is full (free space)"); }
  void visit(std::string_view, std::string_view, std::string_view) override {}
  void quarantine(const fs::path&, std::string_view, std::string_view) override {}
  void quarantine_owned(const fs::path&, std::string_view, std::string_view) override {}
  void quarantine_by_reference(std::string_view, std::string_view, std::uint64_t) override {}
  void checkpoint() override {}
};
}  // namespace

TEST_CASE("walk: a failure of the spool ends the poll; it is not a file waiting to be stable") {
  Tree t;
  t.file("000000000000001");
  SpoolFailure failing;
  auto source = ssmix2::make_standard_source(t.options);
  SourceContext ctx{t.clock, *t.state, failing, t.stop, t.stats, false};
  spool::Spool::Transaction tx(t.spool);
  CHECK_THROWS_WITH_AS(source->poll(ctx), doctest::Contains("disk is full"), Error);
  tx.rollback();
  CHECK(t.stats.waiting == 0);
}

TEST_CASE("walk: a file rewritten in place keeps a version of its own while it waits to be stable") {
  Tree t;
  const fs::path f = t.file("000000000000001");
  t.poll();
  REQUIRE(t.sink.records.size() == 1);
  test::write_file(f, hl7(kPid, "RDE^O11", "NTE|1||rewritten\r"));  // just now: not yet stable
  t.poll(true);                                                     // a full scan sees it changed; it waits
  CHECK(t.sink.records.size() == 1);
  CHECK(t.stats.waiting == 1);
  t.poll(true);  // still waiting, a poll later
  CHECK(t.sink.records.size() == 1);
  age(f, t.past());
  t.poll(true);
  REQUIRE(t.sink.records.size() == 2);
  // Not the first version's name: the spool would take the new content for what it already holds.
  CHECK(t.sink.records[1].draft.version != t.sink.records[0].draft.version);
  CHECK(t.sink.records[1].draft.version.starts_with(t.sink.records[0].draft.version + "#"));
  t.poll(true);
  CHECK(t.sink.records.size() == 2);  // taken once
}

TEST_CASE("walk: a root found empty (a share not mounted) fails the poll and forgets nothing") {
  Tree t;
  t.file("000000000000001");
  t.poll();
  REQUIRE(t.sink.records.size() == 1);
  fs::rename(t.root / "000", t.tmp / "away");  // what an unmounted share's mount point shows
  CHECK_THROWS_WITH_AS(t.poll(), doctest::Contains("is empty, but 1 folder(s) were known below it"), Error);
  CHECK_THROWS_AS(t.poll(true), Error);        // a full scan too
  fs::rename(t.tmp / "away", t.root / "000");  // mounted again
  t.poll(true);
  CHECK(t.sink.records.size() == 1);  // nothing taken in twice
}

namespace {
// The polling state of the folder whose key ends with `suffix`, searched from the source's roots.
std::optional<DirState> dir_state(SourceState& state, const std::string& suffix, const std::string& parent = "") {
  for (const auto& d : state.child_dirs(parent)) {
    if (d.path.ends_with(suffix)) return d;
    if (auto below = dir_state(state, suffix, d.path)) return below;
  }
  return std::nullopt;
}
}  // namespace

TEST_CASE("walk: a folder changed just before its listing is listed again next poll (same timestamp tick)") {
  // A file renamed into a folder in the same timestamp tick as the folder's last change (FAT keeps
  // 2 s) leaves its mtime and ctime as recorded: the folder must not count as settled then, or the
  // file would wait for the next full scan.
  Tree t;
  t.file("000000000000001");  // the file is aged; its folders changed just now
  t.poll();
  REQUIRE(t.sink.records.size() == 1);
  auto unit = dir_state(*t.state, "/OMP-01");
  REQUIRE(unit);
  CHECK_FALSE(unit->settled);
  t.clock.advance(std::chrono::seconds(10));  // the same folders, listed 10 s after their last change
  t.poll();
  unit = dir_state(*t.state, "/OMP-01");
  REQUIRE(unit);
  CHECK(unit->settled);
  CHECK(t.sink.records.size() == 1);  // listed again, nothing taken twice
}
