// type: https: the receiver's address, its CA and this site's client certificate, and the
// transfer limits.
#include "adapters/destinations/curl/options.hpp"
#include "adapters/destinations/curl/tls_files.hpp"
#include "adapters/destinations/https/https_destination.hpp"

namespace sennen::destinations {
namespace {

std::shared_ptr<const config::DestinationOptions> read(const config::Section& s) {
  auto o = std::make_shared<HttpsKeys>();
  if (auto u = s.required("url", "url: https://ingest.example.jp/sennen (the central receiver)"))
    if (auto url = read_https_url(*u, "the receiver's address", "https://ingest.example.jp/sennen")) o->url = *url;
  if (auto t = s.required("tls", "tls: {ca: central-ca.crt, cert: site.crt, key: site.key}")) {
    config::Section ts(*t, {"ca", "cert", "key"});
    if (auto p = ts.required("ca", "ca: /etc/sennen-edge/central-ca.crt (the CA of the receiver's certificate)"))
      if (auto path = p->file("the path of the CA certificate the receiver's certificate is issued by")) o->ca = *path;
    if (auto p = ts.required("cert", "cert: /etc/sennen-edge/site.crt (this site's client certificate)"))
      if (auto path = p->file("the path of this site's client certificate")) o->cert = *path;
    if (auto p = ts.required("key", "key: /etc/sennen-edge/site.key (the client certificate's private key)"))
      if (auto path = p->file("the path of the client certificate's private key")) o->key = *path;
  }
  o->transfer = read_transfer(s);
  return o;
}

std::vector<std::string_view> keys() {
  std::vector<std::string_view> k{"url", "tls"};
  k.insert(k.end(), kTransferKeys.begin(), kTransferKeys.end());
  return k;
}

}  // namespace

const adapters::DestinationKind& https_kind() {
  static const adapters::DestinationKind kind{
      {"https", "the central receiver over mutual TLS", keys(), read},
      [](const config::Config& config) {
        const auto& k = config.destination.options_as<HttpsKeys>();
        return make_https_destination({k.url, config.site.id, k.ca, k.cert, k.key, k.transfer.connect_timeout,
                                       k.transfer.low_speed_bytes, k.transfer.low_speed_time,
                                       config.schedule.bandwidth_bytes_per_second});
      },
      [](const config::Config& config, const config::NamedFile& f) {
        const std::string& key = f.at.key;
        if (key == "destination.tls.ca") check_ca_file(f.path);
        if (key == "destination.tls.cert") check_client_certificate(f.path);
        if (key == "destination.tls.key") check_client_key(f.path, config.destination.options_as<HttpsKeys>().cert);
      },
      [](const config::Config& config, adapters::Findings& out) {
        const auto& k = config.destination.options_as<HttpsKeys>();
        expiry_findings({{"TLS client certificate expiry", k.cert}, {"TLS CA expiry", k.ca}}, out);
      }};
  return kind;
}

}  // namespace sennen::destinations
