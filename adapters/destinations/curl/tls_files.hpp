#pragma once
// The files of a destination's TLS settings (destination.tls), checked the way libcurl will load
// them (PEM, through OpenSSL), for sennen-edged --check: a wrong file is named before the first
// upload fails on it. Each function throws sennen::Error naming the file and what to do.
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "adapters/kind.hpp"

namespace sennen::destinations {

// tls.ca: a CA bundle with at least one PEM certificate.
void check_ca_file(const std::filesystem::path& ca);
// tls.cert: this site's client certificate, PEM.
void check_client_certificate(const std::filesystem::path& cert);
// tls.key: a PEM private key without a passphrase; when `cert` holds a certificate, the key must
// be the one it was issued for.
void check_client_key(const std::filesystem::path& key, const std::filesystem::path& cert);
// Days until the (first) certificate in `file` expires, negative once it has; throws when the
// file holds no readable PEM certificate.
int days_until_expiry(const std::filesystem::path& file);
// sennen-edgectl doctor's findings on how long each (name, file) certificate stays valid: fail once
// expired or unreadable, warn within 30 days.
void expiry_findings(const std::vector<std::pair<std::string, std::filesystem::path>>& certs, adapters::Findings& out);

}  // namespace sennen::destinations
