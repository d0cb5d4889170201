#pragma once
// Private to the batcher: the two CMS layers of a sealed batch, streamed.
//
//   write() -> [SignedData NDEF: digest BIO -> asn1 BIO] -> [AuthEnvelopedData NDEF: AES-256-GCM
//   cipher BIO -> asn1 BIO] -> memory BIO, drained to the file after every write.
//
// Both layers are BER with indefinite lengths, so nothing needs to know the content size in
// advance and memory stays constant: the memory BIO never holds more than one chunk's output.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "daemon/batcher/ossl_handles.hpp"
#include "daemon/batcher/sealing_keys_impl.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/sha256.hpp"

namespace sennen::batcher::detail {

class CmsSealStream {
 public:
  // Content is handed to the signing layer in chunks of this size; every chunk costs one
  // OCTET STRING header (5 bytes), so bigger chunks mean less overhead (see size_bounds.cpp).
  static constexpr std::size_t kChunk = 64 * 1024;

  // `fd` must stay open while this object lives; `path` is only for messages.
  CmsSealStream(const SealingKeys::Impl& keys, const util::Fd& fd, std::filesystem::path path);
  CmsSealStream(const CmsSealStream&) = delete;
  CmsSealStream& operator=(const CmsSealStream&) = delete;

  void write(std::span<const std::byte> data);
  // Writes the trailing structures (signature, GCM tag) and frees the BIO chain.
  void finish();

  std::uint64_t bytes_out() const { return bytes_out_; }
  std::string sha256_hex() { return hash_.hex_digest(); }  // once, after finish()

 private:
  void push_chunk();
  void drain();
  [[noreturn]] void fail(const std::string& what);

  const util::Fd& fd_;
  std::filesystem::path path_;
  // The CMS structures must outlive the BIO chain that refers to them: declared first.
  CmsPtr signed_;
  CmsPtr enveloped_;
  BioPtr chain_;         // top of the whole chain (signing layer)
  BIO* sink_ = nullptr;  // memory BIO at the bottom, owned through chain_
  std::vector<std::byte> chunk_;
  std::size_t chunk_len_ = 0;
  util::Sha256 hash_;
  std::uint64_t bytes_out_ = 0;
};

}  // namespace sennen::batcher::detail
