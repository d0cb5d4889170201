#include <doctest/doctest.h>

#include "adapters/destinations/local/local_destination.hpp"
#include "daemon/util/sha256.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {
BatchFile batch_in(const test::TempDir& t, const std::string& content) {
  test::write_file(t / "outbox.cms", content);
  return {"B1", "20261204", t / "outbox.cms", content.size(), util::sha256_hex(content), "{\"marker\":1}"};
}
}  // namespace

TEST_CASE("local destination: a batch is present only once its marker and its full file are there") {
  test::TempDir t;
  auto d = destinations::make_local_destination(t / "export", "1312345678");
  const BatchFile b = batch_in(t, "sealed bytes");
  CHECK(d->presence(b).state == Presence::State::absent);
  REQUIRE(d->deliver(b).ok());
  CHECK(d->presence(b).state == Presence::State::complete);
  fs::resize_file(t / "export/1312345678/20261204/B1.cms", 3);  // a marker without its whole batch
  CHECK(d->presence(b).state == Presence::State::absent);
}

TEST_CASE("local destination: a heartbeat killed half way leaves no temp file after the next one") {
  test::TempDir t;
  auto d = destinations::make_local_destination(t / "export", "1312345678");
  fs::create_directories(t / "export/1312345678");
  test::write_file(t / "export/1312345678/heartbeat.json.tmp-4242", "{\"half");
  REQUIRE(d->put_heartbeat("{}").ok());
  CHECK_FALSE(fs::exists(t / "export/1312345678/heartbeat.json.tmp-4242"));
  CHECK(test::read_file(t / "export/1312345678/heartbeat.json") == "{}");
}

TEST_CASE("local destination: an abandoned batch leaves nothing half-done behind, a complete one is never touched") {
  test::TempDir t;
  auto d = destinations::make_local_destination(t / "export", "1312345678");
  const BatchFile b = batch_in(t, "sealed bytes");
  const fs::path day = t / "export/1312345678/20261204";
  fs::create_directories(day);
  // Killed while copying, then voided (a patient in it was stopped before the next try).
  test::write_file(day / "B1.cms.tmp-4242", "seal");
  test::write_file(day / "B1.json.tmp-4242", "{");
  d->abandon(b);
  CHECK(fs::is_empty(day));
  // Killed between the batch and its marker: the batch alone is never completed.
  test::write_file(day / "B1.cms", "sealed bytes");
  d->abandon(b);
  CHECK(fs::is_empty(day));
  // Complete: never removed.
  REQUIRE(d->deliver(b).ok());
  d->abandon(b);
  CHECK(d->presence(b).state == Presence::State::complete);
}
