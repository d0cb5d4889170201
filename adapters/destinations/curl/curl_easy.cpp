#include "adapters/destinations/curl/curl_easy.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cstring>

#include "daemon/util/error.hpp"
#include "sennen/version.hpp"

namespace sennen::destinations::curl {
namespace {

// libcurl's callbacks: plain functions with the exact signatures curl_easy_setopt expects.
std::size_t read_cb(char* buf, std::size_t size, std::size_t n, void* user) {
  return static_cast<Body*>(user)->read(buf, size * n);
}

int seek_cb(void* user, curl_off_t offset, int origin) {
  // libcurl only rewinds to the start (to re-send after an auth or Expect exchange).
  if (origin != SEEK_SET || offset != 0) return CURL_SEEKFUNC_CANTSEEK;
  return static_cast<Body*>(user)->rewind() ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
}

std::size_t write_cb(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<ResponseSink*>(user);
  const std::size_t len = size * n;
  if (sink->body.size() < sink->keep) sink->body.append(data, std::min(len, sink->keep - sink->body.size()));
  return len;  // the rest is read and dropped
}

// Keeps the ETag header (S3 names each stored part by it); the other headers are not needed.
std::size_t header_cb(char* data, std::size_t size, std::size_t n, void* user) {
  const std::size_t len = size * n;
  std::string_view line(data, len);
  constexpr std::string_view name = "etag:";
  if (line.size() > name.size()) {
    bool match = true;
    for (std::size_t i = 0; i < name.size() && match; ++i)
      match = static_cast<char>(std::tolower(static_cast<unsigned char>(line[i]))) == name[i];
    if (match) {
      line.remove_prefix(name.size());
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) line.remove_suffix(1);
      try {
        static_cast<ResponseSink*>(user)->etag.assign(line);
      } catch (...) {
        return 0;  // out of memory: abort the transfer rather than throw through libcurl
      }
    }
  }
  return len;
}

// A security option that cannot be set must stop the request, never weaken it silently.
template <typename T>
void set(CURL* easy, CURLoption option, T value, const char* name) {
  if (CURLcode rc = curl_easy_setopt(easy, option, value); rc != CURLE_OK)
    throw Error(std::string("libcurl refused option ") + name + ": " + curl_easy_strerror(rc) +
                " (the installed libcurl lacks a feature sennen-edge needs; install Debian's libcurl4)");
}

}  // namespace

FileBody::FileBody(const std::filesystem::path& file, std::uint64_t size, std::uint64_t offset)
    : path_(file), fd_(util::open_for_read(file)), size_(size), offset_(offset) {
  if (offset_ && !rewind())
    throw Error("cannot seek in outbox file " + path_.string() + ": " + util::errno_text(errno_));
}

std::size_t FileBody::read(char* buf, std::size_t n) noexcept {
  // Never more than announced in Content-Length, even if the file grew.
  n = static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - sent_));
  if (n == 0) return 0;
  ssize_t got;
  do got = ::read(fd_.get(), buf, n);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    errno_ = errno;
    return CURL_READFUNC_ABORT;
  }
  if (got == 0) {  // the file is shorter than recorded
    short_ = true;
    return CURL_READFUNC_ABORT;
  }
  sent_ += static_cast<std::size_t>(got);
  return static_cast<std::size_t>(got);
}

bool FileBody::rewind() noexcept {
  if (::lseek(fd_.get(), static_cast<off_t>(offset_), SEEK_SET) != static_cast<off_t>(offset_)) {
    errno_ = errno;
    return false;
  }
  sent_ = 0;
  return true;
}

std::string FileBody::failure() const {
  if (errno_) return "cannot read outbox file " + path_.string() + ": " + util::errno_text(errno_);
  if (short_)
    return "outbox file " + path_.string() + " is shorter than its recorded size (" + std::to_string(size_) +
           " bytes); delete it and its records are sealed again";
  return {};
}

std::size_t StringBody::read(char* buf, std::size_t n) noexcept {
  n = std::min(n, data_.size() - pos_);
  std::memcpy(buf, data_.data() + pos_, n);
  pos_ += n;
  return n;
}

Client::Client(ClientOptions options) : opt_(std::move(options)), easy_(curl_easy_init()) {
  if (!easy_) throw Error("libcurl could not create a transfer handle (out of memory?)");
  if (opt_.ca.empty() && !opt_.use_system_ca)
    throw Error("internal error: a TLS client needs a pinned CA, or an explicit choice of the system trust store");
  for (const auto& entry : opt_.resolve) {
    curl_slist* grown = curl_slist_append(resolve_.get(), entry.c_str());
    if (!grown) throw Error("libcurl could not build the host table (out of memory?)");
    static_cast<void>(resolve_.release());
    resolve_.reset(grown);
  }
}

// Options every request gets; curl_easy_reset clears the previous request's but keeps the open
// connection and TLS session, so a batch's PUT, HEAD and marker share one handshake.
void Client::prepare(const std::string& url, std::size_t keep_response) {
  CURL* e = easy_.get();
  curl_easy_reset(e);
  errbuf_[0] = '\0';
  sink_ = ResponseSink{};
  sink_.keep = keep_response;
  set(e, CURLOPT_ERRORBUFFER, errbuf_.data(), "ERRORBUFFER");
  set(e, CURLOPT_URL, url.c_str(), "URL");
  set(e, CURLOPT_PROTOCOLS_STR, "https", "PROTOCOLS_STR");  // never plain http, whatever the URL says
  set(e, CURLOPT_FOLLOWLOCATION, 0L, "FOLLOWLOCATION");
  set(e, CURLOPT_NOSIGNAL, 1L, "NOSIGNAL");  // we run on a worker thread; no SIGALRM for timeouts
  set(e, CURLOPT_USERAGENT, (std::string("sennen-edged/") + kVersion).c_str(), "USERAGENT");
  // The server is checked against the configured CA only: CAPATH is cleared so the system store
  // (Debian's default /etc/ssl/certs) is never consulted. Without a CA the system store is used,
  // and only when the configuration asked for it; a client with neither cannot be made.
  if (!opt_.ca.empty()) {
    set(e, CURLOPT_CAINFO, opt_.ca.c_str(), "CAINFO");
    set(e, CURLOPT_CAPATH, static_cast<const char*>(nullptr), "CAPATH");
  }
  set(e, CURLOPT_SSL_VERIFYPEER, 1L, "SSL_VERIFYPEER");
  set(e, CURLOPT_SSL_VERIFYHOST, 2L, "SSL_VERIFYHOST");
  set(e, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2), "SSLVERSION");
  if (!opt_.cert.empty()) {  // mutual TLS
    set(e, CURLOPT_SSLCERTTYPE, "PEM", "SSLCERTTYPE");
    set(e, CURLOPT_SSLCERT, opt_.cert.c_str(), "SSLCERT");
    set(e, CURLOPT_SSLKEYTYPE, "PEM", "SSLKEYTYPE");
    set(e, CURLOPT_SSLKEY, opt_.key.c_str(), "SSLKEY");
  }
  if (!opt_.aws_sigv4.empty()) {
    set(e, CURLOPT_AWS_SIGV4, opt_.aws_sigv4.c_str(), "AWS_SIGV4");
    set(e, CURLOPT_USERPWD, opt_.userpwd.c_str(), "USERPWD");
  }
  if (resolve_) set(e, CURLOPT_RESOLVE, resolve_.get(), "RESOLVE");
  // A receiver that does not answer, or a transfer that crawls, is given up on (and retried by the
  // caller) instead of holding the pipeline forever.
  set(e, CURLOPT_CONNECTTIMEOUT, static_cast<long>(opt_.connect_timeout.count()), "CONNECTTIMEOUT");
  set(e, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(std::min<std::uint64_t>(opt_.low_speed_bytes, 1ull << 30)),
      "LOW_SPEED_LIMIT");
  set(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(opt_.low_speed_time.count()), "LOW_SPEED_TIME");
  // The hospital's bandwidth cap (schedule.bandwidth_limit): libcurl paces the upload itself.
  if (opt_.max_send_bytes_per_second)
    set(e, CURLOPT_MAX_SEND_SPEED_LARGE, static_cast<curl_off_t>(opt_.max_send_bytes_per_second),
        "MAX_SEND_SPEED_LARGE");
  set(e, CURLOPT_WRITEFUNCTION, write_cb, "WRITEFUNCTION");
  set(e, CURLOPT_WRITEDATA, static_cast<void*>(&sink_), "WRITEDATA");
  set(e, CURLOPT_HEADERFUNCTION, header_cb, "HEADERFUNCTION");
  set(e, CURLOPT_HEADERDATA, static_cast<void*>(&sink_), "HEADERDATA");
}

Outcome Client::perform() {
  CURL* e = easy_.get();
  Outcome o;
  o.code = curl_easy_perform(e);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &o.status);
  if (o.code != CURLE_OK) o.curl_error = errbuf_[0] ? errbuf_.data() : curl_easy_strerror(o.code);
  curl_off_t length = -1;
  if (curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK) o.content_length = length;
  char* location = nullptr;
  if (curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) o.location = location;
  o.body_excerpt = sink_.body;
  o.etag = sink_.etag;
  return o;
}

Outcome Client::send(const Request& r) {
  prepare(r.url, r.keep_response);
  CURL* e = easy_.get();
  HeaderList headers;
  for (const auto& h : r.headers) {
    curl_slist* grown = curl_slist_append(headers.get(), h.c_str());
    if (!grown) throw Error("libcurl could not build the request headers (out of memory?)");
    static_cast<void>(headers.release());  // now owned by `grown`, which links to it
    headers.reset(grown);
  }
  if (headers) set(e, CURLOPT_HTTPHEADER, headers.get(), "HTTPHEADER");
  const std::string method = r.method;
  if (method == "HEAD") {
    set(e, CURLOPT_NOBODY, 1L, "NOBODY");
  } else if (method == "PUT" || (method == "POST" && r.body)) {
    if (!r.body) throw Error("internal error: a PUT needs a body");
    set(e, CURLOPT_UPLOAD, 1L, "UPLOAD");
    set(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body->size()), "INFILESIZE_LARGE");
    set(e, CURLOPT_READFUNCTION, read_cb, "READFUNCTION");
    set(e, CURLOPT_READDATA, static_cast<void*>(r.body), "READDATA");
    set(e, CURLOPT_SEEKFUNCTION, seek_cb, "SEEKFUNCTION");
    set(e, CURLOPT_SEEKDATA, static_cast<void*>(r.body), "SEEKDATA");
    // UPLOAD means PUT; a POST with a streamed body is a PUT renamed.
    if (method == "POST") set(e, CURLOPT_CUSTOMREQUEST, "POST", "CUSTOMREQUEST");
  } else if (method == "POST") {
    set(e, CURLOPT_POST, 1L, "POST");
    set(e, CURLOPT_POSTFIELDSIZE, 0L, "POSTFIELDSIZE");
    set(e, CURLOPT_POSTFIELDS, "", "POSTFIELDS");
  } else if (method == "DELETE") {  // S3's AbortMultipartUpload
    set(e, CURLOPT_CUSTOMREQUEST, "DELETE", "CUSTOMREQUEST");
  } else if (method != "GET") {
    throw Error("internal error: unsupported HTTP method " + method);
  }
  Outcome o = perform();
  // The list must outlive the transfer; drop libcurl's pointer to it before it is freed.
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
  return o;
}

Outcome Client::put(const std::string& url, Body& body, const char* content_type) {
  Request r;
  r.method = "PUT";
  r.url = url;
  r.body = &body;
  r.headers.push_back(std::string("Content-Type: ") + content_type);
  return send(r);
}

Outcome Client::head(const std::string& url) {
  Request r;
  r.method = "HEAD";
  r.url = url;
  return send(r);
}

}  // namespace sennen::destinations::curl
