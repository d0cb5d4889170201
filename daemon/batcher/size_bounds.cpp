// Upper bounds of a sealed batch's size, so the planner can promise batch.max_bytes before
// writing. The planner relies on: file size <= worst_case_fixed_bytes + sum(worst_case_entry_bytes).
// Each term is derived from a documented worst case with a generous margin; the unit test checks
// the sum against real batches of incompressible data and of many tiny files.
#include <openssl/x509.h>

#include "daemon/batcher/batch_writer.hpp"
#include "daemon/batcher/sealing_keys_impl.hpp"

namespace sennen::batcher {

namespace {

constexpr std::uint64_t round_up_512(std::uint64_t n) { return (n + 511) / 512 * 512; }

// pax tar: a 512-byte ustar header and the data padded to 512. libarchive adds a pax extended
// header (its own 512-byte header plus records padded to 512) only when ustar cannot hold an
// attribute: a long or non-ASCII name, a size of 8 GiB or more (mtime is kept in ustar range by
// the BatchWriter constructor). The records are "NN path=...\n" and a few short numbers, so
// len+128 bytes hold them all. Short ASCII names are the one case certain to need none.
constexpr std::uint64_t kUstarMaxSize = 077777777777ULL;  // 11 octal digits
bool certainly_plain_ustar(std::string_view path, std::uint64_t size) {
  if (path.size() >= 100 || size > kUstarMaxSize) return false;
  for (char c : path)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;
  return true;
}
std::uint64_t tar_entry_bytes(std::string_view path, std::uint64_t size) {
  std::uint64_t pax = certainly_plain_ustar(path, size) ? 0 : 512 + round_up_512(path.size() + 128);
  return 512 + pax + round_up_512(size);
}

// What n bytes of tar can become in the file:
//  - zstd: ZSTD_compressBound allows n/256 (real incompressible data costs 3 bytes per 128 KiB
//    block, stored raw);
//  - CMS: each 64 KiB content chunk gets a 5-byte OCTET STRING header in SignedData, and the
//    cipher BIO re-chunks the SignedData bytes into 4 KiB OCTET STRINGs (4 bytes each) in
//    AuthEnvelopedData: measured n/915 for both layers together, bounded here by n/512.
// n/256 + n/512 < n/128; the constant covers rounding and block boundaries falling inside an entry.
constexpr std::uint64_t sealed_bytes(std::uint64_t n) { return n + n / 128 + 64; }

std::uint64_t der_size(X509* cert) {
  int n = i2d_X509(cert, nullptr);
  return n > 0 ? static_cast<std::uint64_t>(n) : 16384;
}

std::uint64_t key_size(const EVP_PKEY* key) {  // max signature / encrypted key / public point size
  int n = key ? EVP_PKEY_get_size(key) : 0;
  return n > 0 ? static_cast<std::uint64_t>(n) : 1024;
}

}  // namespace

std::uint64_t BatchWriter::worst_case_entry_bytes(std::string_view archive_path, std::uint64_t size) {
  return sealed_bytes(tar_entry_bytes(archive_path, size));
}

std::uint64_t BatchWriter::worst_case_fixed_bytes(const SealingKeys& keys) {
  const SealingKeys::Impl& k = keys.impl();
  // Tar end-of-archive (two zero records) and the zstd frame: header <= 18, last block header 3,
  // checksum 4, and ZSTD_compressBound's small-input allowance <= 64.
  std::uint64_t payload = sealed_bytes(1024) + 128;

  // SignedData around the content: fixed headers and attributes (~200 bytes), the signer
  // certificate, the signer's issuer and serial (each smaller than the certificate), the
  // signature. These bytes also pass through the encryption layer, hence sealed_bytes().
  std::uint64_t signed_data = 1024 + 2 * der_size(k.signer_cert.get()) + key_size(k.signer_key.get());

  // AuthEnvelopedData: fixed headers, GCM parameters and tag (~100 bytes); per recipient the
  // issuer and serial (< certificate), algorithm identifiers and the wrapped key (RSA: modulus
  // size; EC: ephemeral public key + 40-byte wrapped key).
  std::uint64_t enveloped = 1024;
  for (int i = 0; i < sk_X509_num(k.recipients.get()); ++i) {
    X509* r = sk_X509_value(k.recipients.get(), i);
    enveloped += der_size(r) + 2 * key_size(X509_get0_pubkey(r)) + 512;
  }
  return payload + sealed_bytes(signed_data) + enveloped;
}

}  // namespace sennen::batcher
