// Every SealingKeys::load failure must name the file to fix and say what to do.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <chrono>

#include "daemon/batcher/batch_writer.hpp"
#include "daemon/util/error.hpp"
#include "tests/daemon/batcher/fixtures.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace sennen::batcher;
using namespace sennen::batcher::testing;
using sennen::test::run;
using sennen::test::TempDir;

namespace {

std::string load_error(const fs::path& cert, const fs::path& key, const std::vector<fs::path>& recipients) {
  try {
    SealingKeys::load(cert, key, recipients);
  } catch (const sennen::Error& e) {
    return e.what();
  }
  return "(no error)";
}

fs::path copy_with_mode(const fs::path& from, const fs::path& to, unsigned mode) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  REQUIRE(::chmod(to.c_str(), mode) == 0);
  return to;
}

}  // namespace

TEST_CASE("valid PEM keys load, and so does DER") {
  const fs::path& d = pki();
  CHECK_NOTHROW(SealingKeys::load(d / "site.crt", d / "site.key", {d / "central.crt", d / "central2.crt"}));

  TempDir t;
  REQUIRE(run("openssl x509 -in " + shell_quote((d / "site.crt").string()) + " -outform DER -out " +
              shell_quote((t / "site.der").string())) == 0);
  REQUIRE(run("openssl pkey -in " + shell_quote((d / "site.key").string()) + " -outform DER -out " +
              shell_quote((t / "site.key.der").string())) == 0);
  REQUIRE(run("openssl x509 -in " + shell_quote((d / "central.crt").string()) + " -outform DER -out " +
              shell_quote((t / "central.der").string())) == 0);
  REQUIRE(::chmod((t / "site.key.der").c_str(), 0600) == 0);
  CHECK_NOTHROW(SealingKeys::load(t / "site.der", t / "site.key.der", {t / "central.der"}));
}

TEST_CASE("load errors name the file and say what to do") {
  const fs::path& d = pki();
  TempDir t;
  const fs::path cert = d / "site.crt", key = d / "site.key", central = d / "central.crt";

  SUBCASE("missing file") {
    std::string e = load_error(cert, key, {t / "nope.crt"});
    CHECK(e.find((t / "nope.crt").string()) != std::string::npos);
    CHECK(e.find("No such file") != std::string::npos);
  }
  SUBCASE("key readable by others") {
    fs::path k = copy_with_mode(key, t / "site.key", 0644);
    std::string e = load_error(cert, k, {central});
    CHECK(e.find("signer key " + k.string() + " is accessible by other users (mode 0644); run: chmod 600 " +
                 k.string()) != std::string::npos);
  }
  SUBCASE("key readable by the group") {
    fs::path k = copy_with_mode(key, t / "site.key", 0640);
    std::string e = load_error(cert, k, {central});
    CHECK(e.find("members of its group (mode 0640)") != std::string::npos);
    CHECK(e.find("chmod 600 " + k.string()) != std::string::npos);
  }
  SUBCASE("key does not match the certificate") {
    std::string e = load_error(cert, d / "central.key", {central});
    CHECK(e.find((d / "central.key").string()) != std::string::npos);
    CHECK(e.find("does not match signer certificate " + cert.string()) != std::string::npos);
  }
  SUBCASE("expired signer certificate") {
    std::string e = load_error(d / "site_expired.crt", key, {central});
    CHECK(e.find("signer certificate " + (d / "site_expired.crt").string() + " expired on") != std::string::npos);
    CHECK(e.find("renewed") != std::string::npos);
  }
  SUBCASE("expired recipient certificate") {
    std::string e = load_error(cert, key, {central, d / "central_expired.crt"});
    CHECK(e.find("recipient certificate " + (d / "central_expired.crt").string() + " expired on") != std::string::npos);
  }
  SUBCASE("not yet valid (clock behind)") {
    auto last_year = std::chrono::system_clock::now() - std::chrono::hours(24 * 365);
    try {
      SealingKeys::load(cert, key, {central}, last_year);
      FAIL("no error");
    } catch (const sennen::Error& e) {
      CHECK(std::string(e.what()).find(cert.string() + " is not valid until") != std::string::npos);
      CHECK(std::string(e.what()).find("system clock") != std::string::npos);
    }
  }
  SUBCASE("not a certificate") {
    sennen::test::write_file(t / "junk.crt", "hello\n");
    std::string e = load_error(t / "junk.crt", key, {central});
    CHECK(e.find("signer certificate " + (t / "junk.crt").string() + " is not a PEM or DER X.509 certificate") !=
          std::string::npos);
  }
  SUBCASE("a certificate where the key should be") {
    fs::path k = copy_with_mode(cert, t / "k.pem", 0600);
    std::string e = load_error(cert, k, {central});
    CHECK(e.find("signer key " + k.string() + " is not a PEM or DER private key") != std::string::npos);
  }
  SUBCASE("passphrase-protected key") {
    fs::path k = t / "enc.key";
    REQUIRE(run("openssl pkey -in " + shell_quote(key.string()) + " -aes256 -passout pass:secret -out " +
                shell_quote(k.string())) == 0);
    REQUIRE(::chmod(k.c_str(), 0600) == 0);
    std::string e = load_error(cert, k, {central});
    CHECK(e.find("signer key " + k.string() + " is protected by a passphrase") != std::string::npos);
  }
  SUBCASE("no recipients") { CHECK(load_error(cert, key, {}).find("no recipient certificate") != std::string::npos); }
}

TEST_CASE("check: every file's first problem, each file on its own") {
  const fs::path& d = pki();
  TempDir t;
  const fs::path cert = d / "site.crt", key = d / "site.key", central = d / "central.crt";
  const auto now = std::chrono::system_clock::now();
  CHECK(SealingKeys::check(cert, key, {central, d / "central2.crt"}, now).empty());

  // A missing signer certificate does not hide a bad key mode or a bad recipient.
  sennen::test::write_file(t / "junk.crt", "hello\n");
  const fs::path open_key = copy_with_mode(key, t / "site.key", 0644);
  auto problems = SealingKeys::check(t / "nope.crt", open_key, {central, t / "junk.crt"}, now);
  REQUIRE(problems.size() == 3);
  CHECK(problems[0].file == t / "nope.crt");
  CHECK(problems[0].message.find("No such file") != std::string::npos);
  CHECK(problems[1].file == open_key);
  CHECK(problems[1].message.find("chmod 600") != std::string::npos);
  CHECK(problems[2].file == t / "junk.crt");
  CHECK(problems[2].message.find("is not a PEM or DER X.509 certificate") != std::string::npos);

  // The pair is checked once both files are usable; the mismatch is the key's problem.
  problems = SealingKeys::check(cert, d / "central.key", {d / "central_expired.crt"}, now);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].file == d / "central.key");
  CHECK(problems[0].message.find("does not match signer certificate") != std::string::npos);
  CHECK(problems[1].file == d / "central_expired.crt");
  CHECK(problems[1].message.find("expired on") != std::string::npos);
}
