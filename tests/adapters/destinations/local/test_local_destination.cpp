#include <doctest/doctest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include "adapters/destinations/local/local_destination.hpp"
#include "daemon/util/sha256.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {
destinations::LocalKeys keys(fs::path path, bool mount_point = false) {
  destinations::LocalKeys k;
  k.path = std::move(path);
  k.mount_point = mount_point;
  return k;
}

BatchFile batch_in(const test::TempDir& t, const std::string& content) {
  test::write_file(t / "outbox.cms", content);
  return {"B1", "20261204", t / "outbox.cms", content.size(), util::sha256_hex(content), "{\"marker\":1}"};
}
}  // namespace

TEST_CASE("local destination: a batch is present only once its marker and its full file are there") {
  test::TempDir t;
  auto d = destinations::make_local_destination(keys(t / "export"), "1312345678");
  const BatchFile b = batch_in(t, "sealed bytes");
  CHECK(d->presence(b).state == Presence::State::absent);
  REQUIRE(d->deliver(b).ok());
  CHECK(d->presence(b).state == Presence::State::complete);
  fs::resize_file(t / "export/1312345678/20261204/B1.cms", 3);  // a marker without its whole batch
  CHECK(d->presence(b).state == Presence::State::absent);
}

TEST_CASE("local destination: a batch found complete keeps no temp file of a delivery cut off after it") {
  // Found by the power-cut campaign: delivered, the spool's record of it lost in a power cut, sent
  // again and cut off while writing the marker's temp file; the next run found it complete (a
  // patient in it had been stopped meanwhile) and never delivered it again to clear the temp file.
  test::TempDir t;
  auto d = destinations::make_local_destination(keys(t / "export"), "1312345678");
  const BatchFile b = batch_in(t, "sealed bytes");
  REQUIRE(d->deliver(b).ok());
  const fs::path day = t / "export/1312345678/20261204";
  test::write_file(day / "B1.json.tmp-31465", "{\"mar");
  test::write_file(day / "B1.cms.tmp-31465", "sealed");
  CHECK(d->presence(b).state == Presence::State::complete);
  CHECK_FALSE(fs::exists(day / "B1.json.tmp-31465"));
  CHECK_FALSE(fs::exists(day / "B1.cms.tmp-31465"));
  CHECK(test::read_file(day / "B1.cms") == "sealed bytes");
}

TEST_CASE("local destination: a heartbeat killed half way leaves no temp file after the next one") {
  test::TempDir t;
  auto d = destinations::make_local_destination(keys(t / "export"), "1312345678");
  fs::create_directories(t / "export/1312345678");
  test::write_file(t / "export/1312345678/heartbeat.json.tmp-4242", "{\"half");
  REQUIRE(d->put_heartbeat("{}").ok());
  CHECK_FALSE(fs::exists(t / "export/1312345678/heartbeat.json.tmp-4242"));
  CHECK(test::read_file(t / "export/1312345678/heartbeat.json") == "{}");
}

TEST_CASE("local destination: an abandoned batch leaves nothing half-done behind, a complete one is never touched") {
  test::TempDir t;
  auto d = destinations::make_local_destination(keys(t / "export"), "1312345678");
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

namespace {
// A tmpfs mounted at `dir` for the test's length (needs CAP_SYS_ADMIN: root, as CI runs).
struct TmpfsMount {
  std::filesystem::path dir;
  bool mounted;
  explicit TmpfsMount(std::filesystem::path d) : dir(std::move(d)) {
    fs::create_directories(dir);
    mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m,mode=0755") == 0;
  }
  ~TmpfsMount() {
    if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
};
}  // namespace

TEST_CASE("local destination: with mount_point, nothing is written below a mount point with nothing mounted") {
  test::TempDir t;
  fs::create_directories(t / "media");  // the empty mount point, on this machine's own disk
  auto d = destinations::make_local_destination(keys(t / "media", true), "1312345678");
  const BatchFile b = batch_in(t, "sealed bytes");
  const auto r = d->deliver(b);
  CHECK_FALSE(r.ok());
  CHECK(r.status == DeliveryResult::Status::retry);  // waits in the outbox; the destination is not failing
  CHECK(r.reason.find("nothing is mounted at destination folder " + (t / "media").string()) != std::string::npos);
  CHECK_FALSE(d->put_heartbeat("{}").ok());
  CHECK(d->presence(b).state == Presence::State::unknown);  // so a waiting batch is not voided meanwhile
  CHECK_FALSE(d->check_access().ok());
  d->abandon(b);
  CHECK(fs::is_empty(t / "media"));
  // Without mount_point the same folder is simply written (a folder on this machine's disk).
  auto plain = destinations::make_local_destination(keys(t / "media"), "1312345678");
  CHECK(plain->deliver(b).ok());
}

TEST_CASE("local destination: with mount_point, a mounted file system is written as usual") {
  test::TempDir t;
  TmpfsMount media(t / "media");
  if (!media.mounted) {
    MESSAGE("skipped: mounting a tmpfs needs CAP_SYS_ADMIN (" << std::strerror(errno) << ")");
    return;
  }
  auto d = destinations::make_local_destination(keys(t / "media", true), "1312345678");
  const BatchFile b = batch_in(t, "sealed bytes");
  CHECK(d->check_access().ok());
  REQUIRE(d->deliver(b).ok());
  CHECK(d->presence(b).state == Presence::State::complete);
  CHECK(test::read_file(t / "media/1312345678/20261204/B1.cms") == "sealed bytes");
  REQUIRE(d->put_heartbeat("{}").ok());
}
