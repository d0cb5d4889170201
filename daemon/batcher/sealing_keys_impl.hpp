#pragma once
// Private to the batcher: what SealingKeys holds once load() has checked it.
#include <filesystem>
#include <vector>

#include "daemon/batcher/batch_writer.hpp"
#include "daemon/batcher/ossl_handles.hpp"

namespace sennen::batcher {

struct SealingKeys::Impl {
  detail::X509Ptr signer_cert;
  detail::PkeyPtr signer_key;
  detail::X509StackPtr recipients;  // never empty
  std::filesystem::path signer_cert_path;
  std::filesystem::path signer_key_path;
  std::vector<std::filesystem::path> recipient_paths;  // parallel to `recipients`
};

}  // namespace sennen::batcher
