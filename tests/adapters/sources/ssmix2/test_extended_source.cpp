#include <doctest/doctest.h>

#include <utime.h>

#include "adapters/sources/ssmix2_extended/extended_source.hpp"
#include "daemon/spool/spool.hpp"
#include "tests/adapters/sources/ssmix2/recording_sink.hpp"
#include "tests/support/manual_clock.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {
const std::string kType = "L-JSPEED^災害時JSPEED記録^99ZL01^74465-6^災害時診療記録^LN";
const std::string kPid = "0000012345";

void age_tree(const fs::path& p, std::time_t t) {
  struct utimbuf u {
    t, t
  };
  ::utime(p.c_str(), &u);
  if (fs::is_directory(p))
    for (auto& e : fs::recursive_directory_iterator(p)) ::utime(e.path().c_str(), &u);
}

struct Fixture {
  test::TempDir tmp;
  fs::path root = tmp / "ext";
  fs::path type_dir = root / "000/001/0000012345/20250110" / kType;
  spool::Spool spool{tmp / "state"};
  test::ManualClock clock;
  test::RecordingSink sink;
  std::atomic<bool> stop{false};
  std::unique_ptr<Source> source = ssmix2::make_extended_source({"emr-ext", {root}, std::chrono::seconds(30)});
  std::unique_ptr<SourceState> state = spool.source_state("emr-ext");
  SourceStats stats;

  void poll() {
    SourceContext ctx{clock, *state, sink, stop, stats, false};
    spool::Spool::Transaction tx(spool);
    source->poll(ctx);
    tx.commit();
  }
  std::time_t past() const { return std::chrono::system_clock::to_time_t(clock.now()) - 3600; }
  fs::path folder(const std::string& key, const std::string& stamp, char flag, bool dept = true) {
    return type_dir / (kPid + "_20250110_" + kType + "_" + key + "_" + stamp + (dept ? "_01_" : "_") + flag);
  }
};
}  // namespace

TEST_CASE("ssmix2-extended: a content folder is one record with all its files, in name order") {
  Fixture f;
  fs::path c = f.folder("000000020250110", "20250110120000000", '1');
  test::write_file(c / "main_document.hl7", "MSH|^~\\&|\rPID|||0000012345\r");
  test::write_file(c / "report.pdf", "%PDF-1.4\n%%EOF\n");
  test::write_file(c / "images/scan.jpg", std::string("\xff\xd8\xff\xe0", 4) + "jpeg");
  age_tree(f.root, f.past());
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  const auto& r = f.sink.records[0];
  CHECK(r.draft.kind == kType);
  CHECK(r.draft.patient_id == kPid);
  REQUIRE(r.draft.parts.size() == 3);
  CHECK(r.draft.parts[0].name == "images/scan.jpg");
  CHECK(r.draft.parts[1].name == "main_document.hl7");
  CHECK(r.draft.parts[2].name == "report.pdf");
  CHECK(r.contents[2] == "%PDF-1.4\n%%EOF\n");
  f.sink.clear();
  f.poll();
  CHECK(f.sink.records.empty());
}

TEST_CASE("ssmix2-extended: 6-field names are accepted; a folder being filled waits") {
  Fixture f;
  fs::path c = f.folder("000000020250110", "201601011500321", '1', false);
  fs::create_directories(c);
  age_tree(f.root, f.past());
  f.poll();  // empty: the writer has created the folder but no file yet
  CHECK(f.sink.records.empty());
  test::write_file(c / "main_document.hl7", "MSH|^~\\&|\r");
  age_tree(c, std::chrono::system_clock::to_time_t(f.clock.now()) - 2);
  f.poll();
  CHECK(f.sink.records.empty());
  f.clock.advance(std::chrono::seconds(60));
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  CHECK(f.sink.records[0].draft.attributes[1].second == "000000020250110");
}

TEST_CASE("ssmix2-extended: deleting renames the folder to flag 0: one delete, nothing re-sent") {
  Fixture f;
  fs::path c = f.folder("000000020250110", "20250110120000000", '1');
  test::write_file(c / "main_document.hl7", "x");
  age_tree(f.root, f.past());
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  f.sink.clear();
  fs::rename(c, f.folder("000000020250110", "20250110120000000", '0'));
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  CHECK(f.sink.records[0].draft.event == Event::remove);
  f.sink.clear();
  f.poll();
  CHECK(f.sink.records.empty());
}

TEST_CASE("ssmix2-extended: a file directly in a type folder is quarantined") {
  Fixture f;
  test::write_file(f.type_dir / "stray.pdf", "%PDF");
  age_tree(f.root, f.past());
  f.poll();
  REQUIRE(f.sink.quarantined.size() == 1);
  CHECK(f.sink.quarantined[0].second.find("content folder") != std::string::npos);
}

TEST_CASE("ssmix2-extended: touching a content folder (backup tools, utime) does not re-send it") {
  Fixture f;
  fs::path c = f.folder("000000020250110", "20250110120000000", '1');
  test::write_file(c / "main_document.hl7", "x");
  age_tree(f.root, f.past());
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  f.sink.clear();
  struct utimbuf u {
    f.past() + 100, f.past() + 100
  };
  ::utime(c.c_str(), &u);
  ::utime(f.type_dir.c_str(), &u);
  f.poll();
  CHECK(f.sink.records.empty());
}
