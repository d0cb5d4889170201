// The dicom-qr source against a real PACS: Orthanc (Debian package) in a private network namespace
// that has only loopback (Orthanc binds every interface), loaded with studies made by dump2dcm.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <thread>

#include "adapters/sources/dicom_common/qr_scu.hpp"
#include "tests/adapters/sources/dicom_qr/qr_fixture.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {

constexpr int kDicomPort = 14242;
constexpr int kHttpPort = 18042;
constexpr int kMovePort = 11113;

struct Spec {
  std::string patient_id, study, series, sop, date;
  std::string sop_class = "=SecondaryCaptureImageStorage";
  int frames = 1;
  int side = 16;
  std::string patient_name = "Test^Patient";
  std::string charset = {};  // SpecificCharacterSet (0008,0005), when not the default repertoire
};

fs::path make_dcm(const fs::path& dir, const Spec& s) {
  fs::create_directories(dir);
  const std::string name = s.sop;
  std::string pixels;
  const std::size_t n = static_cast<std::size_t>(s.side) * s.side * s.frames;
  for (std::size_t i = 0; i < n; ++i) pixels.push_back(static_cast<char>((i * 13 + s.sop.size() * 7) & 0xFF));
  test::write_file(dir / (name + ".raw"), pixels);
  std::string dump = "(0002,0001) OB 00\\01\n(0002,0002) UI " + s.sop_class + "\n(0002,0003) UI [" + s.sop +
                     "]\n(0002,0010) UI =LittleEndianExplicit\n" +
                     (s.charset.empty() ? std::string() : "(0008,0005) CS [" + s.charset + "]\n") + "(0008,0016) UI " +
                     s.sop_class + "\n(0008,0018) UI [" + s.sop + "]\n(0008,0020) DA [" + s.date +
                     "]\n(0008,0060) CS [OT]\n(0010,0010) PN [" + s.patient_name + "]\n(0010,0020) LO [" +
                     s.patient_id + "]\n(0020,000d) UI [" + s.study + "]\n(0020,000e) UI [" + s.series +
                     "]\n(0028,0002) US 1\n(0028,0004) CS [MONOCHROME2]\n" +
                     (s.frames > 1 ? "(0028,0008) IS [" + std::to_string(s.frames) + "]\n" : std::string()) +
                     "(0028,0010) US " + std::to_string(s.side) + "\n(0028,0011) US " + std::to_string(s.side) +
                     "\n"
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
  // storage_access_on_find "Always": Orthanc reads its files to answer C-FIND, and so reports each
  // instance's SOPClassUID at IMAGE level ("Never" leaves it empty).
  explicit Orthanc(test::TempDir& t, const std::string& storage_access_on_find = "Never") : tmp(t) {
    fs::create_directories(tmp / "orthanc-db");
    test::write_file(
        tmp / "orthanc.json",
        "{ \"Name\":\"test-orthanc\", \"StorageDirectory\":\"" + (tmp / "orthanc-db").string() +
            "\", \"IndexDirectory\":\"" + (tmp / "orthanc-db").string() +
            "\", \"Plugins\":[], \"HttpPort\":" + std::to_string(kHttpPort) +
            ", \"RemoteAccessAllowed\":false, \"AuthenticationEnabled\":false, \"DicomAet\":\"ORTHANC\","
            " \"DicomPort\":" +
            std::to_string(kDicomPort) +
            ", \"DicomCheckCalledAet\":false, \"DicomAlwaysAllowStore\":true, \"DicomAlwaysAllowFind\":false,"
            " \"DicomAlwaysAllowGet\":false, \"DicomAlwaysAllowMove\":false,"
            " \"DicomModalities\":{ \"edge\":{ \"AET\":\"SENNEN\",\"Host\":\"127.0.0.1\",\"Port\":" +
            std::to_string(kMovePort) +
            ","
            " \"AllowFind\":true,\"AllowGet\":true,\"AllowMove\":true,\"AllowStore\":true,\"AllowEcho\":true } },"
            " \"SaveJobs\":false, \"SynchronousCMove\":true, \"StableAge\":5, \"DicomThreadsCount\":4,"
            " \"StorageAccessOnFind\":\"" +
            storage_access_on_find + "\" }\n");
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
  // Sends each file proposing only its own transfer syntax, so that Orthanc stores it so.
  void store_as_is(const std::vector<fs::path>& files) {
    for (const auto& f : files) {
      const std::string ts = test::run_output("dcmdump -q -M +P 0002,0010 " + f.string());
      std::string cmd = "TCP_NODELAY=1 dcmsend -q --decompress-never -aet MODALITY -aec ORTHANC 127.0.0.1 " +
                        std::to_string(kDicomPort) + " " + f.string();
      if (ts.find("=BigEndianExplicit") != std::string::npos || ts.find("=LittleEndianImplicit") != std::string::npos)
        cmd = "TCP_NODELAY=1 storescu " + std::string(ts.find("=Big") != std::string::npos ? "-xb" : "-xi") +
              " -aet MODALITY -aec ORTHANC 127.0.0.1 " + std::to_string(kDicomPort) + " " + f.string();
      REQUIRE(test::run(cmd) == 0);
    }
  }
  // The transfer syntax Orthanc stores an instance in.
  std::string stored_syntax(const std::string& sop) {
    return test::run_output("curl -sf http://127.0.0.1:" + std::to_string(kHttpPort) + "/instances/" + id_of(sop) +
                            "/metadata/TransferSyntax");
  }
  std::string id_of(const std::string& sop) {
    const std::string found =
        test::run_output("curl -sf -X POST http://127.0.0.1:" + std::to_string(kHttpPort) + "/tools/lookup -d " + sop);
    auto at = found.find("\"ID\"");
    REQUIRE(at != std::string::npos);
    auto q1 = found.find('"', found.find(':', at) + 1);
    auto q2 = found.find('"', q1 + 1);
    return found.substr(q1 + 1, q2 - q1 - 1);
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
    const std::string id = id_of(sop);
    fs::path out = tmp / ("orthanc-" + sop + ".dcm");
    REQUIRE(test::run("curl -sf -o " + out.string() + " " + base + "/instances/" + id + "/file") == 0);
    return test::read_file(out);
  }
};

dicom::PeerOptions orthanc_peer() { return test::loopback_peer(kDicomPort, "ORTHANC", std::chrono::seconds(10)); }

// Orthanc's DicomModalities entry for SENNEN is kMovePort.
struct Fixture : test::QrFixture {
  explicit Fixture(dicom::Retrieve retrieve = dicom::Retrieve::get, std::uint64_t min_free = 1 << 20,
                   std::string since = "20150101")
      : QrFixture(options(retrieve, min_free, std::move(since))) {}
  static dicom::QrSourceOptions options(dicom::Retrieve retrieve, std::uint64_t min_free, std::string since) {
    auto o = test::qr_options(retrieve, orthanc_peer(), kMovePort);
    o.min_free = min_free;
    o.since = std::move(since);
    return o;
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
  test::enter_private_network();
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
  add("555", 4, 1, "20100101");                                 // before `since`: never retrieved
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

TEST_CASE(
    "dicom-qr: retrieve: move, C-MOVE to our own acceptor; each instance once, byte-exact; grown studies completed") {
  retrieve_from_orthanc(dicom::Retrieve::move);
}

TEST_CASE("dicom-qr: the watermark is the site's calendar day, not the box's") {
  test::enter_private_network();
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

std::string site_today(const test::ManualClock& clock) {
  std::time_t now = std::chrono::system_clock::to_time_t(clock.now() + std::chrono::hours(9));
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char today[16];
  std::strftime(today, sizeof today, "%Y%m%d", &tm);
  return today;
}

// A refused instance (here a SeriesInstanceUID that is no UID) is quarantined once and counts
// toward its study: the study is complete with a refusal, not retrieved again, and when it grows
// and comes again the same refusal is not quarantined again.
TEST_CASE(
    "dicom-qr: a study with a refused instance is retrieved once, quarantined once and reported complete with "
    "refusals") {
  test::enter_private_network();
  Fixture f;
  Orthanc pacs(f.tmp);
  const std::string today = site_today(f.clock);
  const std::string st = "1.2.826.0.1.3680043.9.7435.1";
  Spec ok{"4242", st, st + ".1", st + ".1.1", today};
  Spec odd{"4242", st, st + ".2x", st + ".1.2", today};
  pacs.store({make_dcm(f.tmp / "dcm", ok), make_dcm(f.tmp / "dcm", odd)});

  std::size_t gets = pacs.get_requests();
  f.poll();
  CHECK(pacs.get_requests() - gets == 1);
  REQUIRE(f.sink.records.size() == 1);  // the rest of the study came, though one was refused
  CHECK(attr(f.sink.records[0].draft, "sop_instance_uid") == ok.sop);
  CHECK(f.sink.quarantined.size() == 1);
  CHECK(f.stats.waiting == 0);
  auto studies = f.state->units("qr/studies");
  REQUIRE(studies.size() == 1);
  CHECK(studies[0].status == "complete with 1 refused");
  CHECK(f.state->units("qr/watermark").at(0).status == today);

  gets = pacs.get_requests();
  f.poll();  // nothing new: not retrieved, nothing quarantined again
  CHECK(pacs.get_requests() == gets);
  CHECK(f.sink.records.empty());
  CHECK(f.sink.quarantined.empty());

  Spec grown{"4242", st, st + ".1", st + ".1.3", today};
  pacs.store({make_dcm(f.tmp / "dcm2", grown)});
  f.poll();  // retrieved again for the new instance; the refused one comes again and is dropped
  REQUIRE(f.sink.records.size() == 1);
  CHECK(attr(f.sink.records[0].draft, "sop_instance_uid") == grown.sop);
  CHECK(f.sink.quarantined.empty());
  CHECK(f.state->units("qr/studies").at(0).status == "complete with 1 refused");
}

// A study without StudyDate that cannot be retrieved now (here: no disk space, A700) does not
// hold the watermark back, and is still retried, by its UID, on the next poll. (Only a query
// without a date range finds it at first: no `since`, no watermark yet.)
TEST_CASE("dicom-qr: an incomplete study without StudyDate neither pins the watermark nor is forgotten") {
  test::enter_private_network();
  Fixture f(dicom::Retrieve::get, std::uint64_t{1} << 62, "");  // min_free beyond any disk: every instance is A700
  Orthanc pacs(f.tmp);
  const std::string st = "1.2.826.0.1.3680043.9.7440.1";
  pacs.store({make_dcm(f.tmp / "dcm", {"4242", st, st + ".1", st + ".1.1", ""})});
  f.poll();
  CHECK(f.stats.waiting == 1);
  CHECK(f.state->units("qr/studies").at(0).status.rfind("incomplete", 0) == 0);
  REQUIRE(f.state->units("qr/watermark").size() == 1);
  CHECK(f.state->units("qr/watermark").at(0).status == site_today(f.clock));
  const std::size_t gets = pacs.get_requests();
  f.poll();
  CHECK(pacs.get_requests() - gets == 1);
  CHECK(f.stats.waiting == 1);
}

// Orthanc answers a C-FIND once per (PatientID, StudyInstanceUID), each answer counting only its
// own patient's instances. The study is still retrieved once, and each instance is handed over
// with the PatientID it carries (what the gate decides on), not a match's.
TEST_CASE(
    "dicom-qr: a study holding two patients' instances is found once, retrieved once; each instance keeps its own "
    "PatientID") {
  test::enter_private_network();
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

// Objects in every transfer syntax DCMTK writes (some multi-frame, some with an ISO 2022 IR 87
// name), of five SOP classes in one study: Orthanc (which
// does not report AvailableTransferSyntaxUID) must be offered every syntax for each class, so the
// study needs two associations, each asking for its instances at IMAGE level. Each instance
// arrives in the syntax Orthanc stores it in, byte-exact, and its record names that syntax.
void every_transfer_syntax(dicom::Retrieve retrieve) {
  test::enter_private_network();
  Fixture f(retrieve);
  Orthanc pacs(f.tmp, "Always");
  const std::string st = "1.2.826.0.1.3680043.9.7438.1";
  const char* classes[] = {"=SecondaryCaptureImageStorage", "[1.2.840.10008.5.1.4.1.1.77.1.4]",
                           "=MultiframeGrayscaleByteSecondaryCaptureImageStorage", "=UltrasoundMultiframeImageStorage",
                           "=CTImageStorage"};
  // The converter (+un: a lossy one keeps the SOP Instance UID), and the transfer syntax it writes.
  const std::vector<std::pair<std::string, std::string>> converters = {
      {"dcmconv +tb", "1.2.840.10008.1.2.2"},         {"dcmconv +ti", "1.2.840.10008.1.2"},
      {"dcmconv +td", "1.2.840.10008.1.2.1.99"},      {"dcmcjpeg +un +eb", "1.2.840.10008.1.2.4.50"},
      {"dcmcjpeg +un +ee", "1.2.840.10008.1.2.4.51"}, {"dcmcjpeg +un +es", "1.2.840.10008.1.2.4.53"},
      {"dcmcjpeg +un +ep", "1.2.840.10008.1.2.4.55"}, {"dcmcjpeg +el", "1.2.840.10008.1.2.4.57"},
      {"dcmcjpeg +e1", "1.2.840.10008.1.2.4.70"},     {"dcmcjpls +el", "1.2.840.10008.1.2.4.80"},
      {"dcmcjpls +un +en", "1.2.840.10008.1.2.4.81"}, {"dcmcrle", "1.2.840.10008.1.2.5"},
      {"dcmconv +te", "1.2.840.10008.1.2.1"}};
  std::vector<fs::path> files;
  std::map<std::string, std::string> syntax_of;
  for (std::size_t i = 0; i < converters.size(); ++i) {
    const std::string sop = st + ".1." + std::to_string(i + 1);
    Spec spec{"7777", st, st + ".1", sop, "20240701", classes[i % std::size(classes)]};
    spec.frames = i % 3 == 2 ? 3 : 1;  // multi-frame too
    spec.side = 32;
    if (i % 4 == 1) {  // a Japanese name in ISO 2022 IR 87 (JIS X 0208 between ESC $ B and ESC ( B)
      spec.charset = "\\ISO 2022 IR 87";
      spec.patient_name = "Yamada^Taro=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B";
    }
    const fs::path plain = make_dcm(f.tmp / "plain", spec);
    const fs::path out = f.tmp / "dcm" / (sop + ".dcm");
    fs::create_directories(out.parent_path());
    REQUIRE(test::run(converters[i].first + " " + plain.string() + " " + out.string()) == 0);
    REQUIRE(test::run_output("dcmdump -q -Un -M +P 0002,0010 " + out.string()).find(converters[i].second) !=
            std::string::npos);
    if (!spec.charset.empty())
      REQUIRE(test::run_output("dcmdump -q +P 0010,0010 " + out.string()).find("\x1b$B;3ED") != std::string::npos);
    files.push_back(out);
    syntax_of[sop] = converters[i].second;
  }
  pacs.store_as_is(files);
  for (const auto& [sop, ts] : syntax_of) REQUIRE(pacs.stored_syntax(sop) == ts);

  const std::size_t gets_before = pacs.get_requests();
  f.poll();
  if (retrieve == dicom::Retrieve::get) CHECK(pacs.get_requests() - gets_before == 2);  // two associations
  std::map<std::string, std::string> arrived;
  for (const auto& r : f.sink.records) {
    const std::string sop = attr(r.draft, "sop_instance_uid");
    arrived[sop] = attr(r.draft, "transfer_syntax");
    if (syntax_of[sop] == "1.2.840.10008.1.2.1.99") {
      // Deflated: the sender deflates the data set as it sends it (Orthanc's zlib run, not the
      // bytes of its file), so the same elements, in a deflate stream of its own.
      const fs::path ours = f.tmp / "ours.dcm", theirs = f.tmp / "theirs.dcm";
      test::write_file(ours, r.contents.at(0));
      test::write_file(theirs, pacs.file_of(sop));
      CHECK(test::run_output("dcmdump -q " + ours.string() + " | grep -v '^(0002,'") ==
            test::run_output("dcmdump -q " + theirs.string() + " | grep -v '^(0002,'"));
    } else {
      CHECK_MESSAGE(dataset_of(r.contents.at(0)) == dataset_of(pacs.file_of(sop)), "instance " << sop);
    }
    CHECK(attr(r.draft, "stored_transfer_syntax") == "(none)");  // Orthanc does not report it
  }
  CHECK(arrived == syntax_of);
  CHECK(f.sink.quarantined.empty());
  CHECK(f.state->units("qr/studies").at(0).status == "complete");
}

TEST_CASE(
    "dicom-qr: C-GET brings every transfer syntax DCMTK writes as Orthanc stores it, byte-exact, across two "
    "associations") {
  every_transfer_syntax(dicom::Retrieve::get);
}

TEST_CASE(
    "dicom-qr: plan_get proposes the syntaxes a PACS reports, else every one DCMTK knows, split within 128 contexts") {
  const auto& known = dicom::known_transfer_syntaxes();
  CHECK(known.size() >= 40);
  for (const char* ts : {"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81",
                         "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.5"})
    CHECK(std::find(known.begin(), known.end(), ts) != known.end());

  dicom::StudyMatch study{"1.2.3", "20240101", 3, {}};
  // Reported: the class gets what its instances are stored in, and both little endian ones.
  std::vector<dicom::InstanceMatch> reported = {
      {"1.2.3.1", "1.2.3.1.1", "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.1.2.4.81"},
      {"1.2.3.1", "1.2.3.1.2", "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.1.2.2"}};
  auto plan = dicom::plan_get(study, reported);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].instances.empty());  // the whole study, one C-GET
  REQUIRE(plan[0].contexts.classes.size() == 1);
  CHECK(plan[0].contexts.classes[0].second == std::vector<std::string>{"1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.2",
                                                                       "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"});

  // Not reported, five classes: every syntax for each, so three classes per association, and each
  // association asks for its own instances.
  std::vector<dicom::InstanceMatch> unreported;
  for (int c = 1; c <= 5; ++c)
    unreported.push_back(
        {"1.2.3.1", "1.2.3.1." + std::to_string(c), "1.2.840.10008.5.1.4.1.1." + std::to_string(c), ""});
  plan = dicom::plan_get(study, unreported);
  REQUIRE(plan.size() == 2);
  std::size_t asked = 0;
  for (const auto& part : plan) {
    CHECK(part.contexts.count() <= dicom::kStorageContexts);
    for (const auto& cls : part.contexts.classes) CHECK(cls.second == known);
    for (const auto& [series, sops] : part.instances) asked += sops.size();
  }
  CHECK(asked == 5);

  // An instance whose class the PACS does not name: the study's classes, in one association.
  unreported[2].sop_class.clear();
  study.sop_classes = {"1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.2"};
  plan = dicom::plan_get(study, unreported);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].instances.empty());
  CHECK(plan[0].contexts.classes.size() == 2);
  CHECK(plan[0].contexts.count() <= dicom::kStorageContexts);
}

// A PACS that reports storing an instance in one syntax and sends it in another transcoded it: the
// record says so, and the transcoding is counted for the heartbeat. Orthanc 1.10 does not report
// AvailableTransferSyntaxUID, so what such a PACS would have said is put where the source keeps it
// between the IMAGE-level C-FIND and the instance's arrival.
TEST_CASE("dicom-qr: an instance arriving in another syntax than the PACS reported storing is marked and counted") {
  test::enter_private_network();
  Fixture f;
  Orthanc pacs(f.tmp);
  const std::string st = "1.2.826.0.1.3680043.9.7439.1";
  Spec a{"4242", st, st + ".1", st + ".1.1", "20240501"}, b{"4242", st, st + ".1", st + ".1.2", "20240501"};
  pacs.store({make_dcm(f.tmp / "dcm", a), make_dcm(f.tmp / "dcm", b)});
  f.state->put_unit("qr/stored_ts/" + st, {a.sop, 0, 0, 0, "1.2.840.10008.1.2.4.80"});  // JPEG-LS, it would say
  f.state->put_unit("qr/stored_ts/" + st, {b.sop, 0, 0, 0, "1.2.840.10008.1.2.1"});     // as it is
  f.poll();
  REQUIRE(f.sink.records.size() == 2);
  for (const auto& r : f.sink.records) {
    const bool transcoded = attr(r.draft, "sop_instance_uid") == a.sop;
    CHECK(attr(r.draft, "transfer_syntax") == "1.2.840.10008.1.2.1");
    CHECK(attr(r.draft, "stored_transfer_syntax") == (transcoded ? "1.2.840.10008.1.2.4.80" : "(none)"));
  }
  CHECK(f.stats.events["instances transcoded by"]["ORTHANC"].total == 1);
  CHECK(f.stats.events["instances transcoded by"]["ORTHANC"].last_poll == 1);
  CHECK(f.state->units("qr/stored_ts/" + st).empty());
  f.poll();
  CHECK(f.stats.events["instances transcoded by"]["ORTHANC"].total == 1);
  CHECK(f.stats.events["instances transcoded by"]["ORTHANC"].last_poll == 0);
}

namespace {
// What the code under test writes to stderr (the log) while it lives.
struct StderrCapture {
  fs::path file;
  int saved = -1;
  explicit StderrCapture(fs::path f) : file(std::move(f)) {
    std::fflush(stderr);
    saved = ::dup(2);
    FILE* out = std::fopen(file.c_str(), "w");
    REQUIRE(out);
    ::dup2(::fileno(out), 2);
    std::fclose(out);
  }
  std::string text() {
    std::fflush(stderr);
    return test::read_file(file);
  }
  ~StderrCapture() {
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
  }
};
}  // namespace

TEST_CASE("dicom-qr: a study whose StudyInstanceUID is no UID is skipped with a message naming it and the PACS") {
  test::enter_private_network();
  Fixture f;
  Orthanc pacs(f.tmp);
  const std::string st = "1.2.826.0.1.3680043.9.7441.1x";
  pacs.store({make_dcm(
      f.tmp / "dcm", {"4242", st, "1.2.826.0.1.3680043.9.7441.1.1", "1.2.826.0.1.3680043.9.7441.1.1.1", "20240501"})});
  StderrCapture log(f.tmp / "stderr.txt");
  f.poll();
  const std::string said = log.text();
  CHECK(f.sink.records.empty());
  CHECK_MESSAGE(said.find("'" + st + "' is not a valid UID") != std::string::npos, said);
  CHECK_MESSAGE(said.find("ORTHANC at 127.0.0.1:" + std::to_string(kDicomPort)) != std::string::npos, said);
}

// What was taken in is remembered by SOP Instance UID and hash, not by the copy in store/: a study
// retrieved again because it grew brings back only the new instance even when store/ no longer
// holds the others.
TEST_CASE("dicom-qr: instances taken in before are not handed over again when their study comes again") {
  test::enter_private_network();
  Fixture f;
  Orthanc pacs(f.tmp);
  const std::string today = site_today(f.clock);
  const std::string st = "1.2.826.0.1.3680043.9.7442.1";
  pacs.store({make_dcm(f.tmp / "dcm", {"4242", st, st + ".1", st + ".1.1", today}),
              make_dcm(f.tmp / "dcm", {"4242", st, st + ".1", st + ".1.2", today})});
  f.poll();
  REQUIRE(f.sink.records.size() == 2);
  f.poll();  // moves them to store/
  fs::remove_all(f.state_dir / "dicom" / "pacs" / "store");
  fs::create_directories(f.state_dir / "dicom" / "pacs" / "store");
  pacs.store({make_dcm(f.tmp / "dcm2", {"4242", st, st + ".1", st + ".1.3", today})});
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  CHECK(attr(f.sink.records[0].draft, "sop_instance_uid") == st + ".1.3");
  CHECK(f.state->units("qr/studies").at(0).status == "complete");
}

TEST_CASE("dicom-qr: retrieve: move brings every transfer syntax DCMTK writes as Orthanc stores it, byte-exact") {
  every_transfer_syntax(dicom::Retrieve::move);
}

// A poll retrieves study after study in one spool transaction. Found by the fault campaign's power
// cuts: the take() after the second study's retrieve moved the first study's files into store/
// although their records were not committed yet; killed before the commit, the next poll found
// them in store/, dropped the retrieved copies as "already held", and the study was lost for good.
TEST_CASE("dicom-qr: a poll killed before its commit loses nothing: every study is handed over again") {
  test::enter_private_network();
  Fixture f;
  Orthanc pacs(f.tmp);
  const std::string root = "1.2.826.0.1.3680043.9.7443.";
  std::vector<fs::path> files;
  for (int study = 1; study <= 2; ++study)
    for (int inst = 1; inst <= 2; ++inst) {
      const std::string st = root + std::to_string(study);
      files.push_back(make_dcm(f.tmp / "dcm", Spec{"3333", st, st + ".1", st + ".1." + std::to_string(inst),
                                                   "2024050" + std::to_string(study)}));
    }
  pacs.store(files);
  {
    SourceContext ctx{f.clock, *f.state, f.sink, f.stop, f.stats, false};
    spool::Spool::Transaction tx(f.spool);
    f.source->poll(ctx);
    tx.rollback();  // the process died before the poll's commit
  }
  REQUIRE(f.sink.records.size() == 4);
  f.poll();  // the copies retrieved again are the same versions, which the spool keeps once
  std::set<std::string> versions;
  for (const auto& r : f.sink.records) versions.insert(r.draft.version);
  CHECK(versions.size() == 4);
  for (const auto& s : f.state->units("qr/studies")) CHECK(s.status == "complete");
  f.poll();
  CHECK(f.sink.records.empty());
  CHECK(fs::is_empty(f.state_dir / "dicom" / "pacs" / "incoming"));
}
