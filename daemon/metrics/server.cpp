#include "daemon/metrics/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <istream>

#include "daemon/util/error.hpp"
#include "daemon/util/log.hpp"

namespace sennen::metrics {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr std::size_t kMaxRequest = 8192;
constexpr auto kRequestTimeout = std::chrono::seconds(5);

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

// One connection: read the request head, answer, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Handler handler)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        buffer_(kMaxRequest),
        handler_(std::move(handler)) {}

  void start() {
    auto self = shared_from_this();
    timer_.expires_after(kRequestTimeout);
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->close();  // too slow: a stuck client must not hold a socket forever
    });
    asio::async_read_until(socket_, buffer_, "\r\n\r\n", [self](const boost::system::error_code& ec, std::size_t) {
      if (ec) return self->close();
      self->answer();
    });
  }

 private:
  void answer() {
    std::istream in(&buffer_);
    std::string method, target, version;
    in >> method >> target >> version;
    Response r;
    bool head = method == "HEAD";
    if (version.rfind("HTTP/1.", 0) != 0 || target.empty() || target[0] != '/') {
      r = {400, "text/plain; charset=utf-8", "bad request\n"};
    } else if (method != "GET" && !head) {
      r = {405, "text/plain; charset=utf-8", "only GET and HEAD\n"};
    } else {
      try {
        r = handler_(std::string_view(target).substr(0, target.find('?')));
      } catch (const std::exception& e) {  // never let an exception out of an Asio handler
        log::error(std::string("metrics: ") + e.what());
        r = {500, "text/plain; charset=utf-8", "internal error\n"};
      }
    }
    out_ = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) +
           "\r\nContent-Type: " + r.content_type + "\r\nContent-Length: " + std::to_string(r.body.size()) +
           "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n" + (head ? "" : r.body);
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_),
                      [self](const boost::system::error_code&, std::size_t) { self->close(); });
  }

  void close() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  asio::streambuf buffer_;
  Handler handler_;  // a copy: a session may outlive nothing it points into
  std::string out_;
};

}  // namespace

struct Server::Impl {
  Impl(asio::io_context& io, int port, Handler h) : acceptor(io), handler(std::move(h)) {
    const tcp::endpoint at(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port));
    boost::system::error_code ec;
    acceptor.open(at.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(at, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      throw Error("metrics: cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + ec.message() +
                  " (choose another metrics.port, or remove it to turn metrics off)");
    accept();
  }

  void accept() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;  // the server is closing
      if (!ec) {
        std::make_shared<Session>(std::move(socket), handler)->start();
        return accept();
      }
      // Out of descriptors, say: wait a moment instead of spinning on the same error.
      log::warning("metrics: cannot accept a connection: " + ec.message());
      backoff.expires_after(std::chrono::seconds(1));
      backoff.async_wait([this](const boost::system::error_code& wait_ec) {
        if (!wait_ec) accept();
      });
    });
  }

  tcp::acceptor acceptor;
  asio::steady_timer backoff{acceptor.get_executor()};
  Handler handler;
};

Server::Server(asio::io_context& io, int port, Handler handler)
    : impl_(std::make_unique<Impl>(io, port, std::move(handler))) {}

Server::~Server() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  impl_->backoff.cancel();
}

int Server::port() const { return impl_->acceptor.local_endpoint().port(); }

}  // namespace sennen::metrics
