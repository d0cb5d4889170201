#pragma once
// Private to the batcher: the OpenSSL handles it uses (daemon/util/openssl.hpp) under short names,
// and the owning libarchive handle. Not part of the public API.
#include <archive.h>

#include <memory>

#include "daemon/util/openssl.hpp"

namespace sennen::batcher::detail {

struct ArchiveWriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};

using openssl::BioPtr;
using openssl::CmsPtr;
using openssl::PkeyPtr;
using openssl::X509Ptr;
using openssl::X509StackPtr;
using ArchivePtr = std::unique_ptr<struct archive, ArchiveWriteFree>;

}  // namespace sennen::batcher::detail
