#include "adapters/destinations/curl/tls_files.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/openssl.hpp"

namespace sennen::destinations {
namespace {

namespace fs = std::filesystem;

using Bio = openssl::BioPtr;
using Cert = openssl::X509Ptr;
using Key = openssl::PkeyPtr;

constexpr std::size_t kMaxTlsFile = 4u << 20;  // a CA bundle of every public CA is about 200 KiB

Bio memory(const std::string& data) {
  Bio b(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!b) throw Error("out of memory creating an OpenSSL buffer");
  return b;
}

// The PEM certificates in `data`, in order; an empty list when there is none.
std::vector<Cert> pem_certificates(const std::string& data) {
  Bio bio = memory(data);
  std::vector<Cert> certs;
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(c);
  ERR_clear_error();  // the end of the data reads as an error
  return certs;
}

// No passphrase prompt: the service runs unattended.
int no_passphrase(char*, int, int, void*) { return -1; }

void require_certificate(const fs::path& file, const char* what) {
  if (pem_certificates(util::read_small_file(file, kMaxTlsFile)).empty())
    throw Error(file.string() + " holds no PEM certificate (-----BEGIN CERTIFICATE-----); it must be " + what);
}

}  // namespace

void check_ca_file(const fs::path& ca) {
  require_certificate(ca, "the certificate of the CA that issued the server's certificate");
}

void check_client_certificate(const fs::path& cert) { require_certificate(cert, "this site's client certificate"); }

void check_client_key(const fs::path& key, const fs::path& cert) {
  const std::string data = util::read_small_file(key, kMaxTlsFile);
  if (data.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
      data.find("Proc-Type: 4,ENCRYPTED") != std::string::npos)
    throw Error(key.string() +
                " is protected by a passphrase, which an unattended service cannot enter; store it "
                "unencrypted with mode 600 (openssl pkey -in " +
                key.string() + " -out NEW.key)");
  Key k(PEM_read_bio_PrivateKey(memory(data).get(), nullptr, no_passphrase, nullptr));
  ERR_clear_error();
  if (!k)
    throw Error(key.string() +
                " holds no PEM private key (-----BEGIN PRIVATE KEY-----); it must be the key of the "
                "client certificate");
  std::vector<Cert> certs;
  try {
    certs = pem_certificates(util::read_small_file(cert, kMaxTlsFile));
  } catch (const Error&) {
    return;  // the certificate's own problem is reported with it
  }
  if (certs.empty()) return;  // likewise
  if (X509_check_private_key(certs.front().get(), k.get()) != 1) {
    ERR_clear_error();
    throw Error(key.string() + " does not belong to the client certificate " + cert.string() +
                "; install the key the certificate was issued for");
  }
}

int days_until_expiry(const fs::path& file) {
  const auto certs = pem_certificates(util::read_small_file(file, kMaxTlsFile));
  if (certs.empty()) throw Error(file.string() + " holds no PEM certificate");
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(certs.front().get()));
  return days;
}

void expiry_findings(const std::vector<std::pair<std::string, std::filesystem::path>>& certs, adapters::Findings& out) {
  using Level = adapters::Finding::Level;
  for (const auto& [name, file] : certs) {
    if (file.empty()) continue;
    try {
      const int days = days_until_expiry(file);
      if (days < 0)
        out.push_back(
            {Level::fail, name, file.string() + " expired " + std::to_string(-days) + " day(s) ago; renew it"});
      else if (days < 30)
        out.push_back(
            {Level::warn, name, file.string() + " expires in " + std::to_string(days) + " day(s); renew it now"});
      else
        out.push_back({Level::pass, name, file.string() + " valid for " + std::to_string(days) + " more days"});
    } catch (const Error& e) {
      out.push_back({Level::fail, name, e.what()});
    }
  }
}

}  // namespace sennen::destinations
