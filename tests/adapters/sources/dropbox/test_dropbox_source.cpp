#include <doctest/doctest.h>

#include <utime.h>

#include <set>

#include "adapters/sources/dropbox/dropbox_source.hpp"
#include "daemon/spool/spool.hpp"
#include "tests/adapters/sources/dropbox/uke_fixture.hpp"
#include "tests/support/captured_stderr.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {
struct NullSink final : IngestSink {
  std::vector<RecordDraft> records;
  void record(const RecordDraft& d) override { records.push_back(d); }
  void visit(std::string_view, std::string_view, std::string_view) override {}
  void quarantine(const fs::path&, std::string_view, std::string_view) override {}
  void quarantine_owned(const fs::path&, std::string_view, std::string_view) override {}
  void quarantine_by_reference(std::string_view, std::string_view, std::uint64_t) override {}
  void checkpoint() override {}
};

struct Fixture {
  test::TempDir tmp;
  fs::path root = tmp / "drop";
  spool::Spool spool{tmp / "state"};
  test::ManualClock clock;
  NullSink sink;
  std::atomic<bool> stop{false};
  std::unique_ptr<Source> source =
      dropbox::make_dropbox_source({"monthly", root, std::chrono::seconds(60), test::kFacility, "", {}, {}, {}, {}});
  std::unique_ptr<SourceState> state = spool.source_state("monthly");
  SourceStats stats;

  Fixture() { fs::create_directories(root); }
  void poll() {
    SourceContext ctx{clock, *state, sink, stop, stats, false};
    spool::Spool::Transaction tx(spool);
    source->poll(ctx);
    tx.commit();
  }
  fs::path drop(const std::string& name, const std::string& content, std::time_t mtime) {
    test::write_file(root / name, content);
    utimbuf t{mtime, mtime};
    ::utime((root / name).c_str(), &t);
    return root / name;
  }
  std::time_t past() const { return std::chrono::system_clock::to_time_t(clock.now()) - 3600; }
};
}  // namespace

TEST_CASE("dropbox: a file is examined only once its size and mtime held still across two polls") {
  Fixture f;
  f.drop("RECEIPTC.UKE", test::small_uke("1319999999"), f.past());
  f.poll();  // first sight: not yet known to be stable
  CHECK(fs::exists(f.root / "RECEIPTC.UKE"));
  CHECK(f.stats.waiting == 1);
  // Still being copied: it grew, and its mtime is fresh.
  f.drop("RECEIPTC.UKE", test::small_uke("1319999999") + "X", std::chrono::system_clock::to_time_t(f.clock.now()));
  f.poll();
  CHECK(fs::exists(f.root / "RECEIPTC.UKE"));
  f.clock.advance(std::chrono::seconds(61));
  f.poll();
  CHECK_FALSE(fs::exists(f.root / "RECEIPTC.UKE"));
  CHECK(fs::exists(f.root / "rejected/RECEIPTC.UKE"));
}

TEST_CASE("dropbox: another facility's file moves to rejected/ with a bilingual reason naming line and field") {
  Fixture f;
  f.drop("RECEIPTC.UKE", test::small_uke("1319999999"), f.past());
  f.poll();
  f.poll();
  REQUIRE(fs::exists(f.root / "rejected/RECEIPTC.UKE"));
  const std::string why = test::read_file(f.root / "rejected/RECEIPTC.UKE.reason.txt");
  CHECK(why.find("他の医療機関") != std::string::npos);
  CHECK(why.find("another facility") != std::string::npos);
  CHECK(why.find("1行目") != std::string::npos);
  CHECK(why.find("line 1, IR") != std::string::npos);
  CHECK(why.find("What to do:") != std::string::npos);
  CHECK(f.sink.records.empty());
  // The same name dropped again later does not overwrite the first rejection.
  f.drop("RECEIPTC.UKE", test::small_uke("1319999998"), f.past());
  f.poll();
  f.poll();
  CHECK(fs::exists(f.root / "rejected/RECEIPTC.UKE.2"));
  CHECK(fs::exists(f.root / "rejected/RECEIPTC.UKE.2.reason.txt"));
}

TEST_CASE("dropbox: an unknown file is rejected; a valid claim file goes to the spool once, then to processed/") {
  Fixture f;
  f.drop("notes.xlsx", "PK\x03\x04", f.past());
  f.drop("RECEIPTC.UKE", test::small_uke(), f.past());
  f.poll();
  f.poll();
  CHECK(fs::exists(f.root / "rejected/notes.xlsx"));
  CHECK(test::read_file(f.root / "rejected/notes.xlsx.reason.txt").find("not recognised") != std::string::npos);
  REQUIRE(f.sink.records.size() == 1);
  const auto& d = f.sink.records[0];
  CHECK(d.patient_id == "*uke");  // many patients: the sealer filters it (daemon/core/content_filter.hpp)
  CHECK(d.key == std::string("uke/") + test::kFacility + "/202501/payer-1/volume-99/medical");
  CHECK(d.parts.size() == 1);
  CHECK(fs::exists(f.root / "RECEIPTC.UKE"));  // moved only once the record is committed
  f.poll();
  CHECK_FALSE(fs::exists(f.root / "RECEIPTC.UKE"));
  CHECK(fs::exists(f.root / "processed/RECEIPTC.UKE"));
  // The same content dropped again is not sent again.
  f.drop("RECEIPTC.UKE", test::small_uke(), f.past());
  f.poll();
  f.poll();
  f.poll();
  CHECK(f.sink.records.size() == 1);
  CHECK(fs::exists(f.root / "processed/RECEIPTC.UKE.2"));
  // A corrected file for the same facility, month, payer and volume supersedes the first.
  std::string corrected = test::small_uke();
  corrected.replace(corrected.find("IY,21,1,620000001,1,10,1,"), 25, "IY,21,1,620000001,2,10,1,");
  f.drop("RECEIPTC.UKE", corrected, f.past());
  f.poll();
  f.poll();
  REQUIRE(f.sink.records.size() == 2);
  CHECK(f.sink.records[1].key == f.sink.records[0].key);
  std::string supersedes;
  for (const auto& [k, v] : f.sink.records[1].attributes)
    if (k == "supersedes") supersedes = v;
  CHECK(supersedes == f.sink.records[0].version);
  for (const auto& [k, v] : f.sink.records[0].attributes) CHECK(k != "supersedes");
}

TEST_CASE(
    "dropbox: the files of one month for other payers, volumes or claim kinds are not corrections of each other") {
  // Every hospital hands over a 社保 and a 国保 file each month; a DPC hospital also its DPC
  // claims; a large month comes in volumes. Each is a record of its own: none supersedes another.
  Fixture f;
  auto with = [](std::string uke, const std::string& from, const std::string& to) {
    uke.replace(uke.find(from), from.size(), to);
    return uke;
  };
  const std::string shaho = test::small_uke();
  f.drop("RECEIPTC.UKE", shaho, f.past());
  f.drop("KOKUHO_RECEIPTC.UKE", with(shaho, "IR,1,", "IR,2,"), f.past());
  f.drop("RECEIPTD.UKE", with(shaho, "SI,11,2,", "BU,140010xx99x0xx,20241201,,\r\nSI,11,2,"), f.past());
  f.drop("vol1_RECEIPTC.UKE", with(shaho, "GO,3,1500,99", "GO,,,01"), f.past());
  f.drop("RECEIPTC.HEN", with(shaho, "IY,21,1,620000001,1,", "IY,21,1,620000001,3,"), f.past());
  f.poll();
  f.poll();
  REQUIRE(f.sink.records.size() == 5);
  std::set<std::string> keys;
  for (const auto& r : f.sink.records) {
    keys.insert(r.key);
    for (const auto& attribute : r.attributes)
      CHECK_MESSAGE(attribute.first != "supersedes", r.path << " supersedes " << attribute.second);
  }
  CHECK(keys ==
        std::set<std::string>{std::string("uke/") + test::kFacility + "/202501/payer-1/volume-99/medical",
                              std::string("uke/") + test::kFacility + "/202501/payer-2/volume-99/medical",
                              std::string("uke/") + test::kFacility + "/202501/payer-1/volume-99/dpc",
                              std::string("uke/") + test::kFacility + "/202501/payer-1/volume-01/medical",
                              std::string("uke/") + test::kFacility + "/202501/payer-1/volume-99/medical-returned"});
}

TEST_CASE("dropbox: a rejected file that cannot be set aside stays, and the rest of the folder flows") {
  // Its name leaves no room for "<name>.reason.txt" and a temp suffix within 255 bytes.
  Fixture f;
  const std::string long_name = std::string(236, 'x') + ".txt";
  f.drop(long_name, "not a claim file", f.past());
  f.drop("RECEIPTC.UKE", test::small_uke(), f.past());
  f.poll();
  test::CapturedStderr log;
  f.poll();
  CHECK(f.sink.records.size() == 1);  // the valid file is taken in the same poll
  CHECK(fs::exists(f.root / long_name));
  CHECK(f.stats.unreadable == 1);
  CHECK(log.text().find("cannot be set aside with its reason") != std::string::npos);
  f.poll();  // tried again, not logged again
  CHECK(fs::exists(f.root / long_name));
  CHECK(log.count("cannot be set aside") == 1);
}

TEST_CASE("dropbox: DPC files are sent only of the kinds listed in dpc_send_kinds") {
  // Where データ識別番号 sits in an H or K file's rows is not publicly described: sent as an EF
  // file is, a row could be attributed by a ward code that happens to equal some data ID.
  test::TempDir tmp;
  fs::create_directories(tmp / "drop");
  spool::Spool spool{tmp / "state"};
  test::ManualClock clock;
  NullSink sink;
  std::atomic<bool> stop{false};
  SourceStats stats;
  auto state = spool.source_state("monthly");
  auto poll_with = [&](std::vector<std::string> kinds) {
    dropbox::DropboxOptions o;
    o.name = "monthly";
    o.root = tmp / "drop";
    o.site_facility = test::kFacility;
    o.dpc_filter = "dpc:monthly";
    if (!kinds.empty()) o.dpc_send_kinds = std::move(kinds);
    auto source = dropbox::make_dropbox_source(std::move(o));
    for (int i = 0; i < 2; ++i) {
      SourceContext ctx{clock, *state, sink, stop, stats, false};
      spool::Spool::Transaction tx(spool);
      source->poll(ctx);
      tx.commit();
    }
  };
  auto row = [](char id) {
    return "130000001\t000000000" + std::string(1, id) + "\t20250110\t20250105\t60\t0001\t000\t620600\r\n";
  };
  char id = '1';
  const std::time_t past = std::chrono::system_clock::to_time_t(clock.now()) - 3600;
  for (const char* name : {"EFn_130000001_2501.txt", "H_130000001_2501.txt", "survey.txt"}) {
    test::write_file(tmp / "drop" / name, row(id++));
    utimbuf t{past, past};
    ::utime((tmp / "drop" / name).c_str(), &t);
  }
  test::CapturedStderr log;
  poll_with({});
  REQUIRE(sink.records.size() == 1);
  CHECK(sink.records[0].kind == "DPC-EFn");
  CHECK(log.count("add H to dpc_send_kinds") == 1);
  CHECK(log.count("survey.txt is a valid DPC file (its name says no kind)") == 1);
  CHECK(fs::exists(tmp / "drop/H_130000001_2501.txt"));  // stays where staff put it
  poll_with({"EFn", "H"});                               // the site checked its H files' rows
  REQUIRE(sink.records.size() == 2);
  CHECK(sink.records[1].kind == "DPC-H");
}

TEST_CASE("dropbox: a health-checkup CDA document is recognised and left in place, not sent, not rejected") {
  Fixture f;
  f.drop(
      "kenshin.xml",
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\">...</ClinicalDocument>\n",
      f.past());
  f.poll();
  f.poll();
  f.poll();
  CHECK(fs::exists(f.root / "kenshin.xml"));
  CHECK_FALSE(fs::exists(f.root / "rejected"));
  CHECK(f.sink.records.empty());
}
