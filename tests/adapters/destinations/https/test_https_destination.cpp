// The https destination against a real nginx (Debian's nginx-light) on 127.0.0.1: mutual TLS with
// a throwaway PKI (tests/support/make_tls_pki.sh), ssl_verify_client on, WebDAV PUT. Checks what
// the receiver stored byte for byte, and how every kind of failure is classified.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <random>
#include <thread>

#include "adapters/destinations/https/https_destination.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/sha256.hpp"
#include "tests/support/temp_dir.hpp"

extern char** environ;

namespace {
namespace fs = std::filesystem;
using sennen::BatchFile;
using sennen::DeliveryResult;
using sennen::test::TempDir;
using Status = DeliveryResult::Status;

constexpr const char* kSite = "1312345678";

// A port nothing listens on right now (the kernel's pick for port 0). Another process could take
// it before we use it, but not in the short window a test needs.
int free_port() {
  sennen::util::Fd s(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(s);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0);
  return ntohs(a.sin_port);
}

bool accepts(int port) {
  sennen::util::Fd s(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  return ::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

// The throwaway PKI, made once per test run.
const fs::path& pki() {
  static const TempDir dir;
  static const bool made =
      sennen::test::run("bash '" + (sennen::test::source_dir() / "tests/support/make_tls_pki.sh").string() + "' '" +
                        dir.path().string() + "'") == 0;
  REQUIRE(made);
  return dir.path();
}

// nginx as the central receiver, in its own prefix:
//   port:       the real receiver (server.crt, clients must present a certificate from ca.crt);
//               /sennen/ stores PUTs under data/, /fail500/ answers 500, /forbidden/ answers 403,
//               /lying/ stores PUTs but answers every HEAD with a 5-byte body,
//               /nomarker/ stores PUTs but acknowledges a .json (the commit marker) without storing it
//   other_port: the same, but presenting a certificate from an unrelated CA
class Receiver {
 public:
  Receiver() : port(free_port()), other_port(free_port()) {
    REQUIRE_MESSAGE(fs::exists("/usr/sbin/nginx"), "nginx is missing: apt-get install nginx-light");
    const fs::path& p = pki();
    for (const char* d : {"logs", "tmp", "data"}) fs::create_directories(dir / d);
    std::string servers;
    for (auto [listen, cert] : {std::pair(port, "server"), std::pair(other_port, "other-server")}) {
      servers += "  server {\n    listen 127.0.0.1:" + std::to_string(listen) + " ssl;\n" + "    ssl_certificate " +
                 (p / cert).string() + ".crt;\n" + "    ssl_certificate_key " + (p / cert).string() + ".key;\n" +
                 "    ssl_client_certificate " + (p / "ca.crt").string() + ";\n" +
                 "    ssl_verify_client on; ssl_verify_depth 2; ssl_protocols TLSv1.2 TLSv1.3;\n"
                 "    client_max_body_size 0;\n"
                 "    location /sennen/ { root data; dav_methods PUT; create_full_put_path on;"
                 " dav_access user:rw group:r; }\n"
                 "    location /fail500/ { return 500; }\n"
                 "    location /forbidden/ { return 403; }\n"
                 // Takes the upload, but a HEAD says it holds 5 bytes: a receiver that lost part of it.
                 "    location /lying/ { if ($request_method = HEAD) { return 200 \"short\"; }"
                 " root data; dav_methods PUT; create_full_put_path on; }\n"
                 // The network fault campaign (tests/faults/netfaults.py) found a marker stored cut short.
                 "    location /nomarker/ { root data; dav_methods PUT; create_full_put_path on; }\n"
                 "    location ~ ^/nomarker/.*\\.json$ { if ($request_method = PUT) { return 201; } root data; }\n"
                 "  }\n";
    }
    // As root, nginx would hand its workers to 'nobody', who may not write under our root-owned
    // temporary folder; the directive is ignored (with a notice) when we are not root.
    sennen::test::write_file(
        dir / "nginx.conf",
        std::string(::geteuid() == 0 ? "user root;\n" : "") +
            "worker_processes 1;\ndaemon off;\npid logs/nginx.pid;\n"
            "error_log logs/error.log info;\nevents { worker_connections 64; }\n"
            "http {\n  access_log logs/access.log;\n"
            "  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy;"
            " fastcgi_temp_path tmp/fastcgi; uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;\n" +
            servers + "}\n");
    const std::string prefix = dir.path().string() + "/";
    std::vector<std::string> args{"/usr/sbin/nginx", "-p", prefix, "-c", "nginx.conf", "-e", "logs/error.log"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!(accepts(port) && accepts(other_port))) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("nginx exited at start:\n" << sennen::test::read_file(dir / "logs/error.log"));
      }
      REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "nginx did not start listening within 5 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~Receiver() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  std::string url(const std::string& location, bool other = false) const {
    return "https://127.0.0.1:" + std::to_string(other ? other_port : port) + "/" + location;
  }
  fs::path stored(const std::string& rel) const { return dir / ("data/sennen/" + rel); }
  std::size_t files_stored() const {
    std::size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir / "data"))
      if (e.is_regular_file()) ++n;
    return n;
  }

  TempDir dir;
  int port, other_port;

 private:
  pid_t pid_ = -1;
};

sennen::destinations::HttpsOptions options(const std::string& url, const std::string& client = "client",
                                           const std::string& ca = "ca") {
  sennen::destinations::HttpsOptions o;
  o.url = url;
  o.site_id = kSite;
  o.ca = pki() / (ca + ".crt");
  o.cert = pki() / (client + ".crt");
  o.key = pki() / (client + ".key");
  o.connect_timeout = std::chrono::seconds(5);
  o.low_speed_time = std::chrono::seconds(5);
  return o;
}

// An outbox file of `size` random bytes, described as the pipeline would.
BatchFile outbox_batch(const TempDir& dir, const std::string& id, std::size_t size) {
  std::string bytes(size, '\0');
  std::mt19937_64 rng(size);
  for (auto& c : bytes) c = static_cast<char>(rng());
  const fs::path file = dir / ("outbox/" + id + ".cms");
  sennen::test::write_file(file, bytes);
  return {id,
          "20260401",
          file,
          size,
          sennen::util::sha256_hex(bytes),
          "{\"batch_id\":\"" + id + "\",\"size\":" + std::to_string(size) + "}"};
}

}  // namespace

TEST_CASE("happy path: batch, marker and heartbeat stored exactly; re-delivery overwrites") {
  sennen::destinations::HttpsGlobalInit curl;
  Receiver rx;
  TempDir work;
  auto dest = sennen::destinations::make_https_destination(options(rx.url("sennen")));
  CHECK(dest->describe() == "https " + rx.url("sennen"));
  // Larger than libcurl's upload buffer and than its Expect: 100-continue threshold (1 MiB).
  const BatchFile b = outbox_batch(work, "b-0001", 3 * 1024 * 1024 + 17);
  auto r = dest->deliver(b);
  REQUIRE_MESSAGE(r.status == Status::delivered, r.reason);
  const std::string rel = std::string(kSite) + "/20260401/b-0001";
  CHECK(sennen::test::read_file(rx.stored(rel + ".cms")) == sennen::test::read_file(b.file));
  CHECK(sennen::test::read_file(rx.stored(rel + ".json")) == b.marker_json);

  const std::string hb = "{\"site\":\"1312345678\",\"ok\":true}";
  r = dest->put_heartbeat(hb);
  REQUIRE_MESSAGE(r.status == Status::delivered, r.reason);
  CHECK(sennen::test::read_file(rx.stored(std::string(kSite) + "/heartbeat.json")) == hb);

  // After a crash the same batch is sent again: the same bytes under the same names.
  r = dest->deliver(b);
  CHECK_MESSAGE(r.status == Status::delivered, r.reason);
  CHECK(sennen::test::read_file(rx.stored(rel + ".cms")) == sennen::test::read_file(b.file));
  CHECK(rx.files_stored() == 3);

  // An empty batch file is still a well-formed PUT.
  const BatchFile empty = outbox_batch(work, "b-0002", 0);
  r = dest->deliver(empty);
  CHECK_MESSAGE(r.status == Status::delivered, r.reason);
  CHECK(fs::file_size(rx.stored(std::string(kSite) + "/20260401/b-0002.cms")) == 0);
}

TEST_CASE("a batch whose marker the receiver holds cut short is not complete there") {
  sennen::destinations::HttpsGlobalInit curl;
  Receiver rx;
  TempDir work;
  auto dest = sennen::destinations::make_https_destination(options(rx.url("sennen")));
  const BatchFile b = outbox_batch(work, "b-0003", 4096);
  CHECK(dest->presence(b).state == sennen::Presence::State::absent);
  auto r = dest->deliver(b);
  REQUIRE_MESSAGE(r.status == Status::delivered, r.reason);
  CHECK(dest->presence(b).state == sennen::Presence::State::complete);
  // As the fault campaign found it: a faulty receiver stored the marker cut short.
  const std::string rel = std::string(kSite) + "/20260401/b-0003.json";
  sennen::test::write_file(rx.stored(rel), b.marker_json.substr(0, b.marker_json.size() - 16));
  CHECK(dest->presence(b).state == sennen::Presence::State::absent);
}

TEST_CASE("an outbox file that does not match its record is not committed") {
  sennen::destinations::HttpsGlobalInit curl;
  Receiver rx;
  TempDir work;
  auto dest = sennen::destinations::make_https_destination(options(rx.url("sennen")));
  BatchFile b = outbox_batch(work, "b-0003", 4096);
  b.sha256 = std::string(64, '0');
  auto r = dest->deliver(b);
  CHECK(r.status == Status::retry);
  CHECK(r.reason.find("does not match its recorded size and sha256") != std::string::npos);
  CHECK_FALSE(fs::exists(rx.stored(std::string(kSite) + "/20260401/b-0003.json")));

  b = outbox_batch(work, "b-0004", 4096);
  b.size = 8192;  // the file is shorter than recorded
  r = dest->deliver(b);
  CHECK(r.status == Status::retry);
  CHECK_MESSAGE(r.reason.find("shorter than its recorded size") != std::string::npos, r.reason);
  CHECK_FALSE(fs::exists(rx.stored(std::string(kSite) + "/20260401/b-0004.json")));
}

TEST_CASE("an upload the receiver acknowledged but does not hold whole is not committed") {
  sennen::destinations::HttpsGlobalInit curl;
  Receiver rx;
  TempDir work;
  auto dest = sennen::destinations::make_https_destination(options(rx.url("lying")));
  const BatchFile b = outbox_batch(work, "b-0014", 200000);
  auto r = dest->deliver(b);
  CHECK(r.status == Status::retry);
  CHECK_MESSAGE(r.reason.find("the receiver holds 5 bytes, not 200000; will send it again") != std::string::npos,
                r.reason);
  CHECK(fs::exists(rx.dir / ("data/lying/" + std::string(kSite) + "/20260401/b-0014.cms")));
  CHECK_FALSE(fs::exists(rx.dir / ("data/lying/" + std::string(kSite) + "/20260401/b-0014.json")));
}

TEST_CASE("a commit marker the receiver acknowledged but does not hold is not a delivery") {
  sennen::destinations::HttpsGlobalInit curl;
  Receiver rx;
  TempDir work;
  auto dest = sennen::destinations::make_https_destination(options(rx.url("nomarker")));
  const BatchFile b = outbox_batch(work, "b-0015", 100000);
  auto r = dest->deliver(b);
  // Counted as delivered, the batch would leave the outbox for good while the central side, which
  // counts a batch by its marker, never sees it.
  CHECK(r.status == Status::retry);
  CHECK_MESSAGE(
      r.reason.find("b-0015.json: the receiver acknowledged the upload but does not have it") != std::string::npos,
      r.reason);
  CHECK(fs::exists(rx.dir / ("data/nomarker/" + std::string(kSite) + "/20260401/b-0015.cms")));
}

TEST_CASE("a receiver certificate from another CA is refused before anything is sent") {
  sennen::destinations::HttpsGlobalInit curl;
  Receiver rx;
  TempDir work;
  auto dest = sennen::destinations::make_https_destination(options(rx.url("sennen", true)));
  auto r = dest->deliver(outbox_batch(work, "b-0005", 10000));
  CHECK(r.status == Status::rejected);
  CHECK_MESSAGE(r.reason.find("the receiver's TLS certificate was not accepted") != std::string::npos, r.reason);
  CHECK(r.reason.find("destination.tls.ca") != std::string::npos);
  CHECK(dest->put_heartbeat("{}").status == Status::rejected);
  CHECK(rx.files_stored() == 0);

  // The same holds the other way round: the right receiver, but the site trusts only another CA.
  auto wrong_ca = sennen::destinations::make_https_destination(options(rx.url("sennen"), "client", "other-ca"));
  CHECK(wrong_ca->deliver(outbox_batch(work, "b-0006", 100)).status == Status::rejected);
  CHECK(rx.files_stored() == 0);
}

TEST_CASE("a client certificate from another CA is refused by the receiver (nginx: 400)") {
  sennen::destinations::HttpsGlobalInit curl;
  Receiver rx;
  TempDir work;
  auto dest = sennen::destinations::make_https_destination(options(rx.url("sennen"), "other-client"));
  auto r = dest->deliver(outbox_batch(work, "b-0007", 2 * 1024 * 1024));
  CHECK(r.status == Status::rejected);
  CHECK_MESSAGE(r.reason.find("the receiver answered 400") != std::string::npos, r.reason);
  CHECK(r.reason.find("SSL certificate") != std::string::npos);  // nginx's page title, quoted
  CHECK(r.reason.find("client certificate (destination.tls.cert)") != std::string::npos);
  CHECK(rx.files_stored() == 0);
}

TEST_CASE("a missing client key is a configuration problem, not a retry") {
  sennen::destinations::HttpsGlobalInit curl;
  Receiver rx;
  TempDir work;
  auto o = options(rx.url("sennen"));
  o.key = work / "no-such.key";
  auto r = sennen::destinations::make_https_destination(o)->deliver(outbox_batch(work, "b-0008", 100));
  CHECK(r.status == Status::rejected);
  CHECK_MESSAGE(r.reason.find("cannot use this site's client certificate or key") != std::string::npos, r.reason);
  CHECK(rx.files_stored() == 0);
}

TEST_CASE("receiver down: retry") {
  sennen::destinations::HttpsGlobalInit curl;
  TempDir work;
  const int port = free_port();  // nothing listens there
  auto dest =
      sennen::destinations::make_https_destination(options("https://127.0.0.1:" + std::to_string(port) + "/sennen"));
  auto r = dest->deliver(outbox_batch(work, "b-0009", 100));
  CHECK(r.status == Status::retry);
  CHECK_MESSAGE(r.reason.find("cannot connect to the receiver") != std::string::npos, r.reason);
  CHECK(dest->put_heartbeat("{}").status == Status::retry);
}

TEST_CASE("server errors retry; a refusal (403) is rejected with what to do") {
  sennen::destinations::HttpsGlobalInit curl;
  Receiver rx;
  TempDir work;
  auto failing = sennen::destinations::make_https_destination(options(rx.url("fail500")));
  auto r = failing->deliver(outbox_batch(work, "b-0010", 100000));
  CHECK(r.status == Status::retry);
  CHECK_MESSAGE(r.reason.find("the receiver answered 500") != std::string::npos, r.reason);
  CHECK(failing->put_heartbeat("{}").status == Status::retry);

  auto refusing = sennen::destinations::make_https_destination(options(rx.url("forbidden")));
  r = refusing->deliver(outbox_batch(work, "b-0011", 100000));
  CHECK(r.status == Status::rejected);
  CHECK_MESSAGE(r.reason.find("the receiver answered 403 \"403 Forbidden\"") != std::string::npos, r.reason);
  CHECK(r.reason.find("refused the site certificate") != std::string::npos);
  CHECK(r.reason.find("check that the central side has enrolled the current site certificate") != std::string::npos);
  CHECK(rx.files_stored() == 0);

  // An address the receiver does not serve.
  auto lost = sennen::destinations::make_https_destination(options(rx.url("elsewhere")));
  r = lost->deliver(outbox_batch(work, "b-0012", 100));
  CHECK(r.status == Status::rejected);
  CHECK_MESSAGE(r.reason.find("check destination.url") != std::string::npos, r.reason);
}

// A receiver that completes the TLS handshake (client certificate checked) and then never
// answers: openssl s_server, its stdin held open so it keeps the connection.
TEST_CASE("a stalled receiver is given up on (low-speed limit) and retried") {
  sennen::destinations::HttpsGlobalInit curl;
  TempDir work;
  const int port = free_port();
  int in[2];
  REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
  sennen::util::Fd stdin_read(in[0]), stdin_write(in[1]);
  posix_spawn_file_actions_t actions;
  REQUIRE(::posix_spawn_file_actions_init(&actions) == 0);
  ::posix_spawn_file_actions_adddup2(&actions, stdin_read.get(), 0);
  ::posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  ::posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const fs::path& p = pki();
  std::vector<std::string> args{"openssl",
                                "s_server",
                                "-quiet",
                                "-accept",
                                "127.0.0.1:" + std::to_string(port),
                                "-cert",
                                (p / "server.crt").string(),
                                "-key",
                                (p / "server.key").string(),
                                "-CAfile",
                                (p / "ca.crt").string(),
                                "-Verify",
                                "1"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, "openssl", &actions, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  REQUIRE(spawned == 0);
  struct Stop {
    pid_t pid;
    ~Stop() {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  } stop{pid};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!accepts(port)) {
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "openssl s_server did not listen within 5 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto o = options("https://127.0.0.1:" + std::to_string(port) + "/sennen");
  o.low_speed_time = std::chrono::seconds(1);
  const auto started = std::chrono::steady_clock::now();
  auto r = sennen::destinations::make_https_destination(o)->deliver(outbox_batch(work, "b-0013", 100));
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(r.status == Status::retry);
  CHECK_MESSAGE(
      r.reason.find("did not answer in time, or the transfer stalled below 1024 bytes/s for 1s") != std::string::npos,
      r.reason);
  CHECK(took < std::chrono::seconds(4));  // given up after about low_speed_time, not the 5 s connect timeout
}
