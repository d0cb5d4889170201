#pragma once
// What the dicom-qr source's tests share: a private network namespace for the PACS they start
// (Orthanc and DcmSCP bind every interface), and a source named "pacs" over a spool of its own,
// polled in one transaction as the pipeline does.
#include <doctest/doctest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>

#include "adapters/sources/dicom_qr/qr_source.hpp"
#include "daemon/spool/spool.hpp"
#include "tests/adapters/sources/ssmix2/recording_sink.hpp"
#include "tests/support/manual_clock.hpp"

namespace sennen::test {

// Once per test process: later threads (the PACS's, the source's) are born inside it.
inline void enter_private_network() {
  static bool done = [] {
    REQUIRE_MESSAGE(::unshare(CLONE_NEWNET) == 0,
                    "needs root for a private network namespace (the PACS binds "
                    "every interface)");
    REQUIRE(run("ip link set lo up") == 0);
    return true;
  }();
  (void)done;
}

// A PACS on loopback that knows us as SENNEN.
inline dicom::PeerOptions loopback_peer(std::uint16_t port, std::string ae_title, std::chrono::seconds dimse_timeout) {
  dicom::PeerOptions peer;
  peer.host = "127.0.0.1";
  peer.port = port;
  peer.ae_title = std::move(ae_title);
  peer.local_ae_title = "SENNEN";
  peer.acse_timeout = std::chrono::seconds(5);
  peer.dimse_timeout = dimse_timeout;
  return peer;
}

// Options every test starts from: site time UTC+9, patient IDs canonicalised to 8 digits, 1 MiB
// kept free, C-MOVE sub-operations accepted on loopback only.
inline dicom::QrSourceOptions qr_options(dicom::Retrieve retrieve, dicom::PeerOptions peer, std::uint16_t move_port) {
  dicom::QrSourceOptions o;
  o.retrieve = retrieve;
  o.move_port = move_port;
  o.move_address = "127.0.0.1";
  o.utc_offset_minutes = 9 * 60;
  o.name = "pacs";
  o.peer = std::move(peer);
  o.since = "20150101";
  o.lookback_days = 2;
  o.patient_id = {true, 8};
  o.min_free = 1 << 20;
  return o;
}

struct QrFixture {
  TempDir tmp;
  std::filesystem::path state_dir = tmp / "state";
  spool::Spool spool{state_dir};
  ManualClock clock;
  RecordingSink sink;
  std::atomic<bool> stop{false};
  SourceStats stats;
  std::unique_ptr<SourceState> state = spool.source_state("pacs");
  std::unique_ptr<Source> source;

  explicit QrFixture(dicom::QrSourceOptions o) {
    o.state_dir = state_dir;
    source = dicom::make_dicom_qr_source(std::move(o));
  }
  // One poll; sink holds what it handed over.
  void poll() {
    sink.clear();
    SourceContext ctx{clock, *state, sink, stop, stats, false};
    spool::Spool::Transaction tx(spool);
    source->poll(ctx);
    tx.commit();
  }
};

}  // namespace sennen::test
