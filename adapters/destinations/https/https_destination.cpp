#include "adapters/destinations/https/https_destination.hpp"

#include "adapters/destinations/curl/curl_easy.hpp"
#include "daemon/core/error.hpp"

namespace sennen::destinations {
namespace {

using Status = DeliveryResult::Status;

DeliveryResult retry(std::string why) { return {Status::retry, std::move(why)}; }
DeliveryResult rejected(std::string why) { return {Status::rejected, std::move(why)}; }

// What an error page says, in one short line: its <title> if it has one (nginx's do), else the
// first line of text.
std::string page_summary(const std::string& body) {
  std::string text;
  if (auto open = body.find("<title>"); open != std::string::npos) {
    auto close = body.find("</title>", open);
    text = body.substr(open + 7, close == std::string::npos ? std::string::npos : close - open - 7);
  } else {
    text = body.substr(0, body.find('\n'));
  }
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  if (text.size() > 160) text = text.substr(0, 160) + "...";
  return text;
}

// Turns a failed transfer (no HTTP answer) into retry or rejected, in words an operator can use.
DeliveryResult classify_transport(const curl::Outcome& o, const std::string& what, const HttpsOptions& opt) {
  const std::string detail = " (" + o.curl_error + ")";
  switch (o.code) {
    case CURLE_PEER_FAILED_VERIFICATION:
      return rejected(what + ": the receiver's TLS certificate was not accepted" + detail +
                      ": it must be issued by the CA in destination.tls.ca (" + opt.ca.string() +
                      ") and name the host in destination.url; nothing was sent. Ask the central team for "
                      "their current CA certificate, or correct the url");
    case CURLE_SSL_CACERT_BADFILE:
      return rejected(what + ": cannot use destination.tls.ca (" + opt.ca.string() + ")" + detail +
                      "; check that the file exists, is readable by the sennen-edge user and holds a PEM "
                      "CA certificate");
    case CURLE_SSL_CERTPROBLEM:
      return rejected(what + ": cannot use this site's client certificate or key (" + opt.cert.string() + ", " +
                      opt.key.string() + ")" + detail +
                      "; check that both files exist, are readable by the sennen-edge user, are PEM, and "
                      "belong together");
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return rejected(what + ": destination.url is not usable" + detail + "; correct it in the configuration");
    case CURLE_OPERATION_TIMEDOUT:
      return retry(what + ": the receiver did not answer in time, or the transfer stalled below " +
                   std::to_string(opt.low_speed_bytes) + " bytes/s for " +
                   std::to_string(opt.low_speed_time.count()) + "s" + detail + "; will try again");
    case CURLE_SSL_CONNECT_ERROR:
      return retry(what + ": the TLS handshake with the receiver failed" + detail +
                   "; will try again. If this persists, the receiver may not offer TLS 1.2 or newer, or may not "
                   "accept this site's client certificate");
    case CURLE_COULDNT_RESOLVE_HOST:
      return retry(what + ": cannot resolve the receiver's host name" + detail +
                   "; check DNS on this machine and destination.url; will try again");
    case CURLE_COULDNT_CONNECT:
      return retry(what + ": cannot connect to the receiver" + detail +
                   "; it may be down, or a firewall blocks the port; will try again");
    default:
      return retry(what + ": transfer failed" + detail + "; will try again");
  }
}

// Turns an HTTP answer other than 2xx into retry or rejected.
DeliveryResult classify_status(const curl::Outcome& o, const std::string& what) {
  const long s = o.status;
  std::string said = "the receiver answered " + std::to_string(s);
  if (auto page = page_summary(o.body_excerpt); !page.empty()) said += " \"" + page + "\"";
  // Overload, timeouts and server faults pass; the batch stays queued and is sent again.
  if (s >= 500 || s == 408 || s == 429) return retry(what + ": " + said + "; will try again");
  if (s >= 300 && s < 400)
    return rejected(what + ": " + said + ", a redirect to " + (o.location.empty() ? "elsewhere" : o.location) +
                    "; redirects are not followed: set destination.url to the address the central team gives");
  switch (s) {
    case 400:
      // nginx answers 400 (not a TLS alert) when the client certificate is missing or not trusted.
      return rejected(what + ": " + said +
                      "; if this names the SSL certificate, the receiver does not trust this site's client "
                      "certificate (destination.tls.cert): check that it is the one the central side enrolled "
                      "and has not expired");
    case 401:
    case 403:
      return rejected(what + ": " + said +
                      ": the receiver refused the site certificate (destination.tls.cert) for this site; check "
                      "that the central side has enrolled the current site certificate (after a certificate "
                      "renewal it must be enrolled again) and that site.id is right. The batch is kept");
    case 404:
    case 409:
      return rejected(what + ": " + said +
                      ": the receiver has no place for this site at that address; check destination.url and "
                      "that the central side has set up this site");
    case 405:
      return rejected(what + ": " + said +
                      ": the receiver does not accept uploads (PUT) at that address; check destination.url, "
                      "and on the receiver that WebDAV PUT is enabled");
    case 413:
      return rejected(what + ": " + said +
                      ": the batch is larger than the receiver accepts; raise its limit (nginx: "
                      "client_max_body_size) or lower batch.max_bytes");
    default:
      return rejected(what + ": " + said + "; the batch is kept and will be sent when this is fixed");
  }
}

curl::ClientOptions client_options(const HttpsOptions& o) {
  curl::ClientOptions c;
  c.ca = o.ca;  // pinned; the system store is never used for the central receiver
  c.cert = o.cert;
  c.key = o.key;
  c.connect_timeout = o.connect_timeout;
  c.low_speed_bytes = o.low_speed_bytes;
  c.low_speed_time = o.low_speed_time;
  c.max_send_bytes_per_second = o.max_send_bytes_per_second;
  return c;
}

class HttpsDestination final : public Destination {
 public:
  explicit HttpsDestination(HttpsOptions o) : opt_(std::move(o)), client_(client_options(opt_)) {}

  std::string describe() const override { return "https " + opt_.url; }

  DeliveryResult deliver(const BatchFile& b) override {
    const std::string base = opt_.url + "/" + opt_.site_id + "/" + b.day + "/" + b.batch_id;
    try {
      curl::FileBody body(b.file, b.size);
      const std::string cms = base + ".cms";
      if (auto r = request_put(cms, body, "application/pkcs7-mime", "uploading " + cms); r.status != Status::delivered) {
        if (auto f = body.failure(); !f.empty()) return retry(f);
        return r;
      }
      if (body.sent() != b.size || body.sha256() != b.sha256)
        return retry("outbox file " + b.file.string() + " does not match its recorded size and sha256; its marker "
                     "was not sent, so the receiver does not count it; it will be sealed again");
      // Only a stored object of the right size counts; a proxy or a full disk could have
      // acknowledged less than was sent.
      auto h = client_.head(cms);
      if (h.code != CURLE_OK) return classify_transport(h, "checking " + cms, opt_);
      if (h.status < 200 || h.status >= 300)
        return h.status == 404 ? retry("checking " + cms + ": the receiver acknowledged the upload but does not "
                                       "have it (404); will send it again")
                               : classify_status(h, "checking " + cms);
      if (h.content_length != static_cast<curl_off_t>(b.size))
        return retry("checking " + cms + ": the receiver holds " + std::to_string(h.content_length) +
                     " bytes, not " + std::to_string(b.size) + "; will send it again");
      // The marker last: its presence tells the central side the batch is complete.
      curl::StringBody marker(b.marker_json);
      return request_put(base + ".json", marker, "application/json", "uploading " + base + ".json");
    } catch (const Error& e) {
      return retry(e.what());
    }
  }

  DeliveryResult put_heartbeat(std::string_view json) override {
    const std::string url = opt_.url + "/" + opt_.site_id + "/heartbeat.json";
    try {
      curl::StringBody body(json);
      return request_put(url, body, "application/json", "uploading " + url);
    } catch (const Error& e) {
      return retry(e.what());
    }
  }

 private:
  DeliveryResult request_put(const std::string& url, curl::Body& body, const char* type, const std::string& what) {
    auto o = client_.put(url, body, type);
    if (o.code != CURLE_OK) return classify_transport(o, what, opt_);
    if (o.status < 200 || o.status >= 300) return classify_status(o, what);
    return {};
  }

  HttpsOptions opt_;
  curl::Client client_;
};

}  // namespace

std::unique_ptr<Destination> make_https_destination(HttpsOptions options) {
  return std::make_unique<HttpsDestination>(std::move(options));
}

HttpsGlobalInit::HttpsGlobalInit() {
  if (CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK)
    throw Error(std::string("cannot initialise libcurl: ") + curl_easy_strerror(rc));
}

HttpsGlobalInit::~HttpsGlobalInit() { curl_global_cleanup(); }

}  // namespace sennen::destinations
