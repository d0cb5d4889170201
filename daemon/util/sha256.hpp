#pragma once
// Streaming SHA-256 (OpenSSL EVP), hex output.
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace sennen::util {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(std::span<const std::byte> data);
  void update(std::string_view data);
  std::string hex_digest();  // finishes; the object may not be updated afterwards

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string sha256_hex(std::string_view data);
// The whole file, read in large chunks; throws sennen::Error naming the file if it cannot be read.
std::string sha256_file_hex(const std::filesystem::path& file);

}  // namespace sennen::util
