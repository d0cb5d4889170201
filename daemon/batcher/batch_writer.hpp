#pragma once
// Writes one sealed batch file, streaming, in constant memory:
//   pax tar (entries in the order added) -> zstd -> CMS SignedData (site certificate, sha256,
//   content attached) -> CMS AuthEnvelopedData (AES-256-GCM) to every recipient -> DER file.
// The central side reads it with stock tools:
//   openssl cms -decrypt -binary -inform DER -in B -inkey K -recip C
//     | openssl cms -verify -binary -inform DER -CAfile CA | zstd -d | tar x
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/clock.hpp"

namespace sennen::batcher {

// Certificates and key used to seal, loaded and checked once (see load()).
class SealingKeys {
 public:
  // Checks, each failure a sennen::Error that names the file and says what to do:
  //  - every file readable; PEM (or DER) parses;
  //  - signer key file not readable by group or others (chmod 600);
  //  - signer key matches signer certificate;
  //  - no certificate expired or not yet valid (at `now`);
  //  - at least one recipient;
  //  - the signer can sign with SHA-256 and every recipient can receive CMS encrypted data.
  static SealingKeys load(const std::filesystem::path& signer_cert, const std::filesystem::path& signer_key,
                          const std::vector<std::filesystem::path>& recipients);
  // Same, with the validity checks done at `now` instead of the system clock.
  static SealingKeys load(const std::filesystem::path& signer_cert, const std::filesystem::path& signer_key,
                          const std::vector<std::filesystem::path>& recipients, TimePoint now);
  // What load() would refuse, file by file, for sennen-edged --check: the first problem of each
  // file, each file checked on its own (the signer pair only once both of its files are usable),
  // so that one run names every file to fix. Empty when load() would succeed with these files
  // (it also needs at least one recipient, which the configuration requires).
  struct FileProblem {
    std::filesystem::path file;
    std::string message;
  };
  static std::vector<FileProblem> check(const std::filesystem::path& signer_cert,
                                        const std::filesystem::path& signer_key,
                                        const std::vector<std::filesystem::path>& recipients, TimePoint now);

  ~SealingKeys();
  SealingKeys(SealingKeys&&) noexcept;
  SealingKeys& operator=(SealingKeys&&) noexcept;

  struct Impl;
  const Impl& impl() const { return *impl_; }

  // When each loaded certificate stops being valid: the signer first, then the recipients in
  // order. For sennen-edgectl doctor, which warns before an expiry stops sealing.
  struct Expiry {
    std::filesystem::path file;
    TimePoint not_after;
  };
  std::vector<Expiry> expiries() const;

 private:
  explicit SealingKeys(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct SealedFile {
  std::uint64_t size = 0;  // bytes of the .cms file
  std::string sha256;      // hex, of the .cms file
};

class BatchWriter {
 public:
  // Creates `out_path` exclusively (fails if it exists). Nothing is published until finish().
  BatchWriter(const std::filesystem::path& out_path, const SealingKeys& keys, int zstd_level,
              std::int64_t entry_mtime_unix);
  ~BatchWriter();  // without finish(): closes and removes the partial file
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  void add_bytes(std::string_view archive_path, std::span<const std::byte> data);
  // `read` fills the buffer and returns the count, 0 at end; exactly `size` bytes must come,
  // else sennen::Error (the source changed under us) and the batch is abandoned.
  using ReadFn = std::function<std::size_t(std::span<std::byte>)>;
  void add_stream(std::string_view archive_path, std::uint64_t size, const ReadFn& read);

  // Finishes every layer, fsyncs the file and returns its size and hash.
  SealedFile finish();

  // After add_bytes or add_stream threw: true when the output failed (compression, encryption,
  // writing the file), false when the entry itself did (its name, or its reader). Only then may
  // the caller blame the entry.
  bool output_failed() const;

  // Upper bound of the .cms size added by an entry of `size` bytes (tar header and padding, zstd
  // worst case), used to plan batches that stay under batch.max_bytes. Guaranteed:
  //   finish().size <= worst_case_fixed_bytes(keys) + sum of worst_case_entry_bytes(entries).
  static std::uint64_t worst_case_entry_bytes(std::string_view archive_path, std::uint64_t size);
  // Upper bound of the fixed overhead of one batch (CMS structures, certificates, tar end blocks).
  static std::uint64_t worst_case_fixed_bytes(const SealingKeys& keys);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sennen::batcher
