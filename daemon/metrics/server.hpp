#pragma once
// A minimal HTTP/1.1 server for /metrics and /healthz on 127.0.0.1 (never another address),
// running on the service's io_context. One request per connection; requests larger than 8 KiB
// or slower than 5 s are dropped. Asio stays in server.cpp.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace sennen::metrics {

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called on the io thread with the request path (without the query string) for GET and HEAD.
using Handler = std::function<Response(std::string_view path)>;

class Server {
 public:
  // Listens on 127.0.0.1:port (0: a free port, see port()). Throws sennen::Error when it cannot.
  Server(boost::asio::io_context& io, int port, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sennen::metrics
