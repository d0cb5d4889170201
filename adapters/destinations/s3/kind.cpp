// type: s3: the bucket and its endpoint, the access key file, how its certificate is trusted,
// multipart sizes and the transfer limits.
#include <algorithm>

#include "adapters/destinations/curl/options.hpp"
#include "adapters/destinations/curl/tls_files.hpp"
#include "adapters/destinations/s3/s3_destination.hpp"

namespace sennen::destinations {
namespace {

void read_bucket(const config::Section& s, S3Keys& o) {
  if (auto u = s.required("endpoint", "endpoint: https://s3.ap-northeast-1.amazonaws.com (the S3 service)"))
    if (auto url = read_https_url(*u, "the S3 service address", "https://s3.ap-northeast-1.amazonaws.com")) {
      // Objects are addressed as <endpoint>/<bucket>/<key>: a path here would be ambiguous.
      if (url->find('/', 8) != std::string::npos)
        u->problem(config::in_quotes(u->scalar()) +
                   " has a path; write only https://host[:port] and put folders in prefix:");
      else
        o.s3.endpoint = *url;
    }
  if (auto b = s.required("bucket", "bucket: sennen-central (the bucket batches are uploaded to)")) {
    if (auto t = b->text("a bucket name, e.g. sennen-central")) {
      // S3 bucket naming rules: 3-63 lower-case letters, digits, '-' and '.'.
      const bool ok = t->size() >= 3 && t->size() <= 63 && std::all_of(t->begin(), t->end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
                      });
      if (!ok)
        b->problem(config::in_quotes(*t) + " is not a bucket name; use 3 to 63 lower-case letters, digits, '-' or '.'");
      else
        o.s3.bucket = *t;
    }
  }
  if (auto g = s.required("region",
                          "region: ap-northeast-1 (the bucket's region; us-east-1 for most S3-compatible stores)")) {
    if (auto t = g->text("a region name, e.g. ap-northeast-1")) {
      if (t->empty() || t->size() > 64 || !config::all_chars_in(*t, "-_"))
        g->problem(config::in_quotes(*t) + " is not a region name; write e.g. ap-northeast-1");
      else
        o.s3.region = *t;
    }
  }
  if (auto p = s.optional("prefix")) {
    if (auto t = p->text("a folder inside the bucket, e.g. sennen/incoming")) {
      std::string prefix = *t;
      while (!prefix.empty() && prefix.front() == '/') prefix.erase(prefix.begin());
      while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
      if (!config::all_chars_in(prefix, "-._/") || prefix.find("//") != std::string::npos ||
          ("/" + prefix + "/").find("/../") != std::string::npos ||
          ("/" + prefix + "/").find("/./") != std::string::npos)
        p->problem(config::in_quotes(*t) +
                   " is not a usable prefix; use letters, digits, '-', '_', '.' and '/' "
                   "between folder names, e.g. sennen/incoming");
      else
        o.s3.prefix = prefix;
    }
  }
  if (auto a = s.optional("addressing"))
    if (auto word = a->choice({"path", "virtual"}, "path: https://host/bucket/key, virtual: https://bucket.host/key"))
      o.s3.virtual_host = *word == "virtual";
}

void read_sizes(const config::Section& s, S3Keys& o) {
  if (auto m = s.optional("multipart_threshold"))
    if (auto n = m->size()) {
      if (*n < (5ull << 20))
        m->problem(config::in_quotes(m->scalar()) + " is too small; write at least 5MiB (e.g. 64MiB)");
      else
        o.s3.multipart_threshold = *n;
    }
  if (auto m = s.optional("part_size"))
    if (auto n = m->size()) {
      if (*n < (5ull << 20) || *n > (5ull << 30))
        m->problem(config::in_quotes(m->scalar()) + " is not a usable part size; S3 needs 5MiB to 5GiB (e.g. 16MiB)");
      else
        o.s3.part_size = *n;
    }
}

// No client certificate for S3 (requests are signed with the access key); only the server is checked.
void read_tls(const config::Section& s, S3Keys& o) {
  std::optional<config::Node> t = s.optional("tls");
  if (!t) {
    s.required("tls", "tls: {ca: /etc/sennen-edge/s3-ca.crt} or tls: {use_system_ca: true}");
    return;
  }
  config::Section ts(*t, {"ca", "use_system_ca"});
  if (auto u = ts.optional("use_system_ca")) {
    auto b = u->boolean();
    if (!b) return;  // whether ca is needed depends on this; one problem is enough
    o.s3.use_system_ca = *b;
  }
  const std::string what = "the path of the CA certificate of the endpoint";
  if (o.s3.use_system_ca) {
    if (auto p = ts.optional("ca"))
      if (auto path = p->file(what)) o.s3.ca = *path;
    return;
  }
  if (auto p = ts.required("ca",
                           "ca: /etc/sennen-edge/s3-ca.crt (the CA of the endpoint's certificate), or "
                           "use_system_ca: true for a public cloud endpoint"))
    if (auto path = p->file(what)) o.s3.ca = *path;
}

std::shared_ptr<const config::DestinationOptions> read(const config::Section& s) {
  auto o = std::make_shared<S3Keys>();
  read_bucket(s, *o);
  if (auto k = s.required("access_key_file",
                          "access_key_file: /etc/sennen-edge/s3.key (access key id and secret, one per line)"))
    if (auto path = k->file("the path of the file with the access key id and secret")) o->s3.access_key_file = *path;
  read_sizes(s, *o);
  read_tls(s, *o);
  const Transfer t = read_transfer(s);
  o->s3.connect_timeout = t.connect_timeout;
  o->s3.low_speed_bytes = t.low_speed_bytes;
  o->s3.low_speed_time = t.low_speed_time;
  return o;
}

std::vector<std::string_view> keys() {
  std::vector<std::string_view> k{
      "endpoint",  "bucket", "region", "prefix", "addressing", "access_key_file", "multipart_threshold",
      "part_size", "tls"};
  k.insert(k.end(), kTransferKeys.begin(), kTransferKeys.end());
  return k;
}

}  // namespace

const adapters::DestinationKind& s3_kind() {
  static const adapters::DestinationKind kind{
      {"s3", "an S3-compatible bucket", keys(), read},
      [](const config::Config& config) {
        S3Options o = config.destination.options_as<S3Keys>().s3;
        o.site_id = config.site.id;
        o.max_send_bytes_per_second = config.schedule.bandwidth_bytes_per_second;
        return make_s3_destination(std::move(o));
      },
      [](const config::Config&, const config::NamedFile& f) {
        if (f.at.key == "destination.tls.ca") check_ca_file(f.path);
        if (f.at.key == "destination.access_key_file") read_s3_key_file(f.path);
      },
      [](const config::Config& config, adapters::Findings& out) {
        expiry_findings({{"TLS CA expiry", config.destination.options_as<S3Keys>().s3.ca}}, out);
      }};
  return kind;
}

}  // namespace sennen::destinations
