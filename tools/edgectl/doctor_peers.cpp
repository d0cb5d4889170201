#include "tools/edgectl/doctor_peers.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "adapters/destinations/curl/curl_easy.hpp"
#include "adapters/destinations/s3/s3_destination.hpp"
#include "adapters/sources/dicom_common/echo.hpp"
#include "daemon/util/sha256.hpp"
#include "tools/edgectl/common.hpp"

namespace sennen::edgectl {
namespace {

namespace curl = destinations::curl;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;
using Cert = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

Cert read_cert(const std::filesystem::path& p) {
  File f(std::fopen(p.c_str(), "r"));
  return Cert(f ? PEM_read_X509(f.get(), nullptr, nullptr, nullptr) : nullptr);
}
Key read_key(const std::filesystem::path& p) {
  File f(std::fopen(p.c_str(), "r"));
  return Key(f ? PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr) : nullptr);
}

// Days from now until the certificate expires (negative: expired).
int days_left(const X509* cert) {
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert));
  return days;
}

void check_expiry(Report& r, const std::string& name, const std::filesystem::path& file, const X509* cert) {
  const int days = days_left(cert);
  if (days < 0)
    r.add(Level::fail, name, file.string() + " expired " + std::to_string(-days) + " day(s) ago; renew it");
  else if (days < 30)
    r.add(Level::warn, name, file.string() + " expires in " + std::to_string(days) + " day(s); renew it now");
  else
    r.add(Level::pass, name, file.string() + " valid for " + std::to_string(days) + " more days");
}

std::string heartbeat_url(const config::Config& cfg) {
  const auto& d = cfg.destination;
  if (d.type == config::DestinationType::https) return d.url + "/" + cfg.site.id + "/heartbeat.json";
  const std::string key = (d.prefix.empty() ? "" : d.prefix + "/") + cfg.site.id + "/heartbeat.json";
  if (d.addressing == config::S3Addressing::virtual_host)  // https://<bucket>.<host>/key
    return "https://" + d.bucket + "." + d.endpoint.substr(d.endpoint.find("://") + 3) + "/" + key;
  return d.endpoint + "/" + d.bucket + "/" + key;
}

}  // namespace

void check_tls_client(Report& r, const config::Tls& tls) {
  Cert cert = read_cert(tls.cert);
  Key key = read_key(tls.key);
  if (!cert || !key) {
    r.add(Level::fail, "TLS client certificate",
          std::string("cannot read ") + (cert ? tls.key.string() + " as a PEM private key" : tls.cert.string() + " as a PEM certificate"));
  } else if (X509_check_private_key(cert.get(), key.get()) != 1) {
    r.add(Level::fail, "TLS client certificate",
          tls.cert.string() + " does not belong to the key " + tls.key.string() + "; install the matching pair");
  } else {
    r.add(Level::pass, "TLS client certificate", tls.cert.string() + " matches " + tls.key.string());
  }
  if (cert) check_expiry(r, "TLS client certificate expiry", tls.cert, cert.get());
  if (Cert ca = read_cert(tls.ca)) check_expiry(r, "TLS CA expiry", tls.ca, ca.get());
}

void check_destination_reachable(Report& r, const config::Config& cfg) {
  const auto& d = cfg.destination;
  if (d.type == config::DestinationType::local) return;
  curl::ClientOptions o;
  o.ca = d.tls.ca;
  o.connect_timeout = std::min(d.connect_timeout, config::Seconds(15));
  o.low_speed_time = std::chrono::seconds(15);
  std::vector<std::string> headers;
  if (d.type == config::DestinationType::https) {
    o.cert = d.tls.cert;
    o.key = d.tls.key;
  } else {
    o.use_system_ca = d.tls.use_system_ca;
    try {
      const auto cred = destinations::read_s3_key_file(d.access_key_file);
      o.aws_sigv4 = "aws:amz:" + d.region + ":s3";
      o.userpwd = cred.access_key_id + ":" + cred.secret;
    } catch (const std::exception& e) {
      r.add(Level::fail, "destination reachability", std::string("no signed request possible: ") + e.what());
      return;
    }
    headers.push_back("x-amz-content-sha256: " + util::sha256_hex(""));
  }
  const std::string url = heartbeat_url(cfg);
  curl::Request req;
  req.method = "HEAD";
  req.url = url;
  req.headers = headers;
  curl::Outcome out;
  try {
    curl::Client client(o);
    out = client.send(req);
  } catch (const std::exception& e) {
    r.add(Level::fail, "destination reachability", e.what());
    return;
  }
  const char* what = d.type == config::DestinationType::https ? "TLS handshake with the client certificate"
                                                              : "TLS handshake and a SigV4-signed request";
  if (out.code != CURLE_OK) {
    r.add(Level::fail, "destination reachability",
          "HEAD " + url + ": " + (out.curl_error.empty() ? curl_easy_strerror(out.code) : out.curl_error) +
              " (check the URL, the network and destination.tls.ca)");
  } else if (out.status == 200 || out.status == 404) {
    r.add(Level::pass, "destination reachability",
          std::string(what) + " OK: HEAD " + url + " answered " + std::to_string(out.status) +
              (out.status == 404 ? " (no heartbeat there yet)" : ""));
  } else {
    const std::string why = out.status == 400 || out.status == 495 || out.status == 496
                                ? "the server refused the client certificate (is it enrolled at the central side?)"
                            : out.status == 401 || out.status == 403
                                ? "the server refused this site's credentials"
                                : "unexpected answer";
    r.add(Level::fail, "destination reachability",
          "HEAD " + url + " answered " + std::to_string(out.status) + ": " + why);
  }
}

void check_dicom_peers(Report& r, const config::Config& cfg) {
  for (const auto& s : cfg.sources) {
    if (s.type != config::SourceType::dicom_qr) continue;
    const auto& q = s.dicom_qr;
    const std::string problem = dicom::echo({q.host, q.port, q.ae_title, q.local_ae_title, std::chrono::seconds(10)});
    if (problem.empty())
      r.add(Level::pass, "DICOM peer " + s.name,
            q.ae_title + "@" + q.host + ":" + std::to_string(q.port) + " answered C-ECHO (we are " + q.local_ae_title + ")");
    else
      r.add(Level::fail, "DICOM peer " + s.name, problem);
  }
}

}  // namespace sennen::edgectl
