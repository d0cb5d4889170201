#pragma once
// Internal to the destination modules (https, s3): one libcurl easy handle with the TLS policy
// applied to every request, and request bodies read through a callback. Only destination modules
// include this (and so curl.h).
#include <curl/curl.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <chrono>
#include <vector>

#include "daemon/util/fd.hpp"

namespace sennen::destinations::curl {

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

// A request body, pulled by libcurl. read() and rewind() run inside libcurl's callbacks, so they
// never throw: a failure is remembered and reported by failure().
class Body {
 public:
  virtual ~Body() = default;
  virtual std::uint64_t size() const = 0;
  virtual std::size_t read(char* buf, std::size_t n) noexcept = 0;  // 0 = end, CURL_READFUNC_ABORT = error
  virtual bool rewind() noexcept = 0;
  virtual std::string failure() const { return {}; }
};

// A file (or the range [offset, offset + size) of it: one multipart part) streamed in pieces (a
// batch can be larger than the memory we want to use). It counts what it sent; whether those are
// the sealed bytes is the caller's check (the https destination hashes the file alongside).
class FileBody final : public Body {
 public:
  // throws Error if it cannot be opened
  FileBody(const std::filesystem::path& file, std::uint64_t size, std::uint64_t offset = 0);
  std::uint64_t size() const override { return size_; }
  std::size_t read(char* buf, std::size_t n) noexcept override;
  bool rewind() noexcept override;
  std::string failure() const override;
  std::uint64_t sent() const { return sent_; }

 private:
  std::filesystem::path path_;
  util::Fd fd_;
  std::uint64_t size_;
  std::uint64_t offset_;
  std::uint64_t sent_ = 0;
  int errno_ = 0;
  bool short_ = false;
};

class StringBody final : public Body {
 public:
  explicit StringBody(std::string_view data) : data_(data) {}
  std::uint64_t size() const override { return data_.size(); }
  std::size_t read(char* buf, std::size_t n) noexcept override;
  bool rewind() noexcept override {
    pos_ = 0;
    return true;
  }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

struct Outcome {
  CURLcode code = CURLE_OK;
  long status = 0;                 // HTTP status, 0 when no response was received
  std::string curl_error;          // libcurl's detailed message when code != CURLE_OK
  std::string body_excerpt;        // the start of the response body (error pages say why)
  curl_off_t content_length = -1;  // from a HEAD; -1 when not sent
  std::string location;            // redirect target, if any (never followed)
  std::string etag;                // the ETag response header, if any
};

// How every request of one destination reaches its server.
struct ClientOptions {
  // The server is checked against `ca` only. Without a ca, the system trust store is used, but
  // only when use_system_ca says so (the configuration asks for that explicitly).
  std::filesystem::path ca;
  bool use_system_ca = false;
  std::filesystem::path cert, key;  // client certificate (mutual TLS); empty = none
  std::chrono::seconds connect_timeout{30};
  std::uint64_t low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{60};
  std::uint64_t max_send_bytes_per_second = 0;  // 0 = no cap
  std::string aws_sigv4;             // e.g. "aws:amz:ap-northeast-1:s3": sign with CURLOPT_AWS_SIGV4; empty = don't
  std::string userpwd;               // "access key id:secret" for aws_sigv4
  std::vector<std::string> resolve;  // CURLOPT_RESOLVE entries "host:port:address"
};

struct Request {
  const char* method = "GET";  // GET, HEAD, PUT, POST
  std::string url;
  Body* body = nullptr;              // PUT/POST: what is sent (POST without body sends nothing)
  std::vector<std::string> headers;  // "Name: value"
  std::size_t keep_response = 2048;  // bytes of the response body kept in Outcome::body_excerpt
};

// Where a response body and headers go while libcurl receives them.
struct ResponseSink {
  std::string body;  // the first `keep` bytes
  std::size_t keep = 0;
  std::string etag;
};

class Client {
 public:
  explicit Client(ClientOptions options);
  Outcome send(const Request& request);
  Outcome put(const std::string& url, Body& body, const char* content_type);
  Outcome head(const std::string& url);

 private:
  void prepare(const std::string& url, std::size_t keep_response);
  Outcome perform();

  ClientOptions opt_;
  HeaderList resolve_;  // CURLOPT_RESOLVE keeps a pointer: outlives the handle that uses it
  EasyHandle easy_;     // kept between requests so the TLS connection is reused
  std::array<char, CURL_ERROR_SIZE> errbuf_{};
  ResponseSink sink_;
};

}  // namespace sennen::destinations::curl
