#include "adapters/destinations/s3/s3_destination.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cctype>
#include <map>
#include <optional>
#include <vector>

#include "adapters/destinations/curl/classify.hpp"
#include "adapters/destinations/curl/curl_easy.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/sha256.hpp"

namespace sennen::destinations {
namespace {

namespace fs = std::filesystem;
using Status = DeliveryResult::Status;

using curl::retry;
bool ok(const curl::Outcome& o) { return o.code == CURLE_OK && o.status >= 200 && o.status < 300; }

constexpr const char* kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::size_t kListKeep = 8u << 20;  // a ListParts answer for 10000 parts fits

// RFC 3986 percent-encoding, as SigV4's canonical form expects; '/' kept when encoding a key.
std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// The text of the first <tag>...</tag> in `xml` at or after `from`, XML entities for quotes undone.
std::string xml_field(const std::string& xml, std::string_view tag, std::size_t from = 0) {
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  auto a = xml.find(open, from);
  if (a == std::string::npos) return {};
  a += open.size();
  auto b = xml.find(close, a);
  if (b == std::string::npos) return {};
  std::string v = xml.substr(a, b - a);
  for (std::string_view ent : {"&quot;", "&#34;"})
    for (auto p = v.find(ent); p != std::string::npos; p = v.find(ent)) v.replace(p, ent.size(), "\"");
  return v;
}

std::string unquote(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '"'), s.end());
  return s;
}

struct Digests {
  std::string sha256, md5;
};

struct EvpMdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// SHA-256 (for x-amz-content-sha256, which libcurl 7.88 cannot compute for a streamed body) and
// MD5 (what S3 reports as a part's ETag) of a range of the outbox file, read once.
Digests hash_range(const fs::path& file, std::uint64_t offset, std::uint64_t length) {
  util::Fd fd = util::open_for_read(file);
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxDeleter> md5(EVP_MD_CTX_new());
  if (!md5 || EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr) != 1)
    throw Error("OpenSSL cannot compute MD5 (needed to compare S3 part ETags)");
  util::Sha256 sha;
  std::vector<char> buf(1u << 20);
  while (length > 0) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(length, buf.size()));
    ssize_t got = ::pread(fd.get(), buf.data(), want, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error("cannot read outbox file " + file.string() + ": " + util::errno_text(errno));
    if (got == 0)
      throw Error("outbox file " + file.string() +
                  " is shorter than its recorded size; delete it and its records are sealed again");
    const auto n = static_cast<std::size_t>(got);
    sha.update(std::string_view(buf.data(), n));
    EVP_DigestUpdate(md5.get(), buf.data(), n);
    offset += n;
    length -= n;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned len = 0;
  EVP_DigestFinal_ex(md5.get(), out.data(), &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string md5hex;
  for (unsigned i = 0; i < len; ++i) {
    md5hex += hex[out[i] >> 4];
    md5hex += hex[out[i] & 15];
  }
  return {sha.hex_digest(), md5hex};
}

// What the <outbox>/<batch>.s3upload file remembers: the upload is only resumed for the same
// object and the same cut into parts.
struct UploadState {
  std::string key, upload_id;
  std::uint64_t size = 0, part_size = 0;
};

std::optional<UploadState> load_state(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  std::string text;
  try {
    text = util::read_small_file(file, 64 * 1024);
  } catch (const Error&) {
    return std::nullopt;  // unreadable: start a new upload (the old one expires by bucket lifecycle)
  }
  std::vector<std::string> lines;
  std::size_t p = 0;
  while (p < text.size()) {
    auto n = text.find('\n', p);
    if (n == std::string::npos) break;
    lines.push_back(text.substr(p, n - p));
    p = n + 1;
  }
  if (lines.size() != 5 || lines[0] != "sennen-s3upload 1") return std::nullopt;
  try {
    return UploadState{lines[1], lines[4], std::stoull(lines[2]), std::stoull(lines[3])};
  } catch (...) {
    return std::nullopt;
  }
}

// Written to a temporary name, synced and renamed, so a crash leaves the old state or the new.
void save_state(const fs::path& file, const UploadState& s) {
  const std::string text = "sennen-s3upload 1\n" + s.key + "\n" + std::to_string(s.size) + "\n" +
                           std::to_string(s.part_size) + "\n" + s.upload_id + "\n";
  const fs::path tmp = file.string() + ".tmp";
  {
    util::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd)
      throw Error("cannot write " + tmp.string() + ": " + util::errno_text(errno) + "; check the outbox directory");
    util::write_all(fd, std::as_bytes(std::span(text.data(), text.size())), tmp);
    util::fsync_or_throw(fd, tmp);
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) throw Error("cannot rename " + tmp.string() + " to " + file.string() + ": " + ec.message());
  util::fsync_directory(file.parent_path());
}

class S3Destination final : public Destination {
 public:
  S3Destination(S3Options o, const S3Credentials& cred)
      : opt_(std::move(o)), peer_(peer_of(opt_)), client_(client_options(opt_, cred)) {
    key_id_ = cred.access_key_id;
    std::string host = opt_.endpoint.substr(8);
    base_ = opt_.virtual_host ? "https://" + opt_.bucket + "." + host + "/" : opt_.endpoint + "/" + opt_.bucket + "/";
  }

  std::string describe() const override {
    return "s3 " + opt_.endpoint + " bucket " + opt_.bucket + (opt_.prefix.empty() ? "" : " prefix " + opt_.prefix);
  }

  DeliveryResult deliver(const BatchFile& b) override {
    const std::string key = object_key(b.day + "/" + b.batch_id + ".cms");
    try {
      // Hash first: the signature needs the body's sha256, and it proves the outbox file still
      // holds the sealed bytes.
      const Digests d = hash_range(b.file, 0, b.size);
      if (d.sha256 != b.sha256)
        return retry("outbox file " + b.file.string() +
                     " does not match its recorded sha256; nothing was sent; "
                     "delete it and its records are sealed again");
      DeliveryResult r = b.size > opt_.multipart_threshold ? put_multipart(b, key) : put_single(b, key, d.sha256);
      if (!r.ok()) return r;
      if (r = confirm_stored(key, b.size); !r.ok()) return r;
      // The marker last: its presence tells the central side the batch is complete. It is checked
      // like the batch: a marker acknowledged but not stored whole would count the batch as
      // delivered while the central side cannot read it.
      log::stage("marker", b.batch_id);
      const std::string marker_key = object_key(b.day + "/" + b.batch_id + ".json");
      if (r = put_string(marker_key, b.marker_json); !r.ok()) return r;
      return confirm_stored(marker_key, b.marker_json.size());
    } catch (const Error& e) {
      return retry(e.what());
    }
  }

  Presence presence(const BatchFile& b) override {
    try {
      for (const char* ext : {".json", ".cms"}) {
        const std::string key = object_key(b.day + "/" + b.batch_id + ext);
        auto h = signed_request("HEAD", url(key), nullptr, kEmptySha256, {});
        if (h.code == CURLE_OK && h.status == 404) return Presence::absent();
        if (auto r = checked("asking whether " + key + " is there", h); !r.ok()) return Presence::unknown(r.reason);
        // Either object cut short (a marker too: the central side could not read it) is not a
        // complete batch.
        const std::size_t size = std::string_view(ext) == ".cms" ? b.size : b.marker_json.size();
        if (h.content_length != static_cast<curl_off_t>(size)) return Presence::absent();
      }
      return Presence::complete();
    } catch (const Error& e) {
      return Presence::unknown(e.what());
    }
  }

  // A multipart upload interrupted and never to be completed is aborted, so its parts do not stay
  // in the bucket (billed) until a lifecycle rule expires them; its state file goes either way.
  void abandon(const BatchFile& b) override {
    const fs::path state_file = b.file.parent_path() / (b.batch_id + ".s3upload");
    if (auto st = load_state(state_file)) {
      try {
        auto o = signed_request("DELETE", url(st->key, "uploadId=" + uri_encode(st->upload_id, false)), nullptr,
                                kEmptySha256, {});
        if (!ok(o) && o.status != 404)
          log::warning("could not abort the unfinished upload of " + st->key + " (" + checked("aborting", o).reason +
                       "); its parts stay in the bucket until a lifecycle rule removes them");
      } catch (const Error& e) {
        log::warning("could not abort the unfinished upload of " + st->key + ": " + e.what());
      }
    }
    std::error_code ec;
    fs::remove(state_file, ec);
  }

  DeliveryResult check_access() override {
    const std::string key = object_key("heartbeat.json");
    try {
      auto h = signed_request("HEAD", url(key), nullptr, kEmptySha256, {});
      // Signed and accepted either way: 404 only says no heartbeat was stored yet.
      if (h.code == CURLE_OK && h.status == 404) return DeliveryResult::delivered();
      return checked("HEAD " + url(key), h);
    } catch (const Error& e) {
      return DeliveryResult::retry(e.what());
    }
  }

  DeliveryResult put_heartbeat(std::string_view json) override {
    try {
      return put_string(object_key("heartbeat.json"), json);
    } catch (const Error& e) {
      return retry(e.what());
    }
  }

 private:
  // Only a stored object of the right size counts: asked with HEAD after the upload.
  DeliveryResult confirm_stored(const std::string& key, std::uint64_t size) {
    auto h = signed_request("HEAD", url(key), nullptr, kEmptySha256, {});
    if (h.code == CURLE_OK && h.status == 404)
      return retry("checking " + key +
                   ": the bucket acknowledged the upload but does not have it (404); will send "
                   "it again");
    if (auto checking = checked("checking " + key, h); !checking.ok()) return checking;
    if (h.content_length != static_cast<curl_off_t>(size))
      return retry("checking " + key + ": the bucket holds " + std::to_string(h.content_length) + " bytes, not " +
                   std::to_string(size) + "; will send it again");
    return DeliveryResult::delivered();
  }

  static curl::ClientOptions client_options(const S3Options& o, const S3Credentials& cred) {
    curl::ClientOptions c;
    c.ca = o.ca;
    c.use_system_ca = o.use_system_ca;
    c.connect_timeout = o.connect_timeout;
    c.low_speed_bytes = o.low_speed_bytes;
    c.low_speed_time = o.low_speed_time;
    c.max_send_bytes_per_second = o.max_send_bytes_per_second;
    c.aws_sigv4 = "aws:amz:" + o.region + ":s3";
    c.userpwd = cred.access_key_id + ":" + cred.secret;
    c.resolve = o.resolve;
    return c;
  }

  std::string object_key(const std::string& rest) const {
    return (opt_.prefix.empty() ? "" : opt_.prefix + "/") + opt_.site_id + "/" + rest;
  }
  std::string url(const std::string& key, const std::string& query = {}) const {
    return base_ + uri_encode(key, true) + (query.empty() ? "" : "?" + query);
  }

  // libcurl 7.88 signs the query as written: parameters must come sorted, and an empty value as
  // "key=" (callers build queries that way). It cannot hash a streamed body, so the payload hash
  // is always given here.
  curl::Outcome signed_request(const char* method, const std::string& u, curl::Body* body, const std::string& sha256,
                               std::vector<std::string> headers, std::size_t keep = 4096) {
    curl::Request r;
    r.method = method;
    r.url = u;
    r.body = body;
    r.headers = std::move(headers);
    r.headers.push_back("x-amz-content-sha256: " + sha256);
    r.keep_response = keep;
    return client_.send(r);
  }

  DeliveryResult put_string(const std::string& key, std::string_view data) {
    curl::StringBody body(data);
    auto o = signed_request("PUT", url(key), &body, util::sha256_hex(data), {"Content-Type: application/json"});
    return checked("uploading " + key, o);
  }

  DeliveryResult put_single(const BatchFile& b, const std::string& key, const std::string& sha256) {
    curl::FileBody body(b.file, b.size);
    auto o = signed_request("PUT", url(key), &body, sha256, {"Content-Type: application/pkcs7-mime"});
    if (o.code != CURLE_OK)
      if (auto f = body.failure(); !f.empty()) return retry(f);
    return checked("uploading " + key, o);
  }

  DeliveryResult put_multipart(const BatchFile& b, const std::string& key) {
    const fs::path state_file = b.file.parent_path() / (b.batch_id + ".s3upload");
    std::optional<UploadState> st = load_state(state_file);
    if (st && (st->key != key || st->size != b.size || st->part_size != opt_.part_size)) st.reset();
    std::map<int, std::pair<std::string, std::uint64_t>> held;  // part number -> (etag, size) in the bucket
    if (st) {
      auto listed = list_parts(key, st->upload_id, held);
      if (listed.no_such_upload)
        st.reset();  // completed or expired
      else if (listed.failure)
        return *listed.failure;
    }
    if (!st) {
      held.clear();
      auto o =
          signed_request("POST", url(key, "uploads="), nullptr, kEmptySha256, {"Content-Type: application/pkcs7-mime"});
      if (!ok(o)) return checked("starting the multipart upload of " + key, o);
      std::string id = xml_field(o.body_excerpt, "UploadId");
      if (id.empty())
        return retry("starting the multipart upload of " + key + ": the answer has no UploadId; will try again");
      st = UploadState{key, id, b.size, opt_.part_size};
      save_state(state_file, *st);
    }
    const std::string id_query = "uploadId=" + uri_encode(st->upload_id, false);
    const auto parts = static_cast<int>((b.size + opt_.part_size - 1) / opt_.part_size);
    std::vector<std::string> etags;
    for (int n = 1; n <= parts; ++n) {
      const std::uint64_t offset = static_cast<std::uint64_t>(n - 1) * opt_.part_size;
      const std::uint64_t len = std::min<std::uint64_t>(opt_.part_size, b.size - offset);
      const Digests d = hash_range(b.file, offset, len);
      etags.push_back(d.md5);
      if (auto h = held.find(n); h != held.end() && h->second.first == d.md5 && h->second.second == len) continue;
      curl::FileBody body(b.file, len, offset);
      const std::string what = "uploading part " + std::to_string(n) + "/" + std::to_string(parts) + " of " + key;
      auto o = signed_request("PUT", url(key, "partNumber=" + std::to_string(n) + "&" + id_query), &body, d.sha256, {});
      if (o.code != CURLE_OK)
        if (auto f = body.failure(); !f.empty()) return retry(f);
      if (!ok(o)) return checked(what, o);
      if (!o.etag.empty() && unquote(o.etag) != d.md5)
        return retry(what + ": the bucket stored different bytes (ETag " + o.etag + "); will send it again");
    }
    std::string xml = "<CompleteMultipartUpload>";
    for (int n = 1; n <= parts; ++n)
      xml += "<Part><PartNumber>" + std::to_string(n) + "</PartNumber><ETag>\"" +
             etags[static_cast<std::size_t>(n - 1)] + "\"</ETag></Part>";
    xml += "</CompleteMultipartUpload>";
    curl::StringBody body(xml);
    auto o =
        signed_request("POST", url(key, id_query), &body, util::sha256_hex(xml), {"Content-Type: application/xml"});
    if (!ok(o)) return checked("completing the multipart upload of " + key, o);
    // S3 may answer 200 and still report an error in the body.
    if (o.body_excerpt.find("<Error>") != std::string::npos)
      return retry("completing the multipart upload of " + key + ": the bucket reported " +
                   xml_field(o.body_excerpt, "Code") + " " + xml_field(o.body_excerpt, "Message") + "; will try again");
    std::error_code ec;
    fs::remove(state_file, ec);  // the upload id is spent; a leftover only costs a fresh upload
    return DeliveryResult::delivered();
  }

  struct PartsListing {
    bool no_such_upload = false;            // the bucket no longer knows the upload id
    std::optional<DeliveryResult> failure;  // the bucket could not be asked
  };
  // Fills `held` with the parts the bucket has for this upload.
  PartsListing list_parts(const std::string& key, const std::string& id,
                          std::map<int, std::pair<std::string, std::uint64_t>>& held) {
    std::string marker;
    for (;;) {
      // Sorted parameters (libcurl 7.88 signs them as written).
      std::string q =
          (marker.empty() ? "" : "part-number-marker=" + marker + "&") + "uploadId=" + uri_encode(id, false);
      auto o = signed_request("GET", url(key, q), nullptr, kEmptySha256, {}, kListKeep);
      if (o.code == CURLE_OK && o.status == 404 && xml_field(o.body_excerpt, "Code") == "NoSuchUpload")
        return {true, std::nullopt};
      if (!ok(o)) return {false, checked("listing the uploaded parts of " + key, o)};
      const std::string& x = o.body_excerpt;
      for (auto p = x.find("<Part>"); p != std::string::npos; p = x.find("<Part>", p + 6)) {
        try {
          held[std::stoi(xml_field(x, "PartNumber", p))] = {unquote(xml_field(x, "ETag", p)),
                                                            std::stoull(xml_field(x, "Size", p))};
        } catch (...) {
          // A part we cannot read is simply sent again.
        }
      }
      if (xml_field(x, "IsTruncated") != "true") return {};
      std::string next = xml_field(x, "NextPartNumberMarker");
      if (next.empty() || next == marker) return {};  // listed
      marker = next;
    }
  }

  DeliveryResult checked(const std::string& what, const curl::Outcome& o) const {
    return curl::result_of(o, what, peer_, [this](const curl::Outcome& answer) { return interpret(answer); });
  }

  static curl::Peer peer_of(const S3Options& o) {
    return {"the S3 endpoint",
            "destination.endpoint",
            o.ca.empty() ? "the system trust store (tls.use_system_ca)" : "destination.tls.ca (" + o.ca.string() + ")",
            o.virtual_host ? " (with addressing: virtual, <bucket>.<host>)" : "",
            {},
            {},
            o.low_speed_bytes,
            o.low_speed_time};
  }

  // What S3's error code means for this site, and what to change.
  curl::Answer interpret(const curl::Outcome& o) const {
    const long s = o.status;
    const std::string code = xml_field(o.body_excerpt, "Code"), message = xml_field(o.body_excerpt, "Message");
    curl::Answer a{"the S3 service answered " + std::to_string(s), {}, false};
    if (!code.empty()) a.said += " " + code;
    if (!message.empty()) a.said += " \"" + message.substr(0, 160) + "\"";
    const std::string keyfile = opt_.access_key_file.string();
    if (code == "SlowDown" || code == "RequestTimeout") {
      a.transient = true;
    } else if (code == "XAmzContentSHA256Mismatch" || code == "BadDigest" || code == "IncompleteBody") {
      a.transient = true;
      a.advice = ": the bytes arrived damaged; will send them again";
    } else if (code == "SignatureDoesNotMatch") {
      a.advice = ": the secret in " + keyfile + " does not belong to access key id " + key_id_ +
                 " (or the key was rotated); put the current key pair in that file (line 1 id, line 2 secret). "
                 "The batch is kept";
    } else if (code == "InvalidAccessKeyId") {
      a.advice = ": the bucket does not know access key id " + key_id_ + " from " + keyfile +
                 "; ask the central team for this site's current key. The batch is kept";
    } else if (code == "AccessDenied" || (s == 403 && code.empty())) {
      a.advice = ": access key " + key_id_ + " may not write to bucket " + opt_.bucket + " under " + object_key("") +
                 " (it needs s3:PutObject, s3:GetObject, s3:ListMultipartUploadParts and s3:AbortMultipartUpload "
                 "there, and s3:ListBucket on that prefix: without it a missing object is answered 403, not 404, "
                 "and no batch can be judged absent); ask the central team to grant it, or check that the right "
                 "key is in " +
                 keyfile + ". The batch is kept";
    } else if (code == "RequestTimeTooSkewed") {
      a.advice = ": this machine's clock is wrong; fix time synchronisation (NTP/chrony)";
    } else if (code == "NoSuchBucket" || (s == 404 && code.empty())) {
      a.advice = ": bucket " + opt_.bucket + " does not exist at " + opt_.endpoint +
                 "; check destination.bucket, destination.endpoint and destination.addressing";
    } else if (code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" || (s >= 300 && s < 400)) {
      a.advice = ": the bucket lives in another region or endpoint; check destination.region (" + opt_.region +
                 ") and destination.endpoint";
    }
    return a;
  }

  S3Options opt_;
  curl::Peer peer_;
  curl::Client client_;
  std::string key_id_;
  std::string base_;  // "https://host/bucket/" or "https://bucket.host/"
};

}  // namespace

S3Credentials read_s3_key_file(const fs::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    throw Error("cannot read destination.access_key_file " + file.string() + ": " + util::errno_text(errno) +
                "; create it with two lines (access key id, secret), owned by the sennen-edge user, mode 0600");
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    throw Error("destination.access_key_file " + file.string() +
                " is readable by other users; the S3 secret must "
                "stay private: chmod 600 '" +
                file.string() + "'");
  const std::string text = util::read_small_file(file, 4096);
  std::vector<std::string> lines;
  std::size_t p = 0;
  while (p <= text.size() && lines.size() < 3) {
    auto n = text.find('\n', p);
    std::string line = text.substr(p, n == std::string::npos ? std::string::npos : n - p);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (!line.empty()) lines.push_back(line);
    if (n == std::string::npos) break;
    p = n + 1;
  }
  if (lines.size() != 2)
    throw Error("destination.access_key_file " + file.string() +
                " must hold exactly two lines: the access key id, "
                "then the secret access key");
  return {lines[0], lines[1]};
}

std::unique_ptr<Destination> make_s3_destination(S3Options o) {
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  if (o.endpoint.rfind("https://", 0) != 0 || o.endpoint.size() <= 8 || o.endpoint.find('/', 8) != std::string::npos)
    throw Error("destination.endpoint " + o.endpoint +
                " must be https://host[:port] (no path): batches only travel over TLS");
  if (o.bucket.empty() || o.region.empty())
    throw Error("destination.bucket and destination.region are required for type: s3");
  if (o.ca.empty() && !o.use_system_ca)
    throw Error(
        "type: s3 needs destination.tls.ca (the CA of the endpoint), or tls.use_system_ca: true to trust the "
        "system store");
  if (o.part_size < (5ull << 20)) throw Error("destination.part_size must be at least 5MiB (the S3 minimum)");
  if (o.multipart_threshold < o.part_size) o.multipart_threshold = o.part_size;
  const S3Credentials cred = read_s3_key_file(o.access_key_file);
  return std::make_unique<S3Destination>(std::move(o), cred);
}

}  // namespace sennen::destinations
