// The dicom-qr source against a real PACS: Orthanc (Debian package) in a private network namespace
// that has only loopback (Orthanc binds every interface), loaded with studies made by dump2dcm.
#include <doctest/doctest.h>

#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <set>
#include <thread>

#include "adapters/sources/dicom_common/qr_scu.hpp"
#include "adapters/sources/dicom_qr/qr_source.hpp"
#include "daemon/spool/spool.hpp"
#include "tests/adapters/sources/ssmix2/recording_sink.hpp"
#include "tests/support/manual_clock.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {

constexpr int kDicomPort = 14242;
constexpr int kHttpPort = 18042;
constexpr int kMovePort = 11113;

void enter_private_network() {
  static bool done = [] {
    REQUIRE_MESSAGE(::unshare(CLONE_NEWNET) == 0, "needs root for a private network namespace (Orthanc binds all interfaces)");
    REQUIRE(test::run("ip link set lo up") == 0);
    return true;
  }();
  (void)done;
}

struct Spec {
  std::string patient_id, study, series, sop, date;
  std::string sop_class = "=SecondaryCaptureImageStorage";
};

fs::path make_dcm(const fs::path& dir, const Spec& s) {
  fs::create_directories(dir);
  const std::string name = s.sop;
  std::string pixels;
  for (std::size_t i = 0; i < 256; ++i) pixels.push_back(static_cast<char>((i * 13 + s.sop.size() * 7) & 0xFF));
  test::write_file(dir / (name + ".raw"), pixels);
  std::string dump =
      "(0002,0001) OB 00\\01\n(0002,0002) UI " + s.sop_class + "\n(0002,0003) UI [" + s.sop +
      "]\n(0002,0010) UI =LittleEndianExplicit\n(0008,0016) UI " + s.sop_class + "\n(0008,0018) UI [" +
      s.sop + "]\n(0008,0020) DA [" + s.date + "]\n(0008,0060) CS [OT]\n(0010,0010) PN [Test^Patient]\n(0010,0020) LO [" +
      s.patient_id + "]\n(0020,000d) UI [" + s.study + "]\n(0020,000e) UI [" + s.series +
      "]\n(0028,0002) US 1\n(0028,0004) CS [MONOCHROME2]\n(0028,0010) US 16\n(0028,0011) US 16\n"
      "(0028,0100) US 8\n(0028,0101) US 8\n(0028,0102) US 7\n(0028,0103) US 0\n(7fe0,0010) OB =" +
      (dir / (name + ".raw")).string() + "\n";
  test::write_file(dir / (name + ".txt"), dump);
  fs::path out = dir / (name + ".dcm");
  REQUIRE(test::run("dump2dcm -q +te " + (dir / (name + ".txt")).string() + " " + out.string()) == 0);
  return out;
}

std::string dataset_of(const std::string& file) {
  REQUIRE(file.size() > 144);
  REQUIRE(file.substr(128, 4) == "DICM");
  std::uint32_t meta = 0;
  for (int i = 3; i >= 0; --i) meta = meta << 8 | static_cast<unsigned char>(file[140 + i]);
  return file.substr(144 + meta);
}

// Orthanc, started in the namespace and stopped by its pid.
struct Orthanc {
  test::TempDir& tmp;
  std::string pid;
  explicit Orthanc(test::TempDir& t) : tmp(t) {
    fs::create_directories(tmp / "orthanc-db");
    test::write_file(tmp / "orthanc.json",
                     "{ \"Name\":\"test-orthanc\", \"StorageDirectory\":\"" + (tmp / "orthanc-db").string() +
                         "\", \"IndexDirectory\":\"" + (tmp / "orthanc-db").string() +
                         "\", \"Plugins\":[], \"HttpPort\":" + std::to_string(kHttpPort) +
                         ", \"RemoteAccessAllowed\":false, \"AuthenticationEnabled\":false, \"DicomAet\":\"ORTHANC\","
                         " \"DicomPort\":" + std::to_string(kDicomPort) +
                         ", \"DicomCheckCalledAet\":false, \"DicomAlwaysAllowStore\":true, \"DicomAlwaysAllowFind\":false,"
                         " \"DicomAlwaysAllowGet\":false, \"DicomAlwaysAllowMove\":false,"
                         " \"DicomModalities\":{ \"edge\":{ \"AET\":\"SENNEN\",\"Host\":\"127.0.0.1\",\"Port\":" + std::to_string(kMovePort) + ","
                         " \"AllowFind\":true,\"AllowGet\":true,\"AllowMove\":true,\"AllowStore\":true,\"AllowEcho\":true } },"
                         " \"SaveJobs\":false, \"SynchronousCMove\":true, \"StableAge\":5, \"DicomThreadsCount\":4,"
                         " \"StorageAccessOnFind\":\"Never\" }\n");
    REQUIRE(test::run("env TCP_NODELAY=1 Orthanc --verbose " + (tmp / "orthanc.json").string() + " > " +
                      (tmp / "orthanc.log").string() + " 2>&1 & echo $! > " + (tmp / "orthanc.pid").string()) == 0);
    pid = test::read_file(tmp / "orthanc.pid");
    while (!pid.empty() && pid.back() == '\n') pid.pop_back();
    for (int i = 0; i < 100; ++i) {
      if (test::run("curl -sf http://127.0.0.1:" + std::to_string(kHttpPort) + "/system > /dev/null 2>&1") == 0 &&
          test::run("TCP_NODELAY=1 echoscu -aet SENNEN -aec ORTHANC 127.0.0.1 " + std::to_string(kDicomPort) +
                    " > /dev/null 2>&1") == 0)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("Orthanc did not start; see " << (tmp / "orthanc.log").string());
  }
  ~Orthanc() {
    if (pid.empty()) return;
    test::run("kill " + pid);
    for (int i = 0; i < 100 && test::run("kill -0 " + pid + " 2>/dev/null") == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  void store(const std::vector<fs::path>& files) {
    std::string cmd = "TCP_NODELAY=1 storescu -aet MODALITY -aec ORTHANC 127.0.0.1 " + std::to_string(kDicomPort);
    for (const auto& f : files) cmd += " " + f.string();
    REQUIRE(test::run(cmd) == 0);
  }
  // C-GET requests Orthanc received so far (its --verbose log names each).
  std::size_t get_requests() {
    const std::string log = test::read_file(tmp / "orthanc.log");
    std::size_t n = 0;
    for (auto at = log.find("C-GET-SCU request received"); at != std::string::npos;
         at = log.find("C-GET-SCU request received", at + 1))
      ++n;
    return n;
  }
  // The file Orthanc serves for an instance, by SOP Instance UID.
  std::string file_of(const std::string& sop) {
    const std::string base = "http://127.0.0.1:" + std::to_string(kHttpPort);
    std::string found = test::run_output("curl -sf -X POST " + base + "/tools/lookup -d " + sop);
    auto at = found.find("\"ID\"");
    REQUIRE(at != std::string::npos);
    auto q1 = found.find('"', found.find(':', at) + 1);
    auto q2 = found.find('"', q1 + 1);
    std::string id = found.substr(q1 + 1, q2 - q1 - 1);
    fs::path out = tmp / ("orthanc-" + sop + ".dcm");
    REQUIRE(test::run("curl -sf -o " + out.string() + " " + base + "/instances/" + id + "/file") == 0);
    return test::read_file(out);
  }
};

dicom::PeerOptions orthanc_peer() {
  dicom::PeerOptions peer;
  peer.host = "127.0.0.1";
  peer.port = kDicomPort;
  peer.ae_title = "ORTHANC";
  peer.local_ae_title = "SENNEN";
  peer.acse_timeout = std::chrono::seconds(5);
  peer.dimse_timeout = std::chrono::seconds(10);
  return peer;
}

struct Fixture {
  test::TempDir tmp;
  fs::path state_dir = tmp / "state";
  spool::Spool spool{state_dir};
  test::ManualClock clock;
  test::RecordingSink sink;
  std::atomic<bool> stop{false};
  SourceStats stats;
  std::unique_ptr<SourceState> state = spool.source_state("pacs");
  std::unique_ptr<Source> source;

  explicit Fixture(dicom::Retrieve retrieve = dicom::Retrieve::get) {
    dicom::QrSourceOptions o;
    o.retrieve = retrieve;
    o.move_port = kMovePort;       // Orthanc's DicomModalities entry for SENNEN
    o.move_address = "127.0.0.1";  // and only on loopback
    o.utc_offset_minutes = 9 * 60;
    o.name = "pacs";
    o.state_dir = state_dir;
    o.peer = orthanc_peer();
    o.since = "20150101";
    o.lookback_days = 2;
    o.patient_id = {true, 8};
    o.min_free = 1 << 20;
    source = dicom::make_dicom_qr_source(std::move(o));
  }
  void poll() {
    sink.clear();
    SourceContext ctx{clock, *state, sink, stop, stats, false};
    spool::Spool::Transaction tx(spool);
    source->poll(ctx);
    tx.commit();
  }
};

std::string attr(const RecordDraft& d, const std::string& key) {
  for (const auto& [k, v] : d.attributes)
    if (k == key) return v;
  return "(none)";
}

// Each instance once, byte-exact (the data set Orthanc serves); a grown study completed by the
// next poll; the same whether instances come back over C-GET or through our C-MOVE acceptor.
void retrieve_from_orthanc(dicom::Retrieve retrieve) {
  enter_private_network();
  Fixture f(retrieve);
  Orthanc pacs(f.tmp);

  const std::string root = "1.2.826.0.1.3680043.9.7434.";
  std::vector<Spec> specs;
  auto add = [&](const std::string& patient, int study, int inst, const std::string& date) {
    const std::string st = root + std::to_string(study);
    specs.push_back({patient, st, st + ".1", st + ".1." + std::to_string(inst), date});
  };
  // Study 1 is dated today (in Japan): after the first poll the watermark is today, and only
  // studies within `lookback` of it are queried again (that is where a growing study is found).
  std::time_t now = std::chrono::system_clock::to_time_t(f.clock.now() + std::chrono::hours(9));
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char today[16];
  std::strftime(today, sizeof today, "%Y%m%d", &tm);
  add("000123", 1, 1, today);
  add("000123", 1, 2, today);
  add("000123", 2, 1, "20240301");
  add("98765", 3, 1, "20240302");
  add("98765", 3, 2, "20240302");
  add("98765", 3, 3, "20240302");
  specs.back().sop_class = "[1.2.840.10008.5.1.4.1.1.77.1.4]";  // VL Photographic: not in the default proposal
  add("555", 4, 1, "20100101");  // before `since`: never retrieved
  std::vector<fs::path> files;
  for (const auto& s : specs) files.push_back(make_dcm(f.tmp / "dcm", s));
  pacs.store(files);

  f.poll();
  std::map<std::string, int> seen;
  for (const auto& r : f.sink.records) {
    const std::string sop = attr(r.draft, "sop_instance_uid");
    ++seen[sop];
    CHECK(dataset_of(r.contents.at(0)) == dataset_of(pacs.file_of(sop)));
    CHECK(r.draft.source == "pacs");
  }
  CHECK(f.sink.records.size() == 6);
  CHECK(seen.size() == 6);
  CHECK(seen.count(root + "4.1.1") == 0);
  for (const auto& r : f.sink.records)
    if (attr(r.draft, "study_uid") == root + "1") CHECK(r.draft.patient_id == "00000123");
  CHECK(f.sink.quarantined.empty());

  f.poll();  // nothing new
  CHECK(f.sink.records.empty());

  // Study 1 grows; the next poll brings only the new instance.
  Spec grown{"000123", root + "1", root + "1.2", root + "1.2.1", today};
  pacs.store({make_dcm(f.tmp / "dcm2", grown)});
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  CHECK(attr(f.sink.records[0].draft, "sop_instance_uid") == grown.sop);
  CHECK(dataset_of(f.sink.records[0].contents.at(0)) == dataset_of(pacs.file_of(grown.sop)));

  f.poll();
  CHECK(f.sink.records.empty());

  // Everything retrieved ended in store/ once: 7 files, no leftovers in incoming/.
  std::size_t stored = 0;
  for (const auto& e : fs::recursive_directory_iterator(f.state_dir / "dicom" / "pacs" / "store"))
    if (e.is_regular_file()) ++stored;
  CHECK(stored == 7);
  std::size_t left = 0;
  for (const auto& e : fs::directory_iterator(f.state_dir / "dicom" / "pacs" / "incoming")) (void)e, ++left;
  CHECK(left == 0);
}

}  // namespace

TEST_CASE("dicom-qr: C-FIND + C-GET from Orthanc; each instance once, byte-exact; grown studies completed") {
  retrieve_from_orthanc(dicom::Retrieve::get);
}

TEST_CASE("dicom-qr: retrieve: move, C-MOVE to our own acceptor; each instance once, byte-exact; grown studies completed") {
  retrieve_from_orthanc(dicom::Retrieve::move);
}

TEST_CASE("dicom-qr: the watermark is the site's calendar day, not the box's") {
  enter_private_network();
  Fixture f;
  Orthanc pacs(f.tmp);
  // 2024-05-01 16:30 UTC is already 2024-05-02 in Japan, where StudyDate is written.
  f.clock.set(std::chrono::sys_days{std::chrono::year{2024} / 5 / 1} + std::chrono::hours(16) +
              std::chrono::minutes(30));
  f.poll();
  auto wm = f.state->units("qr/watermark");
  REQUIRE(wm.size() == 1);
  CHECK(wm[0].status == "20240502");
}

TEST_CASE("dicom-qr: a study the PACS cannot deliver in full is reported, keeps the watermark back and is retried") {
  enter_private_network();
  Fixture f;
  Orthanc pacs(f.tmp);
  const std::string st = "1.2.826.0.1.3680043.9.7435.1";
  Spec ok{"4242", st, st + ".1", st + ".1.1", "20240501"};
  // A SeriesInstanceUID that is no UID: we refuse the sub-operation (and quarantine the data set).
  Spec odd{"4242", st, st + ".2x", st + ".1.2", "20240501"};
  pacs.store({make_dcm(f.tmp / "dcm", ok), make_dcm(f.tmp / "dcm", odd)});

  // Orthanc 1.10 ends the whole C-GET at the first failed sub-operation, so whether `ok` arrives
  // depends on its order; what must hold either way: never the odd one, the study reported as
  // incomplete with the count of what arrived, the watermark kept at its date.
  f.poll();
  const std::size_t got = f.sink.records.size();
  CHECK(got <= 1);
  for (const auto& r : f.sink.records) CHECK(attr(r.draft, "sop_instance_uid") == ok.sop);
  CHECK(f.stats.waiting == 1);
  auto studies = f.state->units("qr/studies");
  REQUIRE(studies.size() == 1);
  CHECK(studies[0].status == "incomplete " + std::to_string(got) + "/2");
  auto wm = f.state->units("qr/watermark");
  REQUIRE(wm.size() == 1);
  CHECK(wm[0].status == "20240501");  // not today: the incomplete study is queried again

  CHECK(f.sink.quarantined.size() == 1);

  f.poll();  // retried: still incomplete, nothing handed over twice
  CHECK(f.sink.records.size() <= 1 - got);
  CHECK(f.stats.waiting == 1);
  CHECK(f.state->units("qr/studies").at(0).status.rfind("incomplete ", 0) == 0);
}

// Orthanc answers a C-FIND once per (PatientID, StudyInstanceUID), each answer counting only its
// own patient's instances. The study is still retrieved once, and each instance is handed over
// with the PatientID it carries (what the gate decides on), not a match's.
TEST_CASE("dicom-qr: a study holding two patients' instances is found once, retrieved once; each instance keeps its own PatientID") {
  enter_private_network();
  Fixture f;
  Orthanc pacs(f.tmp);
  const std::string st = "1.2.826.0.1.3680043.9.7436.1";
  const std::vector<Spec> specs{{"1111", st, st + ".1", st + ".1.1", "20240601"},
                                {"1111", st, st + ".1", st + ".1.2", "20240601"},
                                {"2222", st, st + ".2", st + ".2.1", "20240601"}};
  std::vector<fs::path> files;
  for (const auto& s : specs) files.push_back(make_dcm(f.tmp / "dcm", s));
  pacs.store(files);

  std::vector<dicom::StudyMatch> found = dicom::QrAssociation(orthanc_peer()).find_studies("20240101-");
  REQUIRE(found.size() == 1);
  CHECK(found[0].study_uid == st);
  CHECK(found[0].instances == std::optional<std::uint64_t>(2));  // the larger of the two answers' counts

  const std::size_t gets_before = pacs.get_requests();
  f.poll();
  CHECK(pacs.get_requests() - gets_before == 1);
  std::map<std::string, std::string> patient_of;
  for (const auto& r : f.sink.records) patient_of[attr(r.draft, "sop_instance_uid")] += r.draft.patient_id;
  CHECK(f.sink.records.size() == 3);
  CHECK(patient_of == std::map<std::string, std::string>{
                          {specs[0].sop, "00001111"}, {specs[1].sop, "00001111"}, {specs[2].sop, "00002222"}});
  auto studies = f.state->units("qr/studies");
  REQUIRE(studies.size() == 1);
  CHECK(studies[0].status == "complete");
  CHECK(studies[0].size == 3);
}
