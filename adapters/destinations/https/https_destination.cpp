#include "adapters/destinations/https/https_destination.hpp"

#include <future>

#include "adapters/destinations/curl/classify.hpp"
#include "adapters/destinations/curl/curl_easy.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/sha256.hpp"

namespace sennen::destinations {
namespace {

using Status = DeliveryResult::Status;
using curl::retry;

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

curl::Peer peer_of(const HttpsOptions& o) {
  return {"the receiver",    "destination.url", "destination.tls.ca (" + o.ca.string() + ")", "", o.cert, o.key,
          o.low_speed_bytes, o.low_speed_time};
}

// What a refusal from the receiver means for this site, and what to change.
curl::Answer interpret(const curl::Outcome& o, const HttpsOptions& opt) {
  const long s = o.status;
  curl::Answer a{"the receiver answered " + std::to_string(s), {}, false};
  if (auto page = page_summary(o.body_excerpt); !page.empty()) a.said += " \"" + page + "\"";
  const std::string cert = "client certificate (destination.tls.cert), " + opt.cert.string();
  if (s >= 300 && s < 400) {
    a.advice = ", a redirect to " + (o.location.empty() ? std::string("elsewhere") : o.location) +
               "; redirects are not followed: set destination.url to the address the central team gives";
    return a;
  }
  switch (s) {
    case 400:
      // nginx answers 400 (not a TLS alert) when the client certificate is missing, expired or not trusted.
      a.advice = "; if this names the SSL certificate, the receiver does not trust this site's " + cert +
                 ": check that it is the one the central side enrolled and has not expired (openssl x509 -enddate "
                 "-noout -in it), and that destination.tls.key belongs to it";
      break;
    case 401:
    case 403:
      a.advice = ": the receiver refused the site certificate (destination.tls.cert, " + opt.cert.string() +
                 ") for this site; check that the central side has enrolled the current site certificate (after a "
                 "certificate renewal it must be enrolled again) and that site.id is right. The batch is kept";
      break;
    case 404:
    case 409:
      a.advice =
          ": the receiver has no place for this site at that address; check destination.url and that the "
          "central side has set up this site";
      break;
    case 405:
      a.advice =
          ": the receiver does not accept uploads (PUT) at that address; check destination.url, and on the "
          "receiver that WebDAV PUT is enabled";
      break;
    case 413:
      a.advice =
          ": the batch is larger than the receiver accepts; raise its limit (nginx: client_max_body_size) or "
          "lower batch.max_bytes";
      break;
    default:
      break;
  }
  return a;
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
  explicit HttpsDestination(HttpsOptions o) : opt_(std::move(o)), peer_(peer_of(opt_)), client_(client_options(opt_)) {}

  std::string describe() const override { return "https " + opt_.url; }

  DeliveryResult deliver(const BatchFile& b) override {
    const std::string base = opt_.url + "/" + opt_.site_id + "/" + b.day + "/" + b.batch_id;
    try {
      // The outbox file is checked against its recorded sha256 on a second thread while it uploads
      // (the box has two cores; hashing in the read callback made the upload CPU-bound): the marker,
      // which makes the receiver count the batch, goes only if the bytes are the sealed ones. The
      // file is immutable once sealed, so both reads see the same bytes.
      auto sealed_hash = std::async(std::launch::async, [&b] { return util::sha256_file_hex(b.file); });
      curl::FileBody body(b.file, b.size);
      const std::string cms = base + ".cms";
      if (auto r = request_put(cms, body, "application/pkcs7-mime", "uploading " + cms); !r.ok()) {
        if (auto f = body.failure(); !f.empty()) return retry(f);
        return r;
      }
      if (body.sent() != b.size || sealed_hash.get() != b.sha256)
        return retry("outbox file " + b.file.string() +
                     " does not match its recorded size and sha256; its marker "
                     "was not sent, so the receiver does not count it; delete the file and its records are "
                     "sealed again");
      if (auto r = confirm_stored(cms, b.size); !r.ok()) return r;
      // The marker last: its presence tells the central side the batch is complete. It is checked
      // like the batch: a marker acknowledged but lost or cut short would leave the batch uncounted
      // (or unreadable) at the central side while the spool forgot it.
      log::stage("marker", b.batch_id);
      curl::StringBody marker(b.marker_json);
      const std::string json = base + ".json";
      if (auto r = request_put(json, marker, "application/json", "uploading " + json); !r.ok()) return r;
      return confirm_stored(json, b.marker_json.size());
    } catch (const Error& e) {
      return retry(e.what());
    }
  }

  Presence presence(const BatchFile& b) override {
    const std::string base = opt_.url + "/" + opt_.site_id + "/" + b.day + "/" + b.batch_id;
    try {
      auto marker = client_.head(base + ".json");
      if (marker.code == CURLE_OK && marker.status == 404) return Presence::absent();
      if (auto r = checked(marker, "asking whether " + base + ".json is there"); !r.ok())
        return Presence::unknown(r.reason);
      // A marker cut short (a receiver that acknowledged less than was sent) does not make the
      // batch complete: the central side cannot read it, so the batch must be sent again.
      if (marker.content_length != static_cast<curl_off_t>(b.marker_json.size())) return Presence::absent();
      auto batch = client_.head(base + ".cms");
      if (batch.code == CURLE_OK && batch.status == 404) return Presence::absent();
      if (auto r = checked(batch, "asking whether " + base + ".cms is there"); !r.ok())
        return Presence::unknown(r.reason);
      return batch.content_length == static_cast<curl_off_t>(b.size) ? Presence::complete() : Presence::absent();
    } catch (const Error& e) {
      return Presence::unknown(e.what());
    }
  }

  DeliveryResult check_access() override {
    const std::string url = opt_.url + "/" + opt_.site_id + "/heartbeat.json";
    try {
      auto o = client_.head(url);
      // Authenticated either way: 404 only says no heartbeat was stored yet.
      if (o.code == CURLE_OK && o.status == 404) return DeliveryResult::delivered();
      return checked(o, "HEAD " + url);
    } catch (const Error& e) {
      return DeliveryResult::retry(e.what());
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
    return checked(client_.put(url, body, type), what);
  }

  // Only a stored object of the right size counts; a proxy, a full disk or a faulty receiver could
  // have acknowledged less than was sent.
  DeliveryResult confirm_stored(const std::string& url, std::uint64_t size) {
    auto h = client_.head(url);
    if (h.code == CURLE_OK && h.status == 404)
      return retry("checking " + url +
                   ": the receiver acknowledged the upload but does not have it (404); will "
                   "send it again");
    if (auto r = checked(h, "checking " + url); !r.ok()) return r;
    if (h.content_length != static_cast<curl_off_t>(size))
      return retry("checking " + url + ": the receiver holds " + std::to_string(h.content_length) + " bytes, not " +
                   std::to_string(size) + "; will send it again");
    return DeliveryResult::delivered();
  }

  DeliveryResult checked(const curl::Outcome& o, const std::string& what) const {
    return curl::result_of(o, what, peer_, [this](const curl::Outcome& answer) { return interpret(answer, opt_); });
  }

  HttpsOptions opt_;
  curl::Peer peer_;
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
