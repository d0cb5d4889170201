// Loads and checks the sealing certificates and key once, at start-up, so a misconfiguration is
// reported with the file to fix instead of surfacing later as an opaque OpenSSL failure mid-batch.
#include <fcntl.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "daemon/batcher/sealing_keys_impl.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"

namespace sennen::batcher {
namespace fs = std::filesystem;
using namespace detail;

namespace {

constexpr std::size_t kMaxPemFile = 1 << 20;

// Follows symlinks on purpose: certificates commonly live behind links (e.g. renewed in place).
std::string read_pem_or_der(const fs::path& path, std::string_view what) {
  util::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    int err = errno;
    throw Error(std::string(what) + " " + path.string() + " cannot be opened: " + util::errno_text(err) +
                (err == ENOENT   ? " (check the path in the configuration)"
                 : err == EACCES ? " (grant the sennen-edge user read access)"
                                 : ""));
  }
  std::string data;
  std::byte buf[16384];
  while (std::size_t n = util::read_some(fd, buf, path)) {
    data.append(reinterpret_cast<const char*>(buf), n);
    if (data.size() > kMaxPemFile)
      throw Error(std::string(what) + " " + path.string() + " is larger than 1 MiB; is it the right file?");
  }
  if (data.empty()) throw Error(std::string(what) + " " + path.string() + " is empty");
  return data;
}

BioPtr mem_bio(const std::string& data) {
  BioPtr b(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!b) throw Error("out of memory creating an OpenSSL buffer");
  return b;
}

X509Ptr parse_cert(const std::string& data, const fs::path& path, std::string_view what) {
  ERR_clear_error();
  X509Ptr cert(PEM_read_bio_X509(mem_bio(data).get(), nullptr, nullptr, nullptr));
  if (!cert) {
    auto* p = reinterpret_cast<const unsigned char*>(data.data());
    cert.reset(d2i_X509(nullptr, &p, static_cast<long>(data.size())));
  }
  if (!cert) {
    std::string why = openssl::errors();
    throw Error(std::string(what) + " " + path.string() +
                " is not a PEM or DER X.509 certificate; check that the path names the .crt file" +
                (why.empty() ? "" : " (OpenSSL: " + why + ")"));
  }
  ERR_clear_error();
  return cert;
}

// No passphrase prompt: the daemon runs unattended, so an encrypted key must fail clearly.
int no_passphrase(char*, int, int, void*) { return -1; }

PkeyPtr parse_key(const std::string& data, const fs::path& path) {
  if (data.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
      data.find("Proc-Type: 4,ENCRYPTED") != std::string::npos)
    throw Error("signer key " + path.string() +
                " is protected by a passphrase, which an unattended service cannot enter; store it "
                "unencrypted with mode 600 (openssl pkey -in " +
                path.string() + " -out NEW.key)");
  ERR_clear_error();
  PkeyPtr key(PEM_read_bio_PrivateKey(mem_bio(data).get(), nullptr, no_passphrase, nullptr));
  if (!key) {
    auto* p = reinterpret_cast<const unsigned char*>(data.data());
    key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(data.size())));
  }
  if (!key) {
    std::string why = openssl::errors();
    throw Error("signer key " + path.string() +
                " is not a PEM or DER private key; check that the path names the .key file" +
                (why.empty() ? "" : " (OpenSSL: " + why + ")"));
  }
  ERR_clear_error();
  return key;
}

void check_key_permissions(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error("signer key " + path.string() + " cannot be inspected: " + util::errno_text(errno));
  const unsigned mode = st.st_mode & 07777;
  if ((mode & 077) == 0) return;
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", mode);
  const char* who = (mode & 007) ? "other users" : "members of its group";
  throw Error("signer key " + path.string() + " is accessible by " + who + " (mode " + octal + "); run: chmod 600 " +
              path.string());
}

std::string asn1_time_text(const ASN1_TIME* t) {
  BioPtr b(BIO_new(BIO_s_mem()));
  if (!b || ASN1_TIME_print(b.get(), t) != 1) return "?";
  char* p = nullptr;
  long n = BIO_get_mem_data(b.get(), &p);
  return std::string(p, static_cast<std::size_t>(n));
}

void check_validity(X509* cert, const fs::path& path, std::string_view what, TimePoint now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  if (X509_cmp_time(X509_get0_notBefore(cert), &t) > 0)
    throw Error(std::string(what) + " " + path.string() + " is not valid until " +
                asn1_time_text(X509_get0_notBefore(cert)) +
                "; check the system clock (timedatectl) or install a certificate that is valid now");
  if (X509_cmp_time(X509_get0_notAfter(cert), &t) < 0)
    throw Error(std::string(what) + " " + path.string() + " expired on " + asn1_time_text(X509_get0_notAfter(cert)) +
                "; install a renewed certificate");
}

// Dry runs of what every batch does, so an unusable key type is reported now, naming the file.
void check_can_sign(X509* cert, EVP_PKEY* key, const fs::path& path) {
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, CMS_PARTIAL | CMS_BINARY));
  if (!cms || !CMS_add1_signer(cms.get(), cert, key, EVP_sha256(), CMS_NOSMIMECAP)) {
    std::string why = openssl::errors();
    throw Error("signer certificate " + path.string() + " cannot make CMS signatures with SHA-256 (OpenSSL: " + why +
                "); use an RSA or EC (P-256/P-384) certificate");
  }
}

void check_can_encrypt_to(X509* cert, const fs::path& path) {
  CmsPtr cms(CMS_AuthEnvelopedData_create(EVP_aes_256_gcm()));
  if (!cms || !CMS_add1_recipient_cert(cms.get(), cert, 0)) {
    std::string why = openssl::errors();
    throw Error("recipient certificate " + path.string() + " cannot receive CMS encrypted data (OpenSSL: " + why +
                "); use an RSA or EC certificate");
  }
}

X509Ptr load_cert(const fs::path& path, std::string_view what, TimePoint now) {
  X509Ptr cert = parse_cert(read_pem_or_der(path, what), path, what);
  check_validity(cert.get(), path, what, now);
  return cert;
}

PkeyPtr load_signer_key(const fs::path& path) {
  // Permissions first: a leaked key matters more than whether it parses.
  std::string key_bytes = read_pem_or_der(path, "signer key");
  check_key_permissions(path);
  return parse_key(key_bytes, path);
}

void check_key_matches(X509* cert, EVP_PKEY* key, const fs::path& cert_path, const fs::path& key_path) {
  if (X509_check_private_key(cert, key) == 1) return;
  ERR_clear_error();
  throw Error("signer key " + key_path.string() + " does not match signer certificate " + cert_path.string() +
              "; configure the key the certificate was issued for");
}

X509Ptr load_recipient(const fs::path& path, TimePoint now) {
  X509Ptr cert = load_cert(path, "recipient certificate", now);
  check_can_encrypt_to(cert.get(), path);
  return cert;
}

}  // namespace

SealingKeys SealingKeys::load(const fs::path& signer_cert, const fs::path& signer_key,
                              const std::vector<fs::path>& recipients) {
  return load(signer_cert, signer_key, recipients, std::chrono::system_clock::now());
}

SealingKeys SealingKeys::load(const fs::path& signer_cert, const fs::path& signer_key,
                              const std::vector<fs::path>& recipients, TimePoint now) {
  auto impl = std::make_unique<Impl>();
  impl->signer_cert_path = signer_cert;
  impl->signer_key_path = signer_key;
  impl->signer_cert = load_cert(signer_cert, "signer certificate", now);
  impl->signer_key = load_signer_key(signer_key);
  check_key_matches(impl->signer_cert.get(), impl->signer_key.get(), signer_cert, signer_key);
  check_can_sign(impl->signer_cert.get(), impl->signer_key.get(), signer_cert);

  if (recipients.empty())
    throw Error(
        "no recipient certificate is configured; add the central site's certificate so sealed "
        "batches can be decrypted there");
  impl->recipients.reset(sk_X509_new_null());
  if (!impl->recipients) throw Error("out of memory loading recipient certificates");
  for (const auto& path : recipients) {
    X509Ptr cert = load_recipient(path, now);
    if (sk_X509_push(impl->recipients.get(), cert.get()) <= 0) throw Error("out of memory loading " + path.string());
    (void)cert.release();  // now owned by the stack
    impl->recipient_paths.push_back(path);
  }
  return SealingKeys(std::move(impl));
}

std::vector<SealingKeys::FileProblem> SealingKeys::check(const fs::path& signer_cert, const fs::path& signer_key,
                                                         const std::vector<fs::path>& recipients, TimePoint now) {
  std::vector<FileProblem> problems;
  auto attempt = [&](const fs::path& file, const auto& step) {
    try {
      step();
      return true;
    } catch (const Error& e) {
      problems.push_back({file, e.what()});
      return false;
    }
  };
  X509Ptr cert;
  PkeyPtr key;
  const bool cert_ok = attempt(signer_cert, [&] { cert = load_cert(signer_cert, "signer certificate", now); });
  const bool key_ok = attempt(signer_key, [&] { key = load_signer_key(signer_key); });
  if (cert_ok && key_ok &&
      attempt(signer_key, [&] { check_key_matches(cert.get(), key.get(), signer_cert, signer_key); }))
    attempt(signer_cert, [&] { check_can_sign(cert.get(), key.get(), signer_cert); });
  for (const auto& path : recipients) attempt(path, [&] { load_recipient(path, now); });
  return problems;
}

namespace {
TimePoint not_after(const X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) {
    ERR_clear_error();
    return TimePoint::min();  // unreadable: report it as already expired rather than never
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}
}  // namespace

std::vector<SealingKeys::Expiry> SealingKeys::expiries() const {
  std::vector<Expiry> out{{impl_->signer_cert_path, not_after(impl_->signer_cert.get())}};
  for (int i = 0; i < sk_X509_num(impl_->recipients.get()); ++i)
    out.push_back(
        {impl_->recipient_paths[static_cast<std::size_t>(i)], not_after(sk_X509_value(impl_->recipients.get(), i))});
  return out;
}

SealingKeys::SealingKeys(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SealingKeys::~SealingKeys() = default;
SealingKeys::SealingKeys(SealingKeys&&) noexcept = default;
SealingKeys& SealingKeys::operator=(SealingKeys&&) noexcept = default;

}  // namespace sennen::batcher
