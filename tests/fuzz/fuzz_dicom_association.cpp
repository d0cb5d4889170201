// What a DICOM peer sends to our C-STORE SCP, as our code handles it: the bytes of one connection
// go to a real dicom::StoreScp on 127.0.0.1 (its association-request pre-reader
// await_association_request, the request's structure check association_request_problem and the
// A-ABORT for a malformed one, the hand-over to DCMTK, the AE title checks of serve(), the DIMSE
// loop with C-ECHO and C-STORE, receive_store) with the dicom-scp source's own StoreHandler
// (dicom::Receiver: begin_store, end_store, read_instance, the PatientID checks, refusals into
// rejected/). The connection is then closed for writing and the SCP's answers are read until it
// closes its end. DCMTK (association and PDU parsing) is Debian's uninstrumented library: the
// fuzzer is guided by our code; the seeds are real echoscu/storescu sessions (make-seeds).
// Properties: every connection is ended promptly (no input holds a thread until a timeout), and its
// thread ends with it; each C-STORE answered success left exactly one instance in incoming/, named
// by its safe SOP Instance UID and readable as that instance, or was an unattributable instance
// (no usable PatientID) held in rejected/ and counted as such; every refused data set is kept with
// its reason; no temporary file outlives its association.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/sources/dicom_common/instance.hpp"
#include "adapters/sources/dicom_common/store_scp.hpp"
#include "adapters/sources/dicom_common/receiver.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"
#include "tests/fuzz/property.hpp"
#include "tests/fuzz/scratch.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {

constexpr const char* kOurAe = "SENNEN";
constexpr const char* kPeerAe = "MODALITY";  // the calling AE title of the seeds

std::uint16_t free_port() {
  util::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    fuzz::broken("cannot find a free port on 127.0.0.1");
  return ntohs(a.sin_port);
}

// The SCP and its receiver live for the whole run (never destroyed: their threads outlive main).
struct Scp {
  fs::path state_dir;
  dicom::ReceiverOptions options;
  dicom::Folders folders;
  std::unique_ptr<dicom::Receiver> receiver;
  std::unique_ptr<dicom::StoreScp> scp;

  Scp() {
    // In the scratch folder tools/run-fuzz removes: these threads outlive main, so nothing here can.
    std::string dir = (fuzz::scratch_folder() / "sennen-fuzz-dicom-XXXXXX").string();
    if (!::mkdtemp(dir.data())) fuzz::broken("cannot create the SCP's state folder");
    state_dir = dir;
    options.name = "modality";
    options.state_dir = state_dir;
    options.scp.port = free_port();
    options.scp.bind_address = "127.0.0.1";
    options.scp.ae_title = kOurAe;
    options.scp.allowed_calling_ae_titles = {kPeerAe};
    options.scp.acse_timeout = std::chrono::seconds(5);
    options.scp.dimse_timeout = std::chrono::seconds(5);
    options.min_free = 0;
    options.sync_each_instance = false;  // tmpfs; durability is not what is fuzzed here
    folders = dicom::Folders::of(state_dir, options.name);
    receiver = std::make_unique<dicom::Receiver>(options, folders);
    receiver->prepare(SpoolFull{});
    scp = std::make_unique<dicom::StoreScp>(options.scp, *receiver);
    scp->start();
    idle_threads = thread_count();
  }

  // The process's threads while no connection is open: libFuzzer's, the SCP's acceptor and main.
  long idle_threads = 0;

  static long thread_count() {
    // The 20th field of /proc/self/stat; the 2nd, the command name in parentheses, may hold
    // spaces, so fields are counted from the last ')'.
    std::ifstream in("/proc/self/stat");
    std::string line;
    std::getline(in, line);
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int i = 3; i < 20 && rest >> field; ++i) {
    }
    long threads = 0;
    if (!(rest >> threads)) fuzz::broken("cannot read the number of threads from /proc/self/stat");
    return threads;
  }

  // Waits for the connection's thread (and its hand-over guard) to end: what it allocated is freed
  // within this input, so libFuzzer's leak check names the input that leaks, and no association is in
  // flight when the checks below look at the folders or when LeakSanitizer checks the run at its
  // end. An association's thread that outlives its closed connection by 5 s is a fault of its own.
  void await_idle() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (thread_count() > idle_threads) {
      if (std::chrono::steady_clock::now() > deadline)
        fuzz::broken("a connection's thread was still running 5 s after the connection closed");
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
};

// The DIMSE status of every C-STORE-RSP in the SCP's answers (P-DATA-TF PDUs carrying command
// sets in implicit VR little endian); stops at anything it cannot follow.
std::vector<std::uint16_t> store_statuses(const std::string& wire) {
  std::vector<std::uint16_t> out;
  auto be32 = [&](std::size_t at) {
    return std::uint32_t{static_cast<unsigned char>(wire[at])} << 24 |
           std::uint32_t{static_cast<unsigned char>(wire[at + 1])} << 16 |
           std::uint32_t{static_cast<unsigned char>(wire[at + 2])} << 8 | static_cast<unsigned char>(wire[at + 3]);
  };
  auto le = [](const std::string& s, std::size_t at, int bytes) {
    std::uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(s[at + i]);
    return v;
  };
  std::string command;
  for (std::size_t pdu = 0; pdu + 6 <= wire.size();) {
    const std::size_t end = pdu + 6 + be32(pdu + 2);
    if (end > wire.size()) break;
    if (wire[pdu] == 0x04) {
      for (std::size_t pdv = pdu + 6; pdv + 6 <= end;) {
        const std::size_t pdv_end = pdv + 4 + be32(pdv);
        if (pdv_end > end || pdv_end < pdv + 6) return out;
        const auto header = static_cast<unsigned char>(wire[pdv + 5]);
        if (header & 1) {
          command.append(wire, pdv + 6, pdv_end - pdv - 6);
          if (header & 2) {  // the command set is complete
            std::uint32_t field = 0, status = 0xFFFFFFFF;
            for (std::size_t e = 0; e + 8 <= command.size();) {
              const std::uint32_t tag = le(command, e, 4), len = le(command, e + 4, 4);
              if (e + 8 + len > command.size()) break;
              if (tag == 0x01000000 && len == 2) field = le(command, e + 8, 2);
              if (tag == 0x09000000 && len == 2) status = le(command, e + 8, 2);
              e += 8 + len;
            }
            if (field == 0x8001 && status <= 0xFFFF) out.push_back(static_cast<std::uint16_t>(status));
            command.clear();
          }
        }
        pdv = pdv_end;
      }
    }
    pdu = end;
  }
  return out;
}

// Sends the input, closes our writing side and reads the answers until the SCP closes its end.
std::string converse(std::uint16_t port, const std::uint8_t* data, std::size_t size) {
  util::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!fd) fuzz::broken("cannot make a socket: " + util::errno_text(errno));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    // libFuzzer's -timeout alarm (SIGALRM every timeout/2+1 s, its handler without SA_RESTART)
    // can interrupt connect(): the connection goes on, and poll() says when it is made.
    int err = errno;
    if (err == EINTR) {
      pollfd p{fd.get(), POLLOUT, 0};
      int ready;
      while ((ready = ::poll(&p, 1, 5000)) < 0 && errno == EINTR) {
      }
      socklen_t len = sizeof err;
      if (ready != 1 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = ETIMEDOUT;
    }
    if (err != 0) fuzz::broken("cannot connect to the SCP: " + util::errno_text(err));
  }
  for (std::size_t sent = 0; sent < size;) {
    const ssize_t n = ::send(fd.get(), data + sent, size - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the SCP refused and closed: the rest is never read
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd.get(), SHUT_WR);
  std::string answers;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    pollfd p{fd.get(), POLLIN, 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const int ready = left.count() <= 0 ? 0 : ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;  // libFuzzer's -timeout alarm
    if (ready <= 0) {
      std::string said;
      for (unsigned char c : answers.substr(0, 32)) said += " " + std::to_string(c);
      fuzz::broken("the SCP did not end a connection whose peer had stopped sending within 5 s; it said" + said);
    }
    char buf[16384];
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return answers;
    answers.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

// DCMTK allocates an element's value as long as the element says (up to 4 GiB) before reading it.
// Under ASan an allocation costs in proportion to its size (its shadow memory is written when it
// is made and again when it is freed): such allocations took 70% of this target's time. An input
// is at most libFuzzer's -max_len (about 10 KB here), so a value declared longer than 64 MiB can
// never be read whole from it: allocations above 64 MiB fail here instead (DCMTK asks with
// new(std::nothrow) and gives up on the message, as it does when the stream ends first), and the
// fuzzer spends its time on our code. libFuzzer's own allocations are a few MiB.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1:max_allocation_size_mb=64"; }

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_max_level(log::Level::error);  // every refusal is a warning: millions of lines otherwise
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Scp& scp = *new Scp;
  const std::vector<std::uint16_t> statuses = store_statuses(converse(scp.options.scp.port, data, size));

  std::size_t successes = 0;
  for (std::uint16_t s : statuses) successes += s == dicom::status::success;
  // On a malformed PDU DCMTK aborts and closes the connection itself before our handler hears of
  // it, so the thread's cleanup of the partial file follows the close: wait for the thread first.
  scp.await_idle();
  std::size_t kept = 0;
  for (const auto& e : fs::directory_iterator(scp.folders.incoming)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with(dicom::kTempPrefix)) fuzz::broken("a temporary file outlived its association: " + name);
    const std::string sop = name.substr(0, name.find('~'));
    if (!dicom::is_safe_uid(sop) || !name.ends_with(".dcm")) fuzz::broken("an instance kept under an unsafe name");
    const dicom::ReadResult r = dicom::read_instance(e.path());
    fuzz::require(r.instance && r.instance->sop_instance_uid == sop, "a kept instance is not the one its name says");
    ++kept;
    fs::remove(e.path());
  }
  std::size_t held = 0;  // unattributable: answered success, kept in rejected/ for the quarantine
  auto events = scp.receiver->events().snapshot();
  for (const auto& [peer, count] : events[dicom::kUnattributable]) held += count.last_poll;
  if (kept + held != successes)
    fuzz::broken("C-STORE answered success " + std::to_string(successes) + " times but " + std::to_string(kept) +
                 " instances were kept and " + std::to_string(held) + " held as unattributable");
  std::size_t reasons = 0, refused = 0;
  for (const auto& e : fs::directory_iterator(scp.folders.rejected)) {
    (e.path().extension() == ".txt" ? reasons : refused) += 1;
    fs::remove(e.path());
  }
  fuzz::require(reasons == refused, "a refused data set without its reason (or a reason without its data set)");
  return 0;
}
