#include "daemon/telemetry/certificate.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <ctime>
#include <memory>

#include "daemon/util/openssl.hpp"

namespace sennen::telemetry {
namespace {

// The newest OpenSSL error as text (and the queue emptied, so it does not leak into later calls).
std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (!code) return "no certificate found";
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

std::int64_t floor_days(std::int64_t seconds) {
  constexpr std::int64_t kDay = 86400;
  return seconds >= 0 ? seconds / kDay : -((-seconds + kDay - 1) / kDay);
}

}  // namespace

CertificateStatus read_certificate(std::string role, const std::filesystem::path& path, std::int64_t now) {
  CertificateStatus s{std::move(role), path, 0, 0, {}};
  openssl::BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    s.error = "cannot open " + path.string() + ": " + openssl_error();
    return s;
  }
  openssl::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    s.error = path.string() + " holds no readable PEM certificate: " + openssl_error();
    return s;
  }
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) {
    s.error = path.string() + ": the certificate's end of validity cannot be read: " + openssl_error();
    return s;
  }
  s.not_after = static_cast<std::int64_t>(timegm(&tm));
  s.expires_in_days = floor_days(s.not_after - now);
  return s;
}

}  // namespace sennen::telemetry
