// Certificate expiry for the heartbeat, from certificates the openssl CLI makes; unreadable ones
// are reported, never thrown.
#include <doctest/doctest.h>

#include "daemon/telemetry/certificate.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;

namespace {
// A self-signed certificate valid for `days` days from now; returns its notAfter as unix seconds.
std::int64_t make_cert(const std::filesystem::path& dir, const std::string& name, int days) {
  const std::string crt = (dir / (name + ".crt")).string();
  REQUIRE(test::run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=" + name +
                    " -days " + std::to_string(days) + " -keyout " + (dir / (name + ".key")).string() + " -out " + crt +
                    " 2>/dev/null") == 0);
  return std::stoll(
      test::run_output("date -u +%s -d \"$(openssl x509 -noout -enddate -in " + crt + " | cut -d= -f2)\""));
}
}  // namespace

TEST_CASE("certificate: days left are whole days, rounded down, and go negative once expired") {
  test::TempDir t;
  const std::int64_t not_after = make_cert(t.path(), "site", 10);
  auto at = [&](std::int64_t now) { return telemetry::read_certificate("signer", t / "site.crt", now); };
  auto c = at(not_after - 10 * 86400);
  CHECK(c.error.empty());
  CHECK(c.role == "signer");
  CHECK(c.not_after == not_after);
  CHECK(c.expires_in_days == 10);
  CHECK(at(not_after - 10 * 86400 + 1).expires_in_days == 9);
  CHECK(at(not_after - 1).expires_in_days == 0);
  CHECK(at(not_after).expires_in_days == 0);
  CHECK(at(not_after + 1).expires_in_days == -1);
  CHECK(at(not_after + 86400).expires_in_days == -1);
  CHECK(at(not_after + 86401).expires_in_days == -2);
}

TEST_CASE("certificate: a missing or unreadable file is an error text, not an exception") {
  test::TempDir t;
  auto missing = telemetry::read_certificate("client", t / "nope.crt", 0);
  CHECK(missing.error.find("cannot open " + (t / "nope.crt").string()) == 0);
  CHECK(missing.not_after == 0);
  test::write_file(t / "junk.crt", "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
  auto junk = telemetry::read_certificate("client", t / "junk.crt", 0);
  CHECK(junk.error.find("holds no readable PEM certificate") != std::string::npos);
  make_cert(t.path(), "k", 1);
  // A private key is not a certificate.
  auto key = telemetry::read_certificate("client", t / "k.key", 0);
  CHECK(!key.error.empty());
}
