#pragma once
// Owning handles for the OpenSSL objects the daemon uses (one definition for the batcher, the TLS
// file checks and the certificate telemetry), and the thread's OpenSSL error queue as text.
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace sennen::openssl {

struct BioFreeAll {  // a BIO chain is owned through its top: freeing it frees every layer below
  void operator()(BIO* b) const { BIO_free_all(b); }
};
struct CmsFree {
  void operator()(CMS_ContentInfo* c) const { CMS_ContentInfo_free(c); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};

using BioPtr = std::unique_ptr<BIO, BioFreeAll>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, CmsFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;

// Drains the thread's OpenSSL error queue into "reason; reason" (empty when there is none), so
// an old error never shows up in a later, unrelated message.
std::string errors();

}  // namespace sennen::openssl
