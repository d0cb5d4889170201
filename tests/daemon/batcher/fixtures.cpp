#include "tests/daemon/batcher/fixtures.hpp"

#include <cstring>
#include <random>
#include <stdexcept>

#include "tests/support/temp_dir.hpp"

namespace sennen::batcher::testing {
namespace fs = std::filesystem;
using sennen::test::run;

namespace {
void must(const std::string& cmd) {
  if (run(cmd) != 0) throw std::runtime_error("PKI setup failed: " + cmd);
}

fs::path make_pki() {
  static sennen::test::TempDir dir;  // lives until the end of the run
  fs::path d = dir.path() / "pki";
  must((sennen::test::source_dir() / "tests/support/make_pki.sh").string() + " " + shell_quote(d.string()));
  std::string cd = "cd " + shell_quote(d.string()) + " && ";
  must(cd +
       "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout central2.key -out central2.csr "
       "-subj /CN=sennen-test-central2 2>/dev/null && printf 'keyUsage=critical,keyAgreement\\n' > c2.ext && "
       "openssl x509 -req -in central2.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -extfile c2.ext "
       "-out central2.crt 2>/dev/null && chmod 600 central2.key");
  // OpenSSL 3.0 accepts -days -1: notBefore = now, notAfter = now - 1 day, i.e. already expired.
  for (const char* name : {"site", "central"})
    must(cd + "openssl req -new -key " + name + ".key -subj /CN=expired-" + name + " -out e.csr 2>/dev/null && " +
         "openssl x509 -req -in e.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days -1 -out " + name +
         "_expired.crt 2>/dev/null");
  return d;
}
}  // namespace

const fs::path& pki() {
  static const fs::path dir = make_pki();
  return dir;
}

std::string random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = gen();
    std::memcpy(s.data() + i, &v, std::min<std::size_t>(8, n - i));
  }
  return s;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int run_pipeline(const std::string& command) { return run("bash -o pipefail -c " + shell_quote(command)); }

std::string unseal_command(const fs::path& batch, const std::string& recipient) {
  const fs::path& d = pki();
  return "openssl cms -decrypt -binary -inform DER -in " + shell_quote(batch.string()) + " -inkey " +
         shell_quote((d / (recipient + ".key")).string()) + " -recip " +
         shell_quote((d / (recipient + ".crt")).string()) + " | openssl cms -verify -binary -inform DER -CAfile " +
         shell_quote((d / "ca.crt").string()) + " -purpose any 2>/dev/null | zstd -d -q";
}

}  // namespace sennen::batcher::testing
