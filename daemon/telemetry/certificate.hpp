#pragma once
// How long a certificate this site depends on stays valid: the client certificate the https
// destination presents and the certificate batches are signed with. The heartbeat carries it so
// the central team renews them before a site goes dark.
#include <cstdint>
#include <filesystem>
#include <string>

namespace sennen::telemetry {

struct CertificateStatus {
  std::string role;  // "client" or "signer"
  std::filesystem::path path;
  std::int64_t not_after = 0;        // unix seconds
  std::int64_t expires_in_days = 0;  // whole days left (rounded down); negative once expired
  std::string error;                 // non-empty when the file cannot be read as a certificate
};

// Reads the first certificate in a PEM file. Never throws: a problem is reported in `error`.
CertificateStatus read_certificate(std::string role, const std::filesystem::path& path, std::int64_t now);

}  // namespace sennen::telemetry
