#include "daemon/pipeline/pipeline.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <map>

#include "daemon/batcher/manifest.hpp"
#include "daemon/batcher/sealer.hpp"
#include "daemon/core/coverage.hpp"
#include "daemon/util/error.hpp"
#include "daemon/dispatch/dispatcher.hpp"
#include "daemon/gate/eligibility.hpp"
#include "daemon/gate/stop_list.hpp"
#include "daemon/pipeline/flow_control.hpp"
#include "daemon/pipeline/ingest_sink.hpp"
#include "daemon/pipeline/poll_guard.hpp"
#include "daemon/pipeline/stop_list_watch.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/telemetry/health.hpp"
#include "daemon/telemetry/heartbeat.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/sha256.hpp"

namespace sennen::pipeline {
namespace fs = std::filesystem;

std::string Progress::line() const {
  auto mb = [](std::uint64_t b) { return std::to_string(b / 1000000) + " MB"; };
  return phase + ": scanned " + std::to_string(files_scanned) + " files, ingested " + std::to_string(records_ingested) +
         " (" + mb(bytes_ingested) + "), sealed " + std::to_string(batches_sealed) + " batches (" + mb(bytes_sealed) +
         "), delivered " + std::to_string(batches_delivered) + " (" + mb(bytes_delivered) + ")" +
         (paused.empty() ? "" : "; " + paused);
}

namespace {
std::int64_t unix_seconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// "01:00-05:00", as written in schedule.upload_window.
std::string window_text(const config::TimeWindow& w) {
  auto hhmm = [](int minute) {
    std::string h = std::to_string(minute / 60), m = std::to_string(minute % 60);
    return (h.size() < 2 ? "0" + h : h) + ":" + (m.size() < 2 ? "0" + m : m);
  };
  return hhmm(w.start_minute) + "-" + hhmm(w.end_minute);
}

std::optional<gate::NotificationRule> rule_from(const config::OptOut& o) {
  if (!o.notification) return std::nullopt;
  return gate::NotificationRule{o.notification->notice_start.days_since_epoch(), o.notification->wait_days};
}

}  // namespace

struct Pipeline::Impl {
  config::Config cfg;
  const Clock& clock;
  ProgressFn on_progress;
  spool::Spool spool;
  gate::Gate gate;
  // Read by sources through SourceContext::spool_full, maybe from their own threads: declared
  // before `sources` so it outlives them.
  std::atomic<bool> spool_full{false};
  std::vector<std::unique_ptr<Source>> sources;
  std::unique_ptr<Destination> destination;
  ContentFilters filters;
  std::map<std::string, telemetry::SourceStatus> source_status;
  StopListWatch stop_watch;
  gate::StopList stop_list;    // the file as last read: its hash goes into manifests, its problems into the heartbeat
  std::string paused_reason;   // why nothing is sealed or delivered (the stop list is not usable), "" when it may be
  std::string stop_attention;  // IDs that left the file and stay withheld until confirmed, "" when none
  FlowDecision flow;           // pauses for the spool and outbox caps, as last decided
  std::uint64_t spool_bytes = 0;  // record content in the spool when `flow` was decided
  std::string destination_error;
  std::int64_t destination_last_success = 0;
  std::string sealing_error;                          // the last sealing failure, "" once a cycle seals fine
  std::uint64_t sealing_failures = 0;                 // consecutive cycles whose sealing failed
  dispatch::Dispatcher dispatcher;                    // upload window and retry backoff (in memory only)
  std::optional<dispatch::Clearance> last_clearance;  // to log a wait once, not every cycle
  std::int64_t started_at;
  std::string config_sha256;
  Progress progress;
  TimePoint last_progress_report{};

  Impl(config::Config c, const Clock& clk, Adapters adapters, ProgressFn fn)
      : cfg(std::move(c)),
        clock(clk),
        on_progress(std::move(fn)),
        spool(cfg.state_dir),
        gate(rule_from(cfg.optout), cfg.site.utc_offset_minutes),
        sources(std::move(adapters.sources)),
        destination(std::move(adapters.destination)),
        filters(std::move(adapters.filters)),
        stop_watch(cfg.optout.stop_list),
        dispatcher(dispatch::Window(cfg.schedule.upload_window, cfg.schedule.utc_offset_minutes)),
        started_at(unix_seconds(clk.now())) {
    // Until the file is read, the stop list is what was applied last: every ID ever applied and
    // not released by an operator.
    gate.set_stopped(spool.stopped_keys());
    for (std::size_t i = 0; i < cfg.sources.size(); ++i)
      source_status[cfg.sources[i].name] = {cfg.sources[i].name, cfg.sources[i].type, 0, 0, {}, {}};
    try {
      config_sha256 = util::sha256_hex(util::read_small_file(cfg.file, 1 << 20));
    } catch (const Error&) {
      config_sha256.clear();  // a config given as text (tests) has no file
    }
    // The last delivery survives restarts (and each `--once`): "not accepted since" stays true.
    if (auto last = spool.last_delivered_batch()) destination_last_success = last->delivered_at;
    note_start();
  }

  ~Impl() {
    try {
      spool.set_counter("run_open", 0);  // this run ends cleanly (see note_start)
    } catch (const std::exception& e) {
      log::warning(std::string("cannot record a clean stop in the spool: ") + e.what());
    }
  }

  // A run is open from here until ~Impl. Found open at a start, the last run ended without
  // cleaning up (a crash, a kill, the watchdog): counted, and several within an hour is a crash
  // loop the heartbeat reports (telemetry/health.hpp).
  void note_start() {
    const std::int64_t t = now();
    if (spool.counter("run_open") == 1) {
      if (t - spool.counter("abnormal_window_start") > telemetry::kCrashLoopWindowSeconds) {
        spool.set_counter("abnormal_window_start", t);
        spool.set_counter("abnormal_in_window", 0);
      }
      spool.add_counter("abnormal_in_window", 1);
      spool.add_counter("abnormal_starts_total", 1);
      spool.set_counter("last_abnormal_start_at", t);
      log::warning("the last run on " + cfg.state_dir.string() +
                   " did not end cleanly (a crash, a kill or the "
                   "watchdog); nothing is lost: interrupted work is taken up again");
    }
    spool.set_counter("run_open", 1);
  }

  std::int64_t now() const { return unix_seconds(clock.now()); }

  void report(bool force = false) {
    if (!on_progress) return;
    auto t = std::chrono::steady_clock::now();
    auto tp = TimePoint(std::chrono::duration_cast<TimePoint::duration>(t.time_since_epoch()));
    if (!force && tp - last_progress_report < std::chrono::milliseconds(500)) return;
    last_progress_report = tp;
    on_progress(progress);
  }

  const config::Source* source_config(const std::string& name) const {
    for (const auto& c : cfg.sources)
      if (c.name == name) return &c;
    return nullptr;
  }

  Source* source_named(const std::string& name) {
    for (auto& s : sources)
      if (s->name() == name) return s.get();
    return nullptr;
  }

  // Looks at the stop-list file again (`force`: reads it even if a stat says it is unchanged) and
  // applies it. A new ID takes effect at once, in one spool transaction with its withdrawal, the
  // withholding of the patient's pending records and the recheck mark on batches of files of many patients;
  // sealed batches holding the patient are then voided (unless already at the destination). An ID
  // that left the file stays stopped until an operator releases it. Returns false when the list
  // cannot be used: it cannot be read, could not be applied, or has lines that cannot be read
  // (nothing may be sealed or delivered then); the reason goes into `result` once per cycle.
  bool refresh_stop_list(CycleResult& result, bool force) {
    if (!force && !stop_watch.changed()) return paused_reason.empty();
    const std::string before = paused_reason;
    auto unusable = [&](const std::string& why) {
      paused_reason = why + " (the " + std::to_string(gate.stopped().size()) + " IDs applied before stay withheld)";
      if (force || before != paused_reason) result.errors.push_back(paused_reason);
      if (before != paused_reason) log::error(paused_reason);
      return false;
    };
    log::stage("stop-list", force ? "read" : "changed");
    gate::StopList list;
    try {
      list = stop_watch.read();
    } catch (const Error& e) {
      return unusable(std::string(e.what()) + "; nothing is sealed or delivered until it can be read");
    }
    // Applied even when some lines cannot be read: the IDs that can be read only stop more.
    spool::Spool::StopListUpdate u;
    try {
      u = spool.apply_stop_list(list.ids, now());
    } catch (const Error& e) {
      // The list applied before lacks the new IDs: nothing may leave on it. The file counts as
      // unread, so every later look (before each batch, each cycle) tries it again.
      stop_watch.forget();
      return unusable("the stop list " + stop_watch.file().string() + " was read but could not be applied (" +
                      e.what() + "); nothing is sealed or delivered until it is, and it is tried again at every look");
    }
    stop_list = std::move(list);
    gate.set_stopped(u.stopped);
    // Decided before any batch is settled below, so that a failure there cannot leave the pause unset.
    stop_attention = retained_attention(u.retained, stop_list.ids.size(), stop_watch.file());
    if (force && !stop_attention.empty()) result.errors.push_back(stop_attention);
    paused_reason = stop_list_pause(stop_list, stop_watch.file(), cfg.optout.allow_unreadable_lines);
    if (!paused_reason.empty() && (force || before != paused_reason)) result.errors.push_back(paused_reason);
    if (!paused_reason.empty() && before != paused_reason) log::error(paused_reason);
    if (paused_reason.empty() && !before.empty()) log::notice("the stop list can be used again; sealing resumes");
    if (!u.went_missing.empty())
      log::warning(std::to_string(u.went_missing.size()) + " patient ID(s) left the stop list " +
                   stop_watch.file().string() +
                   "; they stay withheld until an operator confirms (sennen-edgectl "
                   "optout pending)");
    if (!u.came_back.empty())
      log::notice(std::to_string(u.came_back.size()) +
                  " patient ID(s) are back in the stop list (they were withheld "
                  "all along)");
    if (!u.added.empty()) {
      log::notice(std::to_string(u.added.size()) + " patient(s) newly on the stop list: " + std::to_string(u.purged) +
                  " pending record(s) withheld; withdrawals queued for the central side" +
                  (u.rechecks ? "; " + std::to_string(u.rechecks) +
                                    " batch(es) with files of many patients (claims, surveys) to filter again"
                              : ""));
      const std::set<std::string> newly(u.added.begin(), u.added.end());
      for (const auto& b : spool.batches_in_state(spool::BatchState::sealed))
        if (const std::string why = stop_list_hold(b, newly); !why.empty())
          settle(b, why,
                 b.recheck ? "a patient added to the stop list before delivery may be in its files of many patients"
                           : "a patient in it was added to the stop list before delivery");
    }
    return paused_reason.empty();
  }

  fs::path outbox_file(const std::string& batch_id) const { return cfg.state_dir / "outbox" / (batch_id + ".cms"); }

  BatchFile batch_file(const spool::BatchInfo& b) const {
    batcher::ManifestHeader h{cfg.site.id, b.batch_id, b.created_at, b.stop_list_sha256, b.seq, {}};
    return {b.batch_id,
            gate::yyyymmdd(gate.today(TimePoint(std::chrono::seconds(b.created_at)))),
            outbox_file(b.batch_id),
            b.file_size,
            b.file_sha256,
            batcher::build_marker(h, static_cast<std::size_t>(b.record_count),
                                  static_cast<std::size_t>(b.withdrawal_count), b.file_size, b.file_sha256)};
  }

  void delivered(const spool::BatchInfo& b) {
    log::stage("record-delivery", b.batch_id);
    spool.mark_delivered(b.batch_id, now());
    std::error_code ec;
    fs::remove(outbox_file(b.batch_id), ec);
    destination_error.clear();
    destination_last_success = now();
  }

  // What became of a sealed batch that may not be sent as it is.
  enum class Settled { voided, already_delivered, undecided };

  // Why the outbox file of sealed batch `b` cannot be sent, or "" when it is there at its sealed
  // size (its sha256 is checked as it is sent).
  std::string outbox_problem(const spool::BatchInfo& b) const {
    std::error_code ec;
    const auto size = fs::file_size(outbox_file(b.batch_id), ec);
    if (ec == std::errc::no_such_file_or_directory) return "is missing from the outbox";
    if (ec) return "";  // cannot be looked at now: the delivery says why
    if (size != b.file_size)
      return "in the outbox is " + std::to_string(size) + " bytes, not the " + std::to_string(b.file_size) +
             " it was sealed with";
    return "";
  }

  // A sealed batch that may not be sent as it is (`why`, said of it in the log) is settled by asking
  // the destination. Complete: it counts as delivered, since a crash fell between its delivery and
  // the spool's record of it (voiding it would send its records twice). Absent: it is abandoned
  // there, its outbox file removed, and it is voided for `void_reason`, its records going back to
  // pending to be filtered and sealed again. Unknown: it stays, unsent, and is asked about again
  // before the next delivery.
  Settled settle(const spool::BatchInfo& b, const std::string& why, const std::string& void_reason) {
    const Presence p = destination->presence(batch_file(b));
    if (p.state == Presence::State::complete) {
      delivered(b);
      log::notice("batch " + b.batch_id + " " + why + ", but " + destination->describe() +
                  " already has it complete (delivered before a restart); it counts as delivered");
      return Settled::already_delivered;
    }
    if (p.state == Presence::State::unknown) {
      log::warning("batch " + b.batch_id + " " + why + "; it is not sent until " + destination->describe() +
                   " can say whether it already has it (" + p.reason + ")");
      return Settled::undecided;
    }
    destination->abandon(batch_file(b));
    std::error_code ec;
    fs::remove(outbox_file(b.batch_id), ec);
    spool.void_batch(b.batch_id, void_reason);
    log::notice("batch " + b.batch_id + " was voided before delivery (" + void_reason +
                "); its records are filtered and sealed again");
    return Settled::voided;
  }

  // Why sealed batch `b` may not leave as it is because of the stop list, or "": it holds a record
  // of a patient in `stopped`, or it is marked for a recheck (files of many patients filtered before
  // a patient was added: BatchInfo::recheck). Such a batch is settled, never sent as it is; a
  // stopped patient's withdrawal goes in a later batch.
  template <typename Set>
  std::string stop_list_hold(const spool::BatchInfo& b, const Set& stopped) {
    if (b.recheck)
      return "holds files of many patients (claims, surveys) filtered before a patient was added to the stop list";
    for (const auto& key : spool.batch_patients(b.batch_id))
      if (stopped.contains(key)) return "holds a patient now on the stop list";
    return "";
  }

  // Why sealed batch `b` may not leave as it is because of the notification rule, or "": a
  // patient of one of its records is not notified now. Each was when the batch was sealed, but
  // the rule may have been made stricter since (a restart with another notice_start or
  // wait_days), or the visit that made them eligible cancelled. Voided, the records are sealed
  // again, which holds them. Records of many patients (claims, surveys) were filtered under the
  // rule of their sealing and are not looked into here.
  std::string notification_hold(const spool::BatchInfo& b) {
    if (!gate.notification()) return "";
    for (const auto& key : spool.batch_patients(b.batch_id))
      if (content_filter_of(key).empty() &&
          gate.decide(key, first_visit(key), clock.now()) == gate::Decision::not_notified)
        return "holds a patient not notified under the current notification rule";
    return "";
  }

  void poll(Source& s, CycleResult& result, const std::atomic<bool>& stop) {
    auto& status = source_status[s.name()];
    status.last_poll = now();
    progress.phase = "polling " + s.name();
    auto state = spool.source_state(s.name());
    const Progress base = progress;
    // Unchanged folders are skipped by polls; every full_scan_interval one poll re-stats every
    // file, which catches a file rewritten in place without a rename. The time of the last full
    // scan is kept in the spool, so restarts (and --once) do not force one. A last full scan dated
    // after now (the clock was stepped back) makes one due, or the next would wait for the clock
    // to catch up.
    const auto* scfg = source_config(s.name());
    const std::string full_key = "full_scan_at:" + s.name();
    const std::int64_t last_full = spool.counter(full_key);
    const auto every = scfg && scfg->options ? scfg->options->full_scan_every() : std::nullopt;
    const bool full = every && (now() - last_full >= every->count() || now() < last_full);
    SourceStats stats;
    GateCounts withheld;
    bool halted_by_cap = false;
    const auto started = std::chrono::steady_clock::now();
    try {
      log::stage("walk", s.name());
      spool::Spool::Transaction tx(spool);  // the poll commits in chunks (IngestSinkImpl::checkpoint)
      IngestSinkImpl sink(spool, tx, gate, clock, s.name(), cfg.state_dir / "quarantine", [&] {
        progress.records_ingested = base.records_ingested + stats.ingested;
        progress.bytes_ingested = base.bytes_ingested + stats.bytes;
        report();
      });
      PollGuard guard(*state, stop, [&] { return spool_bytes + sink.stored_bytes() >= cfg.limits.spool_max_bytes; });
      SourceContext ctx{clock, guard, sink, guard.halt(), stats, full, SpoolFull(spool_full)};
      s.poll(ctx);
      log::stage("ingest-commit", s.name() + ", end of poll");
      tx.commit();
      withheld = sink.counts();
      halted_by_cap = guard.halted_by_cap();
      status.last_success = now();
      status.last_error.clear();
      if (full && !guard.halt()) spool.set_counter(full_key, status.last_poll);
    } catch (const std::exception& e) {  // sennen::Error, or std::filesystem's from a source
      status.last_error = e.what();
      result.errors.push_back("source " + s.name() + ": " + e.what());
      log::error("source " + s.name() + ": " + e.what());
    }
    status.stats = stats;
    progress.files_scanned = base.files_scanned + stats.files_seen;
    progress.records_ingested = base.records_ingested + stats.ingested;
    progress.bytes_ingested = base.bytes_ingested + stats.bytes;
    result.quarantined += stats.quarantined;
    if (halted_by_cap) {
      spool_full = true;  // DICOM senders are refused from now on, not from the next check
      log::notice("source " + s.name() +
                  ": poll stopped at the spool cap (spool.max_bytes); it goes on where it "
                  "stopped once deliveries make room");
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    log::info("source " + s.name() + (full ? ": full scan" : ": poll") + " done in " + std::to_string(secs) +
              " s: " + std::to_string(stats.files_seen) + " files, " + std::to_string(stats.ingested) + " ingested (" +
              std::to_string(stats.bytes) + " bytes), " + std::to_string(stats.waiting) + " waiting, " +
              std::to_string(stats.quarantined) + " quarantined");
    if (withheld.stopped || withheld.not_notified)
      log::info("source " + s.name() + ": withheld at ingest: " + std::to_string(withheld.stopped) + " (stop list), " +
                std::to_string(withheld.not_notified) + " (not yet notified)");
  }

  std::optional<int> first_visit(const std::string& key) {
    if (!gate.notification()) return std::nullopt;
    return spool.first_visit_since(key, gate.notification()->notice_start_day);
  }

  // Why the records of source `name` cannot be looked up in its tree now, or "" when they can: a
  // file missing from a tree that could not be polled (a share offline) is not a file gone, and a
  // source no longer configured cannot say where its files are.
  std::string unavailable(const std::string& name) {
    if (!source_named(name)) return "it is not in the configuration (renamed or removed)";
    const auto& st = source_status[name];
    if (!st.last_error.empty()) return "its last poll failed: " + st.last_error;
    if (st.last_success == 0) return "it has not been polled since the start";
    return "";
  }

  // Held records of patients who are eligible now flow again (re-read from the source tree,
  // hash-verified). Those of a source whose tree cannot be looked at now stay held.
  void release_held() {
    std::int64_t total = 0, patients = 0;
    std::optional<int> since;
    if (gate.notification()) since = gate.notification()->notice_start_day;
    log::stage("release");
    std::map<std::string, std::string> kept;  // source -> why its held records wait
    for (const auto& key : spool.held_patients(since)) {
      if (gate.decide(key, first_visit(key), clock.now()) != gate::Decision::eligible) continue;
      auto [released, stale] = spool.release_patient(key, [&](const spool::StoredRecord& r) {
        if (std::string why = unavailable(r.source); !why.empty()) {
          kept.emplace(r.source, why);
          throw spool::Spool::SourceUnavailable(why);
        }
        return source_named(r.source)->locate(r.path, r.version);
      });
      (void)stale;
      total += released;
      patients += released > 0;
    }
    if (total)
      log::info("released " + std::to_string(total) + " held record(s) of " + std::to_string(patients) +
                " patient(s) who became eligible");
    for (const auto& [source, why] : kept)
      log::warning("source " + source + ": held records of patients who became eligible stay held (" + why +
                   "); they are released after a poll of it succeeds");
  }

  // Returns true when the outbox cap left ready records unsealed.
  bool seal(CycleResult& result, const std::atomic<bool>& stop) {
    if (!flow.sealing_paused.empty()) return true;
    progress.phase = "sealing";
    report(true);
    bool capped = false;
    try {
      auto keys =
          batcher::SealingKeys::load(cfg.encryption.signer_cert, cfg.encryption.signer_key, cfg.encryption.recipients);
      batcher::Sealer sealer(
          spool, keys, {cfg.site.id, cfg.batch.max_bytes, cfg.batch.zstd_level, cfg.state_dir / "outbox", filters},
          clock);
      batcher::SealProgress sp;
      const std::uint64_t outbox_before = outbox().bytes;
      // The stop list is looked at (a stat) for every record planned: when the file changed,
      // planning stops, the new list is applied (voiding a batch sealed meanwhile that holds a newly
      // stopped patient), and planning starts again. After a few changes in one run the check
      // before each delivery is left to catch the rest.
      constexpr int kReplans = 3;
      for (int round = 0;; ++round) {
        std::map<std::string, gate::Decision> refused;
        bool list_changed = false;
        std::atomic<bool> halt{stop.load()};
        sealer.seal_all(
            stop_list.sha256,
            [&](const std::string& key) {
              // Asked for every record of the batch being planned, so this is where a stop request,
              // the outbox cap or a changed stop list ends the run: the batch under way gets no
              // more records (they stay ready, not held) and no batch is planned after it.
              if (stop || outbox_before + sp.bytes >= cfg.limits.outbox_max_bytes) {
                capped = !stop;
                halt = true;
                return false;
              }
              if (round < kReplans && stop_watch.changed()) {
                list_changed = true;
                halt = true;
                return false;
              }
              auto d = gate.decide(key, first_visit(key), clock.now());
              if (d != gate::Decision::eligible) refused[key] = d;
              return d == gate::Decision::eligible;
            },
            halt, sp,
            // Each patient inside a record of many patients, asked when it is sealed; a part that
            // names no patient cannot be checked against the stop list, so it leaves only if the
            // site said so (optout.send_unattributed).
            [&](const std::optional<std::string>& key) {
              if (!key) return cfg.optout.send_unattributed ? Withhold::none : Withhold::unattributed;
              switch (gate.decide(*key, first_visit(*key), clock.now())) {
                case gate::Decision::stopped:
                  return Withhold::stopped;
                case gate::Decision::not_notified:
                  return Withhold::not_notified;
                case gate::Decision::eligible:
                  break;
              }
              return Withhold::none;
            });
        for (const auto& [key, d] : refused)
          spool.hold_patient(key, d == gate::Decision::stopped ? spool::Hold::stopped : spool::Hold::not_notified);
        if (!list_changed || capped || stop || !refresh_stop_list(result, false)) break;
      }
      progress.batches_sealed += sp.batches;
      progress.bytes_sealed += sp.bytes;
      sealing_error.clear();
      sealing_failures = 0;
    } catch (const Error& e) {
      sealing_error = e.what();
      ++sealing_failures;
      result.errors.push_back(std::string("sealing: ") + e.what());
      log::error(std::string("sealing: ") + e.what());
    }
    return capped;
  }

  // Seals and delivers. While the outbox cap held sealing back and deliveries make room, again:
  // a destination that is back catches up in one cycle, not one outbox per poll.
  void seal_and_deliver(CycleResult& result, const std::atomic<bool>& stop, bool ignore_window) {
    for (;;) {
      update_flow();
      const bool capped = seal(result, stop);
      const auto delivered = progress.batches_delivered;
      deliver(result, stop, ignore_window);
      if (stop || !capped || progress.batches_delivered == delivered) return;
    }
  }

  // Sealed batches waiting to be delivered: their bytes, and when the oldest was sealed (0: none).
  struct Outbox {
    std::uint64_t bytes = 0;
    std::int64_t oldest_at = 0;
  };
  Outbox outbox() {
    Outbox o;
    const auto sealed = spool.batches_in_state(spool::BatchState::sealed);  // oldest first
    for (const auto& b : sealed) o.bytes += b.file_size;
    if (!sealed.empty()) o.oldest_at = sealed.front().created_at;
    return o;
  }

  // Decides the pauses from the spool as it is now; a pause is logged when it starts and ends,
  // and shown in the progress line (systemd STATUS) and the heartbeat while it lasts.
  void update_flow() {
    const Outbox out = outbox();
    const auto st = dispatcher.status(clock.now());
    Backlog backlog{destination_last_success,
                    started_at,
                    destination_error,
                    st.next_window_open ? unix_seconds(*st.next_window_open) : 0,
                    out.oldest_at,
                    paused_reason};
    spool_bytes = spool.depth().content_bytes();
    FlowDecision next =
        decide_flow({spool_bytes, cfg.limits.spool_max_bytes}, {out.bytes, cfg.limits.outbox_max_bytes}, backlog);
    announce("sealing", flow.sealing_paused, next.sealing_paused);
    announce("intake", flow.intake_paused, next.intake_paused);
    flow = std::move(next);
    spool_full = !flow.intake_paused.empty();
    progress.paused = flow.intake_paused.empty() ? flow.sealing_paused : flow.intake_paused;
  }

  static void announce(const std::string& stage, const std::string& before, const std::string& now) {
    if (before.empty() && !now.empty()) log::warning(now);
    if (!before.empty() && now.empty()) log::notice(stage + " resumed: deliveries made room");
  }

  // False (and logged once) while the window is closed or the destination is backing off. Asked
  // before every batch, so an upload running when the window closes ends after its current batch.
  bool clear_to_send(bool ignore_window, std::size_t waiting) {
    auto c = dispatcher.check(clock.now(), ignore_window);
    if (c == dispatch::Clearance::backing_off) {
      // The heartbeat is the probe (dispatch::Dispatcher::next_probe_at): accepted, it ends the wait.
      if (auto probe = dispatcher.next_probe_at(); probe && clock.now() >= *probe && write_heartbeat().ok())
        c = dispatcher.check(clock.now(), ignore_window);
    }
    if (c != dispatch::Clearance::go && c != last_clearance)
      log::info(std::to_string(waiting) +
                " batch(es) waiting: " + dispatch::describe(c, dispatcher.status(clock.now())));
    last_clearance = c;
    return c == dispatch::Clearance::go;
  }

  void deliver(CycleResult& result, const std::atomic<bool>& stop, bool ignore_window) {
    progress.phase = "delivering";
    report(true);
    for (;;) {
      if (stop) return;
      const auto waiting = spool.batches_in_state(spool::BatchState::sealed).size();
      if (waiting == 0) return;
      // Asked before the last look below: its probe (a heartbeat) can take until the destination's
      // timeout, and the stop list may change meanwhile.
      if (!clear_to_send(ignore_window, waiting)) return;
      // The last look at the stop list before the bytes leave: a stat, and the file is read and
      // applied again if it changed (which may void the batch about to go). Logged first, so that a
      // test can tell from the log which edits of the list this look had to see.
      log::debug("looking at the stop list before the next batch leaves");
      if (!refresh_stop_list(result, false)) return;
      const auto sealed = spool.batches_in_state(spool::BatchState::sealed);  // oldest first
      if (sealed.empty()) return;
      const auto& b = sealed.front();
      // Nobody in the batch may be on the stop list now, a batch marked for a recheck never goes,
      // nor one holding a patient not notified now, nor one whose outbox file is gone or damaged.
      std::string why = stop_list_hold(b, gate.stopped());
      std::string void_reason;
      if (!why.empty()) {
        void_reason = b.recheck ? "its files of many patients are filtered again for a patient added to the stop list"
                                : "a patient in it is on the stop list";
      } else if (why = notification_hold(b); !why.empty()) {
        void_reason = "a patient in it is not notified under the current notification rule";
      } else {
        why = outbox_problem(b);
        void_reason = "outbox file " + why;
      }
      if (!why.empty()) {
        if (settle(b, why, void_reason) != Settled::undecided) continue;
        const std::string held = "batch " + b.batch_id + " " + why +
                                 ", and is held back until the destination can say whether it already has it";
        dispatcher.record(DeliveryResult::retry(held), clock.now());  // asked again after the usual wait
        result.errors.push_back(held);
        return;  // keep order: later batches wait for this one
      }
      const BatchFile bf = batch_file(b);
      log::stage("deliver", b.batch_id);
      auto r = destination->deliver(bf);
      dispatcher.record(r, clock.now());
      if (!r.ok()) {
        // The batch stays in the outbox whatever the answer; only the time of the next try changes.
        const auto st = dispatcher.status(clock.now());
        destination_error = r.reason;
        result.errors.push_back("delivering " + b.batch_id + ": " + r.reason);
        log::error("delivering " + b.batch_id + " to " + destination->describe() + ": " + r.reason + "; " +
                   (r.status == DeliveryResult::Status::rejected ? "destination marked failing; " : "") +
                   "the batch is kept; " + dispatch::describe(dispatch::Clearance::backing_off, st));
        return;  // keep order: later batches wait for this one
      }
      delivered(b);
      progress.batches_delivered += 1;
      progress.bytes_delivered += b.file_size;
      log::info("delivered batch " + b.batch_id + " (" + std::to_string(b.record_count) + " records) to " +
                destination->describe());
      report();
    }
  }

  std::optional<TimePoint> next_delivery_at() {
    const TimePoint t = clock.now();
    // While the stop list is unusable nothing leaves; the next poll's cycle looks at it again.
    if (!paused_reason.empty() || spool.batches_in_state(spool::BatchState::sealed).empty()) return std::nullopt;
    if (dispatcher.check(t) == dispatch::Clearance::go) return t;  // e.g. a probe just ended a retry wait
    const auto st = dispatcher.status(t);
    TimePoint at = t;
    if (st.next_attempt_at) {
      at = std::max(t, *st.next_attempt_at);
      if (auto probe = dispatcher.next_probe_at()) at = std::max(t, std::min(at, *probe));  // may end it sooner
    }
    return dispatcher.window().next_open(at);  // a retry due outside the window waits for it
  }

  // Writes the heartbeat (a copy stays in state_dir whatever the destination). A heartbeat the
  // destination accepts while deliveries back off ends the wait: the destination answers again.
  DeliveryResult write_heartbeat() {
    update_flow();  // also between cycles, so a pause ends (and DICOM senders are let in) promptly
    log::stage("heartbeat");
    const auto in = heartbeat_input();
    try {
      util::AtomicFile copy(cfg.state_dir / "heartbeat.json");
      copy.write(telemetry::heartbeat_json(in, telemetry::Audience::box));
      copy.commit();
    } catch (const Error& e) {
      log::warning(std::string("heartbeat not kept in state_dir: ") + e.what());
    }
    auto r = destination->put_heartbeat(telemetry::heartbeat_json(in, telemetry::Audience::central));
    if (!r.ok()) log::warning("heartbeat not delivered to " + destination->describe() + ": " + r.reason);
    if (auto probe = dispatcher.next_probe_at(); probe && clock.now() >= *probe) {  // it was a probe too
      dispatcher.probed(r, clock.now());
      if (r.ok()) log::notice(destination->describe() + " accepts the heartbeat again; deliveries are tried now");
    }
    return r;
  }

  // At start-up, after whatever ended the last run: half-sealed batches are abandoned (batcher),
  // a sealed batch whose outbox file is gone counts as delivered if the destination has it and is
  // voided if not, and what a kill leaves behind goes: the outbox copy of a batch already recorded
  // as delivered (a kill between that record and the file's removal), upload state and partial
  // files of batches no longer waiting, heartbeat temp files.
  void recover() {
    log::stage("start-up", "recovering what the last run left");
    const fs::path dir = cfg.state_dir / "outbox";
    batcher::recover_interrupted_batches(spool, dir);
    std::set<std::string> waiting;
    for (const auto& b : spool.batches_in_state(spool::BatchState::sealed)) {
      waiting.insert(b.batch_id);
      if (const std::string problem = outbox_problem(b); !problem.empty()) settle(b, problem, "outbox file " + problem);
    }
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      const std::string id = name.substr(0, name.find('.'));
      if (waiting.count(id)) continue;
      fs::remove(e.path(), ec);
      log::info("outbox: removed " + name + ", left over from a batch no longer waiting");
    }
    for (const auto& e : fs::directory_iterator(cfg.state_dir, ec))
      if (e.path().filename().string().rfind("heartbeat.json.tmp-", 0) == 0) fs::remove(e.path(), ec);
  }

  telemetry::HeartbeatInput heartbeat_input() {
    telemetry::HeartbeatInput in;
    in.site_id = cfg.site.id;
    in.site_name = cfg.site.name;
    in.now = now();
    in.started_at = started_at;
    for (const auto& s : cfg.sources) in.sources.push_back(source_status[s.name]);
    in.depth = spool.depth();
    in.gate.stop_list_entries = stop_list.ids.size();
    in.gate.stop_list_problems = stop_list.problem_lines;
    in.gate.stop_list_sha256 = stop_list.sha256;
    in.gate.paused_reason = paused_reason;
    in.gate.attention = stop_attention;
    in.gate.stopped = gate.stopped().size();
    in.gate.retained = in.gate.stopped - std::min(in.gate.stopped, stop_list.ids.size());
    in.gate.purged_total = spool.counter("purged_total");
    in.gate.withdrawals_total = spool.counter("withdrawals_total");
    const auto releases = spool.releases();
    in.gate.releases_total = static_cast<std::int64_t>(releases.size());
    if (!releases.empty()) in.gate.last_release_at = releases.front().released_at;
    in.last_batch = spool.last_delivered_batch();
    in.destination = destination->describe();
    in.destination_error = destination_error;
    in.destination_last_success = destination_last_success;
    const auto ds = dispatcher.status(clock.now());
    auto secs = [](const std::optional<TimePoint>& t) { return t ? unix_seconds(*t) : std::int64_t{0}; };
    in.destination_consecutive_failures = ds.consecutive_failures;
    in.destination_next_attempt_at = secs(ds.next_attempt_at);
    in.next_window_open = secs(ds.next_window_open);
    const Outbox out = outbox();
    in.bytes_pending = out.bytes;
    in.oldest_batch_at = out.oldest_at;
    if (cfg.schedule.upload_window) in.upload_window = window_text(*cfg.schedule.upload_window);
    in.upload_window_open = dispatcher.window().allows(clock.now());
    in.flow = {in.depth.content_bytes(),    cfg.limits.spool_max_bytes, in.bytes_pending,
               cfg.limits.outbox_max_bytes, flow.intake_paused,         flow.sealing_paused};
    if (auto client = cfg.destination.options ? cfg.destination.options->client_certificate() : std::nullopt)
      in.certificates.push_back(telemetry::read_certificate("client", *client, in.now));
    in.certificates.push_back(telemetry::read_certificate("signer", cfg.encryption.signer_cert, in.now));
    struct statvfs vfs {};
    if (::statvfs(cfg.state_dir.c_str(), &vfs) == 0) {
      in.state_dir_free_bytes = std::uint64_t(vfs.f_bavail) * vfs.f_frsize;
      in.state_dir_total_bytes = std::uint64_t(vfs.f_blocks) * vfs.f_frsize;
    }
    const FreeSpaceNeed need = state_dir_free_space_needed(cfg);
    in.state_dir_free_needed = need.bytes;
    in.state_dir_free_needed_why = need.why;
    in.sealing_error = sealing_error;
    in.sealing_failures = sealing_failures;
    in.pending_age_bound = max_pending_age(cfg).count();
    if (in.now - spool.counter("abnormal_window_start") <= telemetry::kCrashLoopWindowSeconds)
      in.abnormal_starts_in_window = spool.counter("abnormal_in_window");
    in.last_abnormal_start_at = spool.counter("last_abnormal_start_at");
    in.config_sha256 = config_sha256;
    in.interval_seconds = cfg.heartbeat.interval.count();
    in.progress_line = progress.line();
    in.files_scanned = progress.files_scanned;
    in.records_ingested = progress.records_ingested;
    in.bytes_sealed = progress.bytes_sealed;
    in.bytes_delivered = progress.bytes_delivered;
    // One query over per-day counts (docs/coverage-kinds.md), the window ending today (UTC days).
    in.coverage.delivered = spool.delivered_kinds(in.now / 86400 - (in.coverage.window_days - 1));
    for (const auto& s : cfg.sources) {
      if (!s.options) continue;
      const std::string vendor = s.options->vendor_profile();
      auto& vendors = in.coverage.vendor_profiles;
      if (!vendor.empty() && std::find(vendors.begin(), vendors.end(), vendor) == vendors.end())
        vendors.push_back(vendor);
      // A kind expected in some form by any source is expected; structured wins over pdf_jpeg over none.
      for (const auto& [kind, form] : s.options->expected_kinds()) {
        auto [it, added] = in.coverage.expected.emplace(kind, form);
        if (!added && (form == kStructured || (form == kPdfJpeg && it->second == kNone))) it->second = form;
      }
    }
    return in;
  }
};

Pipeline::Pipeline(config::Config config, const Clock& clock, Adapters adapters, ProgressFn on_progress)
    : impl_(std::make_unique<Impl>(std::move(config), clock, std::move(adapters), std::move(on_progress))) {
  impl_->recover();
}

Pipeline::~Pipeline() = default;

const config::Config& Pipeline::config() const { return impl_->cfg; }

CycleResult Pipeline::run_cycle(const std::atomic<bool>& stop, const std::set<std::string>* only,
                                CycleOptions options) {
  CycleResult result;
  auto& p = *impl_;
  p.progress = Progress{};
  // Each stage reports its own failure and the cycle goes on to the heartbeat: one failing stage
  // (a full disk, a damaged spool) must neither take the process down nor hide the site's state.
  auto stage = [&](const char* what, const auto& run) {
    try {
      run();
    } catch (const std::exception& e) {
      result.errors.push_back(std::string(what) + ": " + e.what());
      log::error(std::string(what) + ": " + e.what());
    }
  };
  bool usable = false;  // the stop list is applied and may be relied on
  stage("applying the stop list", [&] { usable = p.refresh_stop_list(result, true); });
  bool intake_skipped = false;
  for (auto& s : p.sources) {
    if (stop) break;
    if (only && !only->count(s->name())) continue;
    stage("polling", [&] {
      p.update_flow();  // before every poll: the one before may have filled the spool
      if (!p.flow.intake_paused.empty()) {
        intake_skipped = true;  // its state is untouched: the next poll after the pause sees everything
        return;
      }
      p.poll(*s, result, stop);
    });
  }
  if (intake_skipped) result.errors.push_back(p.flow.intake_paused);
  // Releasing held records re-reads their content into the spool: intake too. Nothing is released
  // while the stop list cannot be relied on.
  if (!stop && usable && p.flow.intake_paused.empty()) stage("releasing held records", [&] { p.release_held(); });
  if (!stop && usable)
    stage("sealing and delivering", [&] { p.seal_and_deliver(result, stop, options.ignore_window); });
  p.progress.phase = "idle";
  p.report(true);
  stage("writing the heartbeat", [&] {
    if (auto r = p.write_heartbeat(); !r.ok())
      result.errors.push_back("heartbeat not delivered to " + p.destination->describe() + ": " + r.reason);
  });
  log::stage("idle");
  result.progress = p.progress;
  return result;
}

bool Pipeline::write_heartbeat() {
  const bool ok = impl_->write_heartbeat().ok();
  log::stage("idle");
  return ok;
}

telemetry::HeartbeatInput Pipeline::snapshot() { return impl_->heartbeat_input(); }

std::optional<TimePoint> Pipeline::next_delivery_at() { return impl_->next_delivery_at(); }

}  // namespace sennen::pipeline
