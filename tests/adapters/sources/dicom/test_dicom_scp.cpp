// The dicom-scp source against DCMTK's own command-line peers (storescu, echoscu) and a raw
// wire-level sender, inside a private network namespace that has only loopback (DCMTK binds
// every interface).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <thread>

#include "adapters/sources/dicom_scp/scp_source.hpp"
#include "daemon/spool/spool.hpp"
#include "tests/adapters/sources/ssmix2/recording_sink.hpp"
#include "tests/support/captured_stderr.hpp"
#include "tests/support/manual_clock.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {

constexpr const char* kOurAe = "SENNEN";
constexpr const char* kModality = "MODALITY1";

// Once per process: a network namespace of our own, so the SCP and its peers see only lo.
void enter_private_network() {
  static bool done = [] {
    if (::unshare(CLONE_NEWNET) != 0) {
      MESSAGE("cannot create a network namespace (needs root); the SCP listens on all interfaces for this run");
      return true;
    }
    REQUIRE(test::run("ip link set lo up") == 0);
    return true;
  }();
  (void)done;
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Spec {
  std::string patient_id = "000123";
  std::string study = "1.2.826.0.1.3680043.9.7433.1";
  std::string series = "1.2.826.0.1.3680043.9.7433.1.1";
  std::string sop = "1.2.826.0.1.3680043.9.7433.1.1.1";
  std::string modality = "CT";
  std::string date = "20240115";
  std::size_t pixel_bytes = 256;
};

// A Secondary Capture instance written by dump2dcm (explicit VR little endian).
fs::path make_dcm(const fs::path& dir, const std::string& name, const Spec& s, const std::string& extra = "") {
  fs::create_directories(dir);
  std::string pixels;
  for (std::size_t i = 0; i < s.pixel_bytes; ++i) pixels.push_back(static_cast<char>((i * 7 + s.sop.size()) & 0xFF));
  test::write_file(dir / (name + ".raw"), pixels);
  const std::size_t side = 16;
  std::string dump =
      "(0002,0001) OB 00\\01\n(0002,0002) UI =SecondaryCaptureImageStorage\n(0002,0003) UI [" + s.sop +
      "]\n(0002,0010) UI =LittleEndianExplicit\n(0008,0016) UI =SecondaryCaptureImageStorage\n(0008,0018) UI [" +
      s.sop + "]\n(0008,0020) DA [" + s.date + "]\n(0008,0060) CS [" + s.modality +
      "]\n(0010,0010) PN [Test^Patient]\n(0010,0020) LO [" + s.patient_id + "]\n" +
      (s.study.empty() ? std::string() : "(0020,000d) UI [" + s.study + "]\n") + "(0020,000e) UI [" + s.series +
      "]\n(0028,0002) US 1\n(0028,0004) CS [MONOCHROME2]\n(0028,0010) US " + std::to_string(s.pixel_bytes / side) +
      "\n(0028,0011) US " + std::to_string(side) +
      "\n(0028,0100) US 8\n(0028,0101) US 8\n(0028,0102) US 7\n(0028,0103) US 0\n" + extra +
      "(7fe0,0010) OB =" + (dir / (name + ".raw")).string() + "\n";
  test::write_file(dir / (name + ".txt"), dump);
  fs::path out = dir / (name + ".dcm");
  REQUIRE(test::run("dump2dcm -q +te " + (dir / (name + ".txt")).string() + " " + out.string()) == 0);
  return out;
}

// The data set of a Part-10 file: what travels on the wire, after the file meta information.
std::string dataset_of(const std::string& file) {
  REQUIRE(file.size() > 144);
  REQUIRE(file.substr(128, 4) == "DICM");
  std::uint32_t meta = 0;
  for (int i = 3; i >= 0; --i) meta = meta << 8 | static_cast<unsigned char>(file[140 + i]);
  return file.substr(144 + meta);
}

struct Fixture {
  test::TempDir tmp;
  fs::path state_dir = tmp / "state";
  spool::Spool spool{state_dir};
  test::ManualClock clock;
  test::RecordingSink sink;
  std::atomic<bool> stop{false};
  std::atomic<bool> spool_full{false};  // what the pipeline sets when spool.max_bytes is reached
  SourceStats stats;
  std::uint16_t port = 0;
  std::unique_ptr<Source> source;
  std::unique_ptr<SourceState> state = spool.source_state("modality");
  fs::path incoming = state_dir / "dicom" / "modality" / "incoming";

  explicit Fixture(std::uint64_t min_free = 1 << 20, std::uint64_t max_incoming = 1ull << 30,
                   std::vector<std::string> allowed_addresses = {}, int max_associations = 4,
                   std::chrono::seconds dimse_timeout = std::chrono::seconds(2),
                   std::chrono::seconds acse_timeout = std::chrono::seconds(2)) {
    enter_private_network();
    port = free_port();
    dicom::ReceiverOptions o;
    o.name = "modality";
    o.state_dir = state_dir;
    o.scp.port = port;
    o.scp.ae_title = kOurAe;
    o.scp.allowed_calling_ae_titles = {kModality, "MODALITY2"};
    o.scp.allowed_addresses = std::move(allowed_addresses);
    o.scp.dimse_timeout = dimse_timeout;
    o.scp.max_associations = max_associations;
    o.scp.acse_timeout = acse_timeout;
    o.min_free = min_free;
    o.max_incoming = max_incoming;
    o.patient_id = {true, 8};
    source = dicom::make_dicom_scp_source(std::move(o));
    poll();  // starts the SCP
  }
  void poll() {
    SourceContext ctx{clock, *state, sink, stop, stats, false, SpoolFull(spool_full)};
    spool::Spool::Transaction tx(spool);
    source->poll(ctx);
    tx.commit();
  }
  // Runs a DCMTK tool against our SCP; returns its exit status and fills `out` with its output.
  int tool(const std::string& cmd, std::string& out) {
    fs::path log = tmp / "tool.log";
    int rc = test::run("TCP_NODELAY=1 " + cmd + " > " + log.string() + " 2>&1");
    out = test::read_file(log);
    MESSAGE(cmd << "\n" << out);
    return rc;
  }
  int storescu(const std::string& calling, const std::vector<fs::path>& files, std::string& out) {
    std::string cmd = "storescu -v -nh -aet " + calling + " -aec " + kOurAe + " 127.0.0.1 " + std::to_string(port);
    for (const auto& f : files) cmd += " " + f.string();
    return tool(cmd, out);
  }
  std::vector<fs::path> incoming_files() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(incoming))
      if (e.path().filename().string()[0] != '.') out.push_back(e.path());
    return out;
  }
  const test::RecordingSink::Seen* record_for(const std::string& sop) const {
    for (const auto& r : sink.records)
      for (const auto& [k, v] : r.draft.attributes)
        if (k == "sop_instance_uid" && v == sop) return &r;
    return nullptr;
  }
};

std::string attr(const RecordDraft& d, const std::string& key) {
  for (const auto& [k, v] : d.attributes)
    if (k == key) return v;
  return "(none)";
}

}  // namespace

TEST_CASE("dicom-scp: C-ECHO from an allowed AE title; other AE titles are refused at association") {
  Fixture f;
  std::string out;
  CHECK(f.tool("echoscu -aet " + std::string(kModality) + " -aec SENNEN 127.0.0.1 " + std::to_string(f.port), out) ==
        0);
  CHECK(f.tool("echoscu -aet INTRUDER -aec SENNEN 127.0.0.1 " + std::to_string(f.port), out) != 0);
  CHECK(out.find("Association Rejected") != std::string::npos);
  CHECK(f.tool("echoscu -aet " + std::string(kModality) + " -aec OTHER 127.0.0.1 " + std::to_string(f.port), out) != 0);
  CHECK(out.find("Association Rejected") != std::string::npos);
}

TEST_CASE("dicom-scp: allowed_addresses limits the peers by IP address") {
  std::string out;
  {
    // Turned away as it connects, before it is given a thread: logged once per address.
    Fixture f(1 << 20, 1ull << 30, {"10.9.9.9"});
    test::CapturedStderr log;
    for (int i = 0; i < 2; ++i)
      CHECK(f.tool("echoscu -aet " + std::string(kModality) + " -aec SENNEN 127.0.0.1 " + std::to_string(f.port),
                   out) != 0);
    CHECK(log.count("closed a connection from 127.0.0.1, which is not in allowed_addresses") == 1);
  }
  {
    Fixture f(1 << 20, 1ull << 30, {"10.9.9.9", "127.0.0.1"});
    CHECK(f.tool("echoscu -aet " + std::string(kModality) + " -aec SENNEN 127.0.0.1 " + std::to_string(f.port), out) ==
          0);
  }
}

TEST_CASE("dicom-scp: stored instances are kept byte-exact and handed to the spool once, with their attributes") {
  Fixture f;
  Spec a;
  Spec b = a;
  b.sop += ".2";
  b.modality = "MR";
  Spec c;
  c.patient_id = "98765";
  c.study = "1.2.826.0.1.3680043.9.7433.2";
  c.series = c.study + ".1";
  c.sop = c.series + ".1";
  c.modality = "";
  c.pixel_bytes = 64 * 1024;  // larger than DCMTK's in-memory limit for one value
  fs::path src = f.tmp / "src";
  std::vector<fs::path> files = {make_dcm(src, "a", a), make_dcm(src, "b", b), make_dcm(src, "c", c)};

  std::string out;
  REQUIRE(f.storescu(kModality, files, out) == 0);
  CHECK(out.find("Received Store Response (Success)") != std::string::npos);
  CHECK(out.find("Refused: OutOfResources") == std::string::npos);

  // Success was answered only once each file was in incoming/: the data sets are the ones sent.
  auto received = f.incoming_files();
  REQUIRE(received.size() == 3);
  std::map<std::string, std::string> sent;  // SOP UID -> data set bytes
  sent[a.sop] = dataset_of(test::read_file(files[0]));
  sent[b.sop] = dataset_of(test::read_file(files[1]));
  sent[c.sop] = dataset_of(test::read_file(files[2]));
  for (const auto& r : received) {
    std::string name = r.filename().string();
    std::string sop = name.substr(0, name.find('~'));
    REQUIRE(sent.count(sop) == 1);
    CHECK(dataset_of(test::read_file(r)) == sent[sop]);
  }

  f.poll();
  REQUIRE(f.sink.records.size() == 3);
  CHECK(f.stats.ingested == 3);
  const auto* ra = f.record_for(a.sop);
  const auto* rb = f.record_for(b.sop);
  const auto* rc = f.record_for(c.sop);
  REQUIRE(ra);
  REQUIRE(rb);
  REQUIRE(rc);
  CHECK(ra->draft.source == "modality");
  CHECK(ra->draft.patient_id == "00000123");  // strip_leading_zeros, then pad_to: 8
  CHECK(rc->draft.patient_id == "00098765");
  CHECK(ra->draft.key == a.study + "/" + a.sop);
  CHECK(ra->draft.path == a.study + "/" + a.series + "/" + a.sop + ".dcm");
  CHECK(ra->draft.kind == "DICOM-CT");
  CHECK(rb->draft.kind == "DICOM-MR");
  CHECK(rc->draft.kind == "DICOM-OT");
  CHECK(ra->draft.version.rfind(a.sop + ":", 0) == 0);
  CHECK(attr(ra->draft, "study_uid") == a.study);
  CHECK(attr(ra->draft, "series_uid") == a.series);
  CHECK(attr(ra->draft, "modality") == "CT");
  CHECK(attr(ra->draft, "study_date") == "20240115");
  CHECK(attr(rb->draft, "sop_class_uid") == "1.2.840.10008.5.1.4.1.1.7");
  CHECK(dataset_of(ra->contents.at(0)) == sent[a.sop]);
  CHECK(dataset_of(rc->contents.at(0)) == sent[c.sop]);

  // The next poll moves the committed files out of incoming/ and sends nothing again; locate()
  // still finds the bytes (for records the gate held back).
  const RecordDraft first = ra->draft;
  f.sink.clear();
  f.poll();
  CHECK(f.sink.records.empty());
  CHECK(f.incoming_files().empty());
  auto parts = f.source->locate(first.path, first.version);
  REQUIRE(parts);
  CHECK(dataset_of(test::read_file(parts->at(0).file)) == sent[a.sop]);
  CHECK(!f.source->locate(first.path, a.sop + ":0000000000000000"));
  CHECK(!f.source->locate("../../etc/passwd.dcm", first.version));
  CHECK(!f.source->locate("a/../../b.dcm", first.version));
}

TEST_CASE("dicom-scp: a poll that is not committed (kill -9) hands the same files over again, once") {
  Fixture f;
  Spec a;
  fs::path file = make_dcm(f.tmp / "src", "a", a);
  std::string out;
  REQUIRE(f.storescu(kModality, {file}, out) == 0);
  {
    SourceContext ctx{f.clock, *f.state, f.sink, f.stop, f.stats, false};
    spool::Spool::Transaction tx2(f.spool);
    f.source->poll(ctx);
    tx2.rollback();  // the process died before the commit
  }
  REQUIRE(f.sink.records.size() == 1);
  CHECK(f.incoming_files().size() == 1);  // not moved: its state was never committed
  std::string version = f.sink.records[0].draft.version;
  f.sink.clear();
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  CHECK(f.sink.records[0].draft.version == version);
  const RecordDraft committed = f.sink.records[0].draft;
  f.sink.clear();
  {
    // Killed again, this time after the file moved to store/ but before its state was erased.
    SourceContext ctx{f.clock, *f.state, f.sink, f.stop, f.stats, false};
    spool::Spool::Transaction tx3(f.spool);
    f.source->poll(ctx);
    tx3.rollback();
  }
  CHECK(f.incoming_files().empty());
  f.poll();
  f.poll();
  CHECK(f.sink.records.empty());
  CHECK(f.state->units("incoming").empty());
  auto parts = f.source->locate(committed.path, committed.version);
  REQUIRE(parts);
  CHECK(dataset_of(test::read_file(parts->at(0).file)) == dataset_of(test::read_file(file)));
}

// A modality whose success answer was lost (the daemon killed mid-association, a timeout on its
// side) sends the instance again; once the first copy was delivered and left the spool, the copy
// became a new record and was delivered twice (found by the fault campaign). A version taken in
// before is dropped: the taken record says so even when store/ no longer holds it, store/ for
// every version whose hand-over was committed (an older one sent again late).
TEST_CASE("dicom-scp: an instance pushed again with the same bytes is not sent twice; other bytes are a new version") {
  Fixture f;
  Spec a;
  const fs::path first = make_dcm(f.tmp / "src", "a", a);
  std::string out;
  REQUIRE(f.storescu(kModality, {first}, out) == 0);
  f.poll();
  REQUIRE(f.sink.records.size() == 1);  // taken in (and, in the daemon, delivered and gone from the spool)
  f.sink.clear();
  REQUIRE(f.storescu(kModality, {first}, out) == 0);  // before the first copy moved to store/
  f.poll();
  REQUIRE(f.storescu(kModality, {first}, out) == 0);  // after
  f.poll();
  CHECK(f.sink.records.empty());
  CHECK(f.incoming_files().empty());
  // Other bytes under the same SOP Instance UID (a correction) are a new version, sent.
  Spec b = a;
  b.modality = "MR";
  const fs::path corrected = make_dcm(f.tmp / "src", "b", b);
  REQUIRE(f.storescu(kModality, {corrected}, out) == 0);
  f.poll();
  CHECK(f.sink.records.size() == 1);
  f.sink.clear();
  REQUIRE(f.storescu(kModality, {first}, out) == 0);  // the older version again, late
  f.poll();
  f.poll();
  CHECK(f.sink.records.empty());
  const fs::path store = f.state_dir / "dicom" / "modality" / "store";
  fs::remove_all(store);
  fs::create_directories(store);
  REQUIRE(f.storescu(kModality, {corrected}, out) == 0);
  f.poll();
  CHECK(f.sink.records.empty());
  CHECK(f.incoming_files().empty());
}

TEST_CASE("dicom-scp: a malformed or truncated data set is refused and quarantined; the SCP keeps serving") {
  Fixture f;
  fs::path src = f.tmp / "src";
  Spec no_study;
  no_study.study = "";
  no_study.sop += ".7";
  Spec good;
  good.sop += ".8";
  Spec big;
  big.sop += ".9";
  big.pixel_bytes = 64 * 1024;
  fs::path bad = make_dcm(src, "nostudy", no_study);
  fs::path ok = make_dcm(src, "good", good);
  fs::path large = make_dcm(src, "large", big);

  std::string out;
  f.storescu(kModality, {bad, ok}, out);
  CHECK(out.find("Received Store Response (Success)") != std::string::npos);  // the good one
  CHECK(out.find("Received Store Response (Error: CannotUnderstand)") != std::string::npos);

  // Cut inside the pixel data: once where the value is small, once where DCMTK would skip it.
  const std::string sender = (test::source_dir() / "tests/adapters/sources/dicom/send_raw.py").string();
  const std::string to = " 127.0.0.1 " + std::to_string(f.port) + " " + kModality + " " + kOurAe + " ";
  std::string small_cut = test::run_output("python3 " + sender + to + ok.string() + " 400");
  CHECK(small_cut.find("0xC000") != std::string::npos);
  std::string large_cut = test::run_output("python3 " + sender + to + large.string() + " 30000");
  CHECK(large_cut.find("0xC000") != std::string::npos);
  // The same sender with the whole data set is accepted: the refusals were about the data.
  std::string whole = test::run_output("python3 " + sender + to + large.string() + " 100000000");
  CHECK(whole.find("0x0000") != std::string::npos);

  f.poll();
  CHECK(f.sink.records.size() == 2);  // good and large
  REQUIRE(f.sink.quarantined.size() == 3);
  int missing_study = 0, truncated = 0;
  for (const auto& [rel, reason] : f.sink.quarantined) {
    MESSAGE(rel << ": " << reason);
    if (reason.find("StudyInstanceUID") != std::string::npos) ++missing_study;
    if (reason.find("malformed") != std::string::npos) ++truncated;
  }
  CHECK(missing_study == 1);
  CHECK(truncated == 3);
  CHECK(f.stats.quarantined == 3);
}

TEST_CASE("dicom-scp: out of resources (A700) when the spool, the disk or incoming/ is full") {
  SUBCASE("spool full") {
    Fixture f;
    Spec b;
    b.sop += ".2";
    fs::path one = make_dcm(f.tmp / "src", "a", Spec{});
    fs::path two = make_dcm(f.tmp / "src", "b", b);
    std::string out;
    f.spool_full = true;
    f.storescu(kModality, {one}, out);
    CHECK(out.find("Refused: OutOfResources") != std::string::npos);
    CHECK(f.incoming_files().empty());
    f.spool_full = false;  // deliveries made room: the retry is taken
    f.storescu(kModality, {one, two}, out);
    CHECK(out.find("Refused: OutOfResources") == std::string::npos);
    CHECK(f.incoming_files().size() == 2);
  }
  SUBCASE("min_free") {
    Fixture f(std::uint64_t{1} << 62);  // more than any disk has
    fs::path file = make_dcm(f.tmp / "src", "a", Spec{});
    std::string out;
    f.storescu(kModality, {file}, out);
    CHECK(out.find("Refused: OutOfResources") != std::string::npos);
    CHECK(out.find("Received Store Response (Success)") == std::string::npos);
    CHECK(f.incoming_files().empty());
  }
  SUBCASE("max_incoming") {
    Fixture f(1 << 20, 100);  // the first instance fills incoming/
    Spec b;
    b.sop += ".2";
    fs::path one = make_dcm(f.tmp / "src", "a", Spec{});
    fs::path two = make_dcm(f.tmp / "src", "b", b);
    std::string out;
    f.storescu(kModality, {one, two}, out);
    CHECK(out.find("Received Store Response (Success)") != std::string::npos);
    CHECK(out.find("Refused: OutOfResources") != std::string::npos);
    CHECK(f.incoming_files().size() == 1);
  }
}

namespace {

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// True when the SCP closed `fd` within `limit`: a read sees the end, or a reset (what a close
// with our unread bytes still in its buffer sends).
bool closed_by_peer_within(int fd, std::chrono::seconds limit) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(limit).count())) != 1) return false;
  char c;
  const ssize_t n = ::recv(fd, &c, 1, 0);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

// A modality's C-ECHO, answered with success within `limit` (echoscu itself waits up to 20 s).
bool echo_answered_within(Fixture& f, std::chrono::seconds limit) {
  auto t0 = std::chrono::steady_clock::now();
  std::string out;
  const int rc =
      f.tool("echoscu -to 20 -aet " + std::string(kModality) + " -aec SENNEN 127.0.0.1 " + std::to_string(f.port), out);
  const auto took = std::chrono::steady_clock::now() - t0;
  MESSAGE("C-ECHO: exit " << rc << " after " << std::chrono::duration<double>(took).count() << " s");
  return rc == 0 && took < limit;
}

}  // namespace

TEST_CASE("dicom-scp: connections that never send an association request hold up no one, and are dropped") {
  // Port scanners and health checks connect and say nothing (or something that is not DICOM).
  // A modality connecting meanwhile is served at once, not after them, even with more of them
  // than max_associations; they are closed once acse_timeout passes.
  SUBCASE("served at once") {
    Fixture f(1 << 20, 1ull << 30, {}, 2, std::chrono::seconds(2), std::chrono::seconds(20));
    std::vector<int> silent;
    for (int i = 0; i < 3; ++i) silent.push_back(connect_to(f.port));
    int partial = connect_to(f.port);  // the first bytes of a PDU header only
    REQUIRE(::send(partial, "\x01\x00\x00", 3, 0) == 3);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(echo_answered_within(f, std::chrono::seconds(3)));
    for (int fd : silent) {
      CHECK_FALSE(closed_by_peer_within(fd, std::chrono::seconds(0)));  // still waited for, on their own threads
      ::close(fd);
    }
    ::close(partial);
  }
  SUBCASE("dropped after acse_timeout") {
    Fixture f;  // acse_timeout 2 s
    int silent = connect_to(f.port);
    int garbage = connect_to(f.port);
    REQUIRE(::send(garbage, "GET / HTTP/1.0\r\n\r\n", 18, 0) == 18);
    CHECK(closed_by_peer_within(garbage, std::chrono::seconds(1)));  // not DICOM: closed at once
    auto t0 = std::chrono::steady_clock::now();
    CHECK(closed_by_peer_within(silent, std::chrono::seconds(6)));
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::seconds(1));
    ::close(silent);
    ::close(garbage);
    std::string out;
    CHECK(f.tool("echoscu -aet " + std::string(kModality) + " -aec SENNEN 127.0.0.1 " + std::to_string(f.port), out) ==
          0);
  }
  SUBCASE("one that hangs up in the middle of its request is dropped at once, not after acse_timeout") {
    // Found by fuzz_dicom_association: the unread part of a request hides the end of the stream
    // from a peeking reader, so the connection's thread waited out acse_timeout for bytes that
    // could no longer come.
    Fixture f(1 << 20, 1ull << 30, {}, 4, std::chrono::seconds(2), std::chrono::seconds(20));
    for (const std::string& sent :
         {std::string("\x01\x00\x00", 3), std::string("\x01\x00\x00\x00\x00\xcd\x00\x01", 8)}) {
      int cut = connect_to(f.port);
      REQUIRE(::send(cut, sent.data(), sent.size(), 0) == static_cast<ssize_t>(sent.size()));
      ::shutdown(cut, SHUT_WR);
      CHECK(closed_by_peer_within(cut, std::chrono::seconds(2)));
      ::close(cut);
    }
  }
  SUBCASE("a large request that stalls is refused, not waited for") {
    Fixture f;  // acse_timeout 2 s
    int stalled = connect_to(f.port);
    // Announces 70,000 bytes and sends 65,000: more than the SCP takes, so it refuses the request
    // once the first 61,440 bytes are in, without waiting for the rest, which never comes.
    std::string pdu = std::string("\x01\x00\x00\x01\x11\x70", 6) + std::string(65000, '\0');
    REQUIRE(::send(stalled, pdu.data(), pdu.size(), 0) == static_cast<ssize_t>(pdu.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(echo_answered_within(f, std::chrono::seconds(5)));
    pollfd p{stalled, POLLIN, 0};
    char type = 0;
    CHECK(::poll(&p, 1, 3000) == 1);
    CHECK(::recv(stalled, &type, 1, 0) == 1);
    CHECK(type == 0x03);  // A-ASSOCIATE-RJ
    ::close(stalled);
  }
}

TEST_CASE("dicom-scp: a malformed or too large association request is answered at once, before DCMTK reads it") {
  // Found by fuzz_dicom_association: DCMTK 3.6.7 leaks on requests it gives up on (about 400
  // bytes for a presentation context that does not add up) and answers nothing. Any host that
  // reaches the port can send them, before an AE title is looked at.
  Fixture f;
  auto item = [](char type, const std::string& value) {
    return std::string{type, 0, static_cast<char>(value.size() >> 8), static_cast<char>(value.size())} + value;
  };
  auto ae = [](std::string title) { return title.append(16 - title.size(), ' '); };
  auto pdu = [&](const std::string& items, std::uint32_t length) {
    const std::string fixed = std::string("\0\x01\0\0", 4) + ae(kOurAe) + ae(kModality) + std::string(32, '\0');
    if (length == 0) length = static_cast<std::uint32_t>(fixed.size() + items.size());
    return std::string{0x01,
                       0,
                       static_cast<char>(length >> 24),
                       static_cast<char>(length >> 16),
                       static_cast<char>(length >> 8),
                       static_cast<char>(length)} +
           fixed + items;
  };
  // What the SCP answers to `sent` before it closes the connection.
  auto answer = [&](const std::string& sent) {
    const int fd = connect_to(f.port);
    REQUIRE(::send(fd, sent.data(), sent.size(), 0) == static_cast<ssize_t>(sent.size()));
    std::string reply;
    char buf[64];
    for (pollfd p{fd, POLLIN, 0}; ::poll(&p, 1, 3000) == 1;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      reply.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return reply;
  };
  test::CapturedStderr log;
  SUBCASE("a presentation context without a transfer syntax: A-ABORT") {
    const std::string no_transfer_syntax =
        item(0x20, std::string("\x01\0\0\0", 4) + item(0x30, "1.2.840.10008.5.1.4.1.1.2"));
    // A-ABORT (07H), source: the service provider (2), reason: invalid-PDU-parameter value (6).
    CHECK(answer(pdu(item(0x10, "1.2.840.10008.3.1.1.1") + no_transfer_syntax, 0)) ==
          std::string("\x07\0\0\0\0\x04\0\0\x02\x06", 10));
    CHECK(log.count("refused the association request from 127.0.0.1: the presentation context item (20H) at byte 99 "
                    "proposes no transfer syntax (A-ABORT sent)") == 1);
  }
  SUBCASE("a request of more than 60 KiB: A-ASSOCIATE-RJ") {
    // It says 70,000 bytes; 61,440 come (what the SCP takes), so the rest would be read by DCMTK unchecked.
    const std::string first = pdu(item(0x10, "1.2.840.10008.3.1.1.1"), 70000);
    const std::string sent = first + std::string(60 * 1024 - first.size(), '\0');
    // A-ASSOCIATE-RJ (03H): rejected permanently (1) by the service provider (3), local limit exceeded (2).
    CHECK(answer(sent) == std::string("\x03\0\0\0\0\x04\0\x01\x03\x02", 10));
    CHECK(log.count("refused the association request from 127.0.0.1: it has 70006 bytes, more than the 61440 taken") ==
          1);
  }
  CHECK(echo_answered_within(f, std::chrono::seconds(5)));  // and it keeps serving
}

namespace {

// send_raw.py as a slow modality in the background: associated, then the data set's last fragment
// only after `stall_seconds`. Returns the file its output goes to, once it is associated.
fs::path start_slow_sender(Fixture& f, const fs::path& file, int stall_seconds) {
  const std::string sender = (test::source_dir() / "tests/adapters/sources/dicom/send_raw.py").string();
  fs::path out = f.tmp / "slow.out";
  test::write_file(out, "");  // exists before the background shell gets to its redirection
  REQUIRE(test::run("python3 " + sender + " 127.0.0.1 " + std::to_string(f.port) + " " + kModality + " " + kOurAe +
                    " " + file.string() + " 100000000 " + std::to_string(stall_seconds) + " > " + out.string() +
                    " 2>&1 &") == 0);
  for (int i = 0; i < 100 && test::read_file(out).find("associated") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(test::read_file(out).find("associated") != std::string::npos);
  return out;
}

// What the sender said once it is done: a status ("0x0000"), "no response", or a Python error.
std::string wait_for_status(const fs::path& out) {
  auto done = [&] {
    const std::string said = test::read_file(out);
    return said.find("0x") != std::string::npos || said.find("no response") != std::string::npos ||
           said.find("Error") != std::string::npos;
  };
  for (int i = 0; i < 300 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return test::read_file(out);
}

}  // namespace

TEST_CASE("dicom-scp: a slow modality does not hold up another; beyond max_associations a peer is told to retry") {
  Spec slow_spec, quick_spec;
  quick_spec.sop += ".2";
  SUBCASE("two at once") {
    Fixture f(1 << 20, 1ull << 30, {}, 2, std::chrono::seconds(20));
    fs::path slow = make_dcm(f.tmp / "src", "slow", slow_spec);
    fs::path quick = make_dcm(f.tmp / "src", "quick", quick_spec);
    fs::path out = start_slow_sender(f, slow, 6);
    auto t0 = std::chrono::steady_clock::now();
    std::string log;
    CHECK(f.storescu(kModality, {quick}, log) == 0);
    CHECK(log.find("Received Store Response (Success)") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(4));  // not after the slow one
    CHECK(wait_for_status(out).find("0x0000") != std::string::npos);         // the slow one is served too
    CHECK(f.incoming_files().size() == 2);
  }
  SUBCASE("one at a time") {
    Fixture f(1 << 20, 1ull << 30, {}, 1, std::chrono::seconds(20));
    fs::path slow = make_dcm(f.tmp / "src", "slow", slow_spec);
    fs::path out = start_slow_sender(f, slow, 3);
    std::string log;
    CHECK(f.tool("echoscu -v -aet " + std::string(kModality) + " -aec SENNEN 127.0.0.1 " + std::to_string(f.port),
                 log) != 0);
    CHECK(log.find("Rejected Transient") != std::string::npos);
    CHECK(log.find("Local Limit Exceeded") != std::string::npos);
    CHECK(wait_for_status(out).find("0x0000") != std::string::npos);
    // The slot is free again once the slow peer's release is through.
    int rc = 1;
    for (int i = 0; i < 20 && rc != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      rc = f.tool("echoscu -aet " + std::string(kModality) + " -aec SENNEN 127.0.0.1 " + std::to_string(f.port), log);
    }
    CHECK(rc == 0);
  }
}

TEST_CASE("dicom-scp: a peer that stops in the middle of a data set is dropped after dimse_timeout; nothing is kept") {
  Fixture f;  // dimse_timeout 2 s: every PDU of the data set must come within it
  Spec s;
  s.pixel_bytes = 64 * 1024;  // several PDUs
  fs::path file = make_dcm(f.tmp / "src", "stuck", s);
  fs::path out = start_slow_sender(f, file, 5);
  auto t0 = std::chrono::steady_clock::now();
  std::string log;
  // Served while the stuck one is still connected, then the stuck one is gone without a success.
  CHECK(f.tool("echoscu -aet " + std::string(kModality) + " -aec SENNEN 127.0.0.1 " + std::to_string(f.port), log) ==
        0);
  const std::string said = wait_for_status(out);
  MESSAGE(said);
  CHECK(said.find("0x0000") == std::string::npos);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  CHECK(f.incoming_files().empty());
  std::size_t temporaries = 0;
  for (const auto& e : fs::directory_iterator(f.incoming)) (void)e, ++temporaries;
  CHECK(temporaries == 0);  // the partial file is removed, not left behind
}

// What DCMTK can receive byte-exact is accepted as the sender offers it: big endian offered first
// among the uncompressed syntaxes (storescu -xb), a retired JPEG process, a private SOP class. What
// is turned away at negotiation is logged and counted per calling AE title.
TEST_CASE(
    "dicom-scp: every storage class and transfer syntax DCMTK knows is taken as sent; refusals are counted per AE "
    "title") {
  Fixture f;
  Spec be, spectral, vendor;
  be.sop += "1";
  spectral.sop += "2";
  vendor.sop += "3";
  const fs::path plain_be = make_dcm(f.tmp / "plain", "be", be),
                 plain_spectral = make_dcm(f.tmp / "plain", "sp", spectral);
  make_dcm(f.tmp / "plain", "vendor", vendor);
  const fs::path be_file = f.tmp / "be.dcm", spectral_file = f.tmp / "spectral.dcm", vendor_file = f.tmp / "vendor.dcm";
  REQUIRE(test::run("dcmconv +tb " + plain_be.string() + " " + be_file.string()) == 0);
  REQUIRE(test::run("dcmcjpeg +un +es " + plain_spectral.string() + " " + spectral_file.string()) == 0);
  // A private (vendor) SOP class, in meta header and data set alike.
  REQUIRE(test::run("sed 's/=SecondaryCaptureImageStorage/[1.3.12.2.1107.5.9.1]/' " +
                    (f.tmp / "plain" / "vendor.txt").string() + " > " + (f.tmp / "vendor.txt").string() +
                    " && dump2dcm -q +te " + (f.tmp / "vendor.txt").string() + " " + vendor_file.string()) == 0);
  std::string out;
  CHECK(f.tool("storescu -xb -aet " + std::string(kModality) + " -aec " + kOurAe + " 127.0.0.1 " +
                   std::to_string(f.port) + " " + be_file.string(),
               out) == 0);
  for (const auto& file : {spectral_file, vendor_file})
    CHECK(f.tool("dcmsend --decompress-never -aet " + std::string(kModality) + " -aec " + kOurAe + " 127.0.0.1 " +
                     std::to_string(f.port) + " " + file.string(),
                 out) == 0);
  f.poll();
  const std::pair<fs::path, std::string> sent[] = {{be_file, "1.2.840.10008.1.2.2"},
                                                   {spectral_file, "1.2.840.10008.1.2.4.53"},
                                                   {vendor_file, "1.2.840.10008.1.2.1"}};
  const std::string sops[] = {be.sop, spectral.sop, vendor.sop};
  for (int i = 0; i < 3; ++i) {
    const auto* r = f.record_for(sops[i]);
    REQUIRE_MESSAGE(r, "instance " << sops[i] << " did not arrive");
    CHECK(attr(r->draft, "transfer_syntax") == sent[i].second);
    CHECK(dataset_of(r->contents.at(0)) == dataset_of(test::read_file(sent[i].first)));
  }
  CHECK(f.stats.events.empty());

  // An unknown AE title, and a known one proposing only a query model (no storage class).
  CHECK(f.tool("echoscu -aet INTRUDER -aec SENNEN 127.0.0.1 " + std::to_string(f.port), out) != 0);
  CHECK(f.tool("echoscu -aet INTRUDER -aec SENNEN 127.0.0.1 " + std::to_string(f.port), out) != 0);
  f.tool("findscu -S -aet " + std::string(kModality) + " -aec SENNEN -k QueryRetrieveLevel=STUDY 127.0.0.1 " +
             std::to_string(f.port),
         out);
  // HTJ2K, which DCMTK 3.6.7 does not know (so it could not parse what it received).
  const std::string sender = (test::source_dir() / "tests/adapters/sources/dicom/send_raw.py").string();
  CHECK(test::run_output("SEND_RAW_SYNTAX=1.2.840.10008.1.2.4.201 python3 " + sender + " 127.0.0.1 " +
                         std::to_string(f.port) + " " + kModality + " " + kOurAe + " " + plain_be.string() +
                         " 100000000 || true")
            .find("context refused") != std::string::npos);
  f.poll();
  CHECK(f.stats.events["associations refused from"]["INTRUDER"].total == 2);
  CHECK(f.stats.events["associations refused from"]["INTRUDER"].last_poll == 2);
  CHECK(f.stats.events["presentation contexts refused for"][kModality].total == 2);
  f.poll();
  CHECK(f.stats.events["associations refused from"]["INTRUDER"].total == 2);
  CHECK(f.stats.events["associations refused from"]["INTRUDER"].last_poll == 0);
}

// A sender that did not know the VRs writes the elements as UN: the UIDs and the PatientID are
// still read from their bytes, and the instance is taken as it came.
TEST_CASE("dicom-scp: a data set whose elements are VR UN is read from their bytes and kept") {
  Fixture f;
  auto hex = [](const std::string& text) {
    std::string out;
    char buf[4];
    for (unsigned char c : text) {
      std::snprintf(buf, sizeof buf, "%02x", c);
      out += (out.empty() ? "" : "\\") + std::string(buf);
    }
    return out;
  };
  const std::string sop = "1.2.826.0.1.3680043.9.7433.5.1.1", sc = "1.2.840.10008.5.1.4.1.1.7";
  std::string dump = "(0002,0001) OB 00\\01\n(0002,0002) UI " + sc + "\n(0002,0003) UI [" + sop +
                     "]\n(0002,0010) UI =LittleEndianExplicit\n(0008,0016) UN " + hex(sc + '\0') + "\n(0008,0018) UN " +
                     hex(sop + '\0') + "\n(0008,0060) UN " + hex("OT") + "\n(0010,0020) UN " + hex("4711 ") +
                     "\n(0020,000d) UN " + hex("1.2.826.0.1.3680043.9.7433.5") + "\n(0020,000e) UN " +
                     hex(std::string("1.2.826.0.1.3680043.9.7433.5.1") + '\0') + "\n";
  test::write_file(f.tmp / "un.txt", dump);
  const fs::path file = f.tmp / "un.dcm";
  REQUIRE(test::run("dump2dcm -q +te " + (f.tmp / "un.txt").string() + " " + file.string()) == 0);
  // DCMTK's own senders will not send it (they look for the UIDs in the data set): by hand.
  const std::string sender = (test::source_dir() / "tests/adapters/sources/dicom/send_raw.py").string();
  const std::string sent = test::run_output("python3 " + sender + " 127.0.0.1 " + std::to_string(f.port) + " " +
                                            kModality + " " + kOurAe + " " + file.string() + " 100000000");
  CHECK_MESSAGE(sent.find("0x0000") != std::string::npos, sent);
  f.poll();
  const auto* r = f.record_for(sop);
  REQUIRE(r);
  CHECK(attr(r->draft, "sop_class_uid") == sc);
  CHECK(r->draft.patient_id == "00004711");
  CHECK(dataset_of(r->contents.at(0)) == dataset_of(test::read_file(file)));
  CHECK(f.sink.quarantined.empty());
}

// VLUT_01 is an ID like any other. An instance without PatientID (a QC phantom, an unregistered
// emergency patient) or with one the gate cannot compare (a space inside, Japanese) is taken so
// the modality's queue moves on, held in the quarantine with the reason, never handed to the
// spool, and counted per sender.
TEST_CASE(
    "dicom-scp: IDs with '_' flow; unattributable instances are answered success, held once, never sent, counted") {
  Fixture f;
  Spec underscore, none, spaced;
  underscore.patient_id = "VLUT_01";
  underscore.sop += "1";
  none.patient_id = "";
  none.sop += "2";
  spaced.patient_id = "12 34";
  spaced.sop += "3";
  const fs::path a = make_dcm(f.tmp / "in", "a", underscore), b = make_dcm(f.tmp / "in", "b", none),
                 c = make_dcm(f.tmp / "in", "c", spaced);
  std::string out;
  CHECK(f.storescu(kModality, {a, b, c}, out) == 0);
  CHECK(out.find("Error") == std::string::npos);  // every one answered success
  f.poll();
  REQUIRE(f.sink.records.size() == 1);
  CHECK(f.sink.records[0].draft.patient_id == "VLUT_01");
  REQUIRE(f.sink.quarantined.size() == 2);
  for (const auto& [rel, reason] : f.sink.quarantined) CHECK(reason.find("unattributable") != std::string::npos);
  CHECK(f.stats.events["unattributable instances held from"][kModality].total == 2);
  f.poll();
  CHECK(f.sink.records.size() == 1);
  CHECK(f.sink.quarantined.size() == 2);  // held once
}
