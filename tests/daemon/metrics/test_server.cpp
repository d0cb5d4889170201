// The HTTP server on a real socket: answers GET and HEAD through the handler, refuses other
// methods, drops a client that sends nothing, and listens on 127.0.0.1 only.
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "daemon/util/error.hpp"
#include "daemon/metrics/server.hpp"

using namespace sennen::metrics;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Runs the server's io_context on its own thread for the length of a test.
struct Running {
  asio::io_context io;
  Server server;
  std::thread thread;
  explicit Running(Handler h) : server(io, 0, std::move(h)), thread([this] { io.run(); }) {}
  ~Running() {
    io.stop();
    thread.join();
  }
};

std::string exchange(int port, const std::string& request) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect({asio::ip::address_v4::loopback(), static_cast<unsigned short>(port)});
  asio::write(s, asio::buffer(request));
  std::string reply;
  boost::system::error_code ec;
  asio::read(s, asio::dynamic_buffer(reply), ec);  // until the server closes
  return reply;
}

Response route(std::string_view path) {
  if (path == "/metrics") return {200, "text/plain; version=0.0.4", "sennen_up 1\n"};
  if (path == "/healthz") return {503, "application/json", "{\"status\":\"failing\"}"};
  return {404, "text/plain", "not found\n"};
}

}  // namespace

TEST_CASE("GET and HEAD go to the handler; status, type and length are sent") {
  Running r(route);
  const std::string m = exchange(r.server.port(), "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(m.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(m.find("Content-Type: text/plain; version=0.0.4\r\n") != std::string::npos);
  CHECK(m.find("Content-Length: 12\r\n") != std::string::npos);
  CHECK(m.substr(m.size() - 12) == "sennen_up 1\n");
  const std::string h = exchange(r.server.port(), "GET /healthz HTTP/1.0\r\n\r\n");
  CHECK(h.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
  const std::string head = exchange(r.server.port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  CHECK(head.find("Content-Length: 12\r\n") != std::string::npos);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
  CHECK(exchange(r.server.port(), "GET /nope HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
}

TEST_CASE("other methods and garbage are refused without calling the handler") {
  int calls = 0;
  Running r([&](std::string_view p) {
    ++calls;
    return route(p);
  });
  CHECK(exchange(r.server.port(), "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0) == 0);
  CHECK(exchange(r.server.port(), "hello\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  CHECK(calls == 0);
}

TEST_CASE("an exception in the handler is a 500, and the server keeps serving") {
  bool fail = true;
  Running r([&](std::string_view p) -> Response {
    if (fail) throw sennen::Error("snapshot broke");
    return route(p);
  });
  CHECK(exchange(r.server.port(), "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 500", 0) == 0);
  fail = false;
  CHECK(exchange(r.server.port(), "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200", 0) == 0);
}

TEST_CASE("it listens on 127.0.0.1 only, and a port in use is a clear error") {
  Running r(route);
  // 127.0.0.2 is this host too (all of 127/8 is loopback), but not the address bound.
  asio::io_context io;
  tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({asio::ip::make_address_v4("127.0.0.2"), static_cast<unsigned short>(r.server.port())}, ec);
  CHECK(ec);
  asio::io_context other;
  try {
    Server second(other, r.server.port(), route);
    FAIL("a second server bound the same port");
  } catch (const sennen::Error& e) {
    CHECK(std::string(e.what()).find("metrics.port") != std::string::npos);
  }
}
