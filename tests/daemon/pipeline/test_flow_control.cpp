// When sealing and intake pause, and what they say: the reason must name the cap, the figures
// and what keeps batches from leaving, so an operator knows what to fix.
#include <doctest/doctest.h>

#include "daemon/core/source.hpp"
#include "daemon/pipeline/flow_control.hpp"

using namespace sennen::pipeline;

namespace {
constexpr std::uint64_t GiB = 1ull << 30;
constexpr std::int64_t kStarted = 1795000000;  // 2026-11-18T...Z

Backlog refused() {
  Backlog b;
  b.started_at = kStarted;
  b.last_delivery = 1795600000;  // 2026-11-25T...
  b.destination_error = "HTTP 403 Forbidden: the receiver refused the client certificate";
  b.oldest_sealed_at = 1795600100;
  return b;
}
}  // namespace

TEST_CASE("flow: below both caps nothing pauses") {
  auto d = decide_flow({GiB, 10 * GiB}, {GiB / 2, GiB}, refused());
  CHECK(d.sealing_paused.empty());
  CHECK(d.intake_paused.empty());
}

TEST_CASE("flow: a full outbox pauses sealing only; the spool keeps taking records") {
  auto d = decide_flow({GiB, 10 * GiB}, {GiB, GiB}, refused());
  CHECK(d.intake_paused.empty());
  CHECK(d.sealing_paused.find("outbox holds 1 GiB of its 1 GiB cap (outbox.max_bytes)") != std::string::npos);
  CHECK(d.sealing_paused.find("has not accepted batches since 2026-11-25T") != std::string::npos);
  CHECK(d.sealing_paused.find("HTTP 403 Forbidden") != std::string::npos);
  CHECK(d.sealing_paused.find("sealing paused") != std::string::npos);
}

TEST_CASE("flow: a full spool pauses intake and says why, in figures") {
  const std::uint64_t held = 10 * GiB + GiB / 5;  // 10.2 GiB
  auto d = decide_flow({held, 10 * GiB}, {GiB, GiB}, refused());
  CHECK(!d.sealing_paused.empty());
  CHECK(d.intake_paused.rfind("spool holds 10.2 GiB of its 10 GiB cap (spool.max_bytes): ", 0) == 0);
  CHECK(d.intake_paused.find("the central side has not accepted batches since 2026-11-25T") != std::string::npos);
  CHECK(d.intake_paused.find("intake paused") != std::string::npos);
  CHECK(d.intake_paused.find("nothing is lost") != std::string::npos);
  // A spool exactly at its cap is full: the cap is what it may hold, not one byte more.
  CHECK(!decide_flow({5, 5}, {0, 1}, {}).intake_paused.empty());
  CHECK(decide_flow({4, 5}, {0, 1}, {}).intake_paused.empty());
}

TEST_CASE("flow: the reason names what keeps batches from leaving") {
  const Fill full{2, 1}, room{0, 1};
  SUBCASE("never delivered since start") {
    Backlog b = refused();
    b.last_delivery = 0;
    CHECK(decide_flow(full, room, b).intake_paused.find("since this service started at 2026-11-18T") !=
          std::string::npos);
  }
  SUBCASE("the upload window is closed") {
    Backlog b;
    b.next_window_open = 1795654800;  // 2026-11-26T...
    const auto why = decide_flow(room, full, b).sealing_paused;
    CHECK(why.find("wait for the upload window, which opens at 2026-11-26T") != std::string::npos);
    CHECK(why.find("schedule.upload_window") != std::string::npos);
  }
  SUBCASE("sealing is paused by the stop list") {
    Backlog b;
    b.sealing_blocked = "stop list has 1 line(s) that cannot be read";
    CHECK(decide_flow(full, room, b).intake_paused.find("sealing is paused: stop list has 1 line") !=
          std::string::npos);
  }
  SUBCASE("batches simply wait") {
    Backlog b;
    b.oldest_sealed_at = 1795600100;
    CHECK(decide_flow(room, full, b).sealing_paused.find("the oldest since 2026-11-25T") != std::string::npos);
  }
}

TEST_CASE("flow: sizes read like an operator writes them") {
  CHECK(size_text(0) == "0 bytes");
  CHECK(size_text(17) == "17 bytes");
  CHECK(size_text(1024) == "1 KiB");
  CHECK(size_text(512 * 1024) == "512 KiB");
  CHECK(size_text(3 * (1ull << 20) / 2) == "1.5 MiB");
  CHECK(size_text(4 * GiB) == "4 GiB");
  CHECK(size_text(10 * GiB + GiB / 5) == "10.2 GiB");
  CHECK(size_text(3ull << 40) == "3 TiB");
}

TEST_CASE("flow: sources see the spool-full state through a read-only view that follows it") {
  CHECK_FALSE(sennen::SpoolFull()());  // a context built without one (tests, tools) is never full
  std::atomic<bool> full{false};
  const sennen::SpoolFull view(full);
  const sennen::SpoolFull kept = view;  // a receiver thread may keep a copy
  CHECK_FALSE(kept());
  full = true;
  CHECK(view());
  CHECK(kept());
}

TEST_CASE("free space state_dir needs: one batch and one spool transaction, or a DICOM source's min_free") {
  sennen::config::Config cfg;
  cfg.batch.max_bytes = 64ull << 20;
  auto need = state_dir_free_space_needed(cfg);
  CHECK(need.bytes == (128ull << 20));
  CHECK(need.why == "one batch (batch.max_bytes, 64 MiB) and one spool transaction (64 MiB)");
  struct RefusesBelowOneGiB final : sennen::config::SourceOptions {
    std::uint64_t min_free_bytes() const override { return GiB; }
  };
  sennen::config::Source scp;
  scp.name = "ct";
  scp.type = "dicom-scp";
  scp.options = std::make_shared<RefusesBelowOneGiB>();
  cfg.sources.push_back(scp);
  need = state_dir_free_space_needed(cfg);
  CHECK(need.bytes == GiB);
  CHECK(need.why.find("min_free of source ct (1 GiB)") != std::string::npos);
  cfg.batch.max_bytes = 2 * GiB;  // a larger batch needs more than the source's floor
  CHECK(state_dir_free_space_needed(cfg).bytes == 2 * GiB + (64ull << 20));
}
