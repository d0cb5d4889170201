#include "daemon/batcher/cms_stream.hpp"

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <algorithm>
#include <climits>

#include "daemon/util/error.hpp"

namespace sennen::batcher::detail {

namespace {
// BIO_new_NDEF takes the structure as the generic ASN1_VALUE it is encoded from.
ASN1_VALUE* as_asn1(CMS_ContentInfo* cms) { return reinterpret_cast<ASN1_VALUE*>(cms); }
}  // namespace

CmsSealStream::CmsSealStream(const SealingKeys::Impl& keys, const util::Fd& fd, std::filesystem::path path)
    : fd_(fd), path_(std::move(path)), chunk_(kChunk) {
  ERR_clear_error();
  constexpr unsigned kStream = CMS_BINARY | CMS_STREAM;

  // Outer layer. CMS_encrypt picks AuthEnvelopedData for an AEAD cipher; with CMS_STREAM it only
  // sets up (random key, one RecipientInfo per certificate) and encrypts as content is written.
  enveloped_.reset(CMS_encrypt(keys.recipients.get(), nullptr, EVP_aes_256_gcm(), kStream));
  if (!enveloped_) fail("cannot set up AES-256-GCM encryption to the recipient certificates");
  // Say what is inside, so a reader knows to expect SignedData rather than raw bytes.
  if (!CMS_set1_eContentType(enveloped_.get(), OBJ_nid2obj(NID_pkcs7_signed)))
    fail("cannot set the encrypted content type");

  // Inner layer: content attached (no CMS_DETACHED), signer certificate included, SHA-256.
  signed_.reset(CMS_sign(nullptr, nullptr, nullptr, nullptr, kStream | CMS_PARTIAL));
  if (!signed_ ||
      !CMS_add1_signer(signed_.get(), keys.signer_cert.get(), keys.signer_key.get(), EVP_sha256(), CMS_NOSMIMECAP))
    fail("cannot set up the SHA-256 signature with " + keys.signer_cert_path.string());

  // Build bottom-up. chain_ always owns the current top, so a failure half-way frees what exists.
  sink_ = BIO_new(BIO_s_mem());
  if (!sink_) fail("out of memory");
  chain_.reset(sink_);
  BIO* enveloping = BIO_new_NDEF(chain_.get(), as_asn1(enveloped_.get()), ASN1_ITEM_rptr(CMS_ContentInfo));
  if (!enveloping) fail("cannot start the encrypting stream");
  (void)chain_.release();  // now below `enveloping`
  chain_.reset(enveloping);
  BIO* signing = BIO_new_NDEF(chain_.get(), as_asn1(signed_.get()), ASN1_ITEM_rptr(CMS_ContentInfo));
  if (!signing) fail("cannot start the signing stream");
  (void)chain_.release();
  chain_.reset(signing);
}

void CmsSealStream::fail(const std::string& what) {
  std::string why = openssl::errors();
  throw Error("sealing " + path_.string() + ": " + what + (why.empty() ? "" : " (OpenSSL: " + why + ")"));
}

void CmsSealStream::write(std::span<const std::byte> data) {
  while (!data.empty()) {
    std::size_t n = std::min(data.size(), chunk_.size() - chunk_len_);
    std::copy_n(data.begin(), n, chunk_.begin() + static_cast<std::ptrdiff_t>(chunk_len_));
    chunk_len_ += n;
    data = data.subspan(n);
    if (chunk_len_ == chunk_.size()) push_chunk();
  }
}

// Full chunks keep the per-chunk OCTET STRING overhead predictable; only the last may be short.
void CmsSealStream::push_chunk() {
  if (chunk_len_ == 0) return;
  static_assert(kChunk <= INT_MAX);
  int n = static_cast<int>(chunk_len_);
  if (BIO_write(chain_.get(), chunk_.data(), n) != n) fail("signing/encrypting failed");
  chunk_len_ = 0;
  drain();
}

void CmsSealStream::drain() {
  char* p = nullptr;
  long n = BIO_get_mem_data(sink_, &p);
  if (n <= 0) return;
  std::span<const std::byte> out(reinterpret_cast<const std::byte*>(p), static_cast<std::size_t>(n));
  util::write_all(fd_, out, path_);
  hash_.update(out);
  bytes_out_ += out.size();
  (void)BIO_reset(sink_);
}

void CmsSealStream::finish() {
  push_chunk();
  // One flush finishes every layer top-down: the signing asn1 BIO writes the signature block and
  // then flushes the cipher BIO below it, which finalises GCM before the enveloping asn1 BIO
  // writes the authentication tag.
  if (BIO_flush(chain_.get()) != 1) fail("finishing the signature and encryption failed");
  drain();
  chain_.reset();
  sink_ = nullptr;
}

}  // namespace sennen::batcher::detail
