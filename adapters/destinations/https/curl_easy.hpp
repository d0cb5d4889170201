#pragma once
// Internal to sennen_dest_https: one libcurl easy handle with the TLS policy applied to every
// request, and request bodies read through a callback. Only this module includes curl.h.
#include <curl/curl.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "adapters/destinations/https/https_destination.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/sha256.hpp"

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

// A file streamed in pieces (a batch can be larger than the memory we want to use), hashed on
// the way so we know the bytes sent are the bytes sealed.
class FileBody final : public Body {
 public:
  FileBody(const std::filesystem::path& file, std::uint64_t size);  // throws Error if it cannot be opened
  std::uint64_t size() const override { return size_; }
  std::size_t read(char* buf, std::size_t n) noexcept override;
  bool rewind() noexcept override;
  std::string failure() const override;
  std::uint64_t sent() const { return sent_; }
  std::string sha256() { return hash_.hex_digest(); }

 private:
  std::filesystem::path path_;
  util::Fd fd_;
  std::uint64_t size_;
  std::uint64_t sent_ = 0;
  util::Sha256 hash_;
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
  long status = 0;           // HTTP status, 0 when no response was received
  std::string curl_error;    // libcurl's detailed message when code != CURLE_OK
  std::string body_excerpt;  // the start of the response body (error pages say why)
  curl_off_t content_length = -1;  // from a HEAD; -1 when not sent
  std::string location;      // redirect target, if any (never followed)
};

class Client {
 public:
  explicit Client(HttpsOptions options);
  Outcome put(const std::string& url, Body& body, const char* content_type);
  Outcome head(const std::string& url);

 private:
  void prepare(const std::string& url);
  Outcome perform();

  HttpsOptions opt_;
  EasyHandle easy_;  // kept between requests so the TLS connection is reused
  std::array<char, CURL_ERROR_SIZE> errbuf_{};
  std::string response_;
};

}  // namespace sennen::destinations::curl
