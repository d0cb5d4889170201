#pragma once
// Shared by the batcher tests: one throwaway PKI per test run (RSA key generation is slow), random
// data, and the central side's unsealing commands, run with the stock openssl/zstd/tar tools.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace sennen::batcher::testing {

// DIR/{ca,central,site}.{crt,key} from tests/support/make_pki.sh, plus:
//   central2.{crt,key}  a second recipient with an EC key (key agreement instead of key transport)
//   site_expired.crt    site.key's certificate, validity ended yesterday
//   central_expired.crt central.key's certificate, validity ended yesterday
const std::filesystem::path& pki();

std::string random_bytes(std::size_t n, std::uint64_t seed);
inline std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string shell_quote(const std::string& s);
// Runs `command` with bash -o pipefail, so a failure anywhere in a pipeline counts.
int run_pipeline(const std::string& command);

// The documented central-side pipeline up to (not including) tar: decrypt | verify | zstd -d.
std::string unseal_command(const std::filesystem::path& batch, const std::string& recipient);

}  // namespace sennen::batcher::testing
