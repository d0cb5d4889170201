#include "daemon/pipeline/pipeline.hpp"

#include <sys/statvfs.h>

#include <map>

#include "adapters/registry/registry.hpp"
#include "daemon/batcher/manifest.hpp"
#include "daemon/batcher/sealer.hpp"
#include "daemon/core/error.hpp"
#include "daemon/dispatch/dispatcher.hpp"
#include "daemon/gate/eligibility.hpp"
#include "daemon/gate/stop_list.hpp"
#include "daemon/pipeline/flow_control.hpp"
#include "daemon/pipeline/ingest_sink.hpp"
#include "daemon/pipeline/poll_guard.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/telemetry/heartbeat.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/sha256.hpp"

namespace sennen::pipeline {
namespace fs = std::filesystem;

std::string Progress::line() const {
  auto mb = [](std::uint64_t b) { return std::to_string(b / 1000000) + " MB"; };
  return phase + ": scanned " + std::to_string(files_scanned) + " files, ingested " +
         std::to_string(records_ingested) + " (" + mb(bytes_ingested) + "), sealed " +
         std::to_string(batches_sealed) + " batches (" + mb(bytes_sealed) + "), delivered " +
         std::to_string(batches_delivered) + " (" + mb(bytes_delivered) + ")" + (paused.empty() ? "" : "; " + paused);
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
  std::map<std::string, telemetry::SourceStatus> source_status;
  std::string paused_reason;
  FlowDecision flow;  // pauses for the spool and outbox caps, as last decided
  std::uint64_t spool_bytes = 0;  // record content in the spool when `flow` was decided
  std::string destination_error;
  std::int64_t destination_last_success = 0;
  dispatch::Dispatcher dispatcher;  // upload window and retry backoff (in memory only)
  std::optional<dispatch::Clearance> last_clearance;  // to log a wait once, not every cycle
  std::int64_t started_at;
  std::string config_sha256;
  Progress progress;
  TimePoint last_progress_report{};

  Impl(config::Config c, const Clock& clk, ProgressFn fn)
      : cfg(std::move(c)),
        clock(clk),
        on_progress(std::move(fn)),
        spool(cfg.state_dir),
        gate(rule_from(cfg.optout), cfg.site.utc_offset_minutes),
        sources(adapters::make_sources(cfg)),
        destination(adapters::make_destination(cfg)),
        dispatcher(dispatch::Window::from(cfg.schedule)),
        started_at(unix_seconds(clk.now())) {
    for (std::size_t i = 0; i < cfg.sources.size(); ++i)
      source_status[cfg.sources[i].name] = {cfg.sources[i].name, config::source_type_name(cfg.sources[i].type), 0, 0, {}, {}};
    try {
      config_sha256 = util::sha256_hex(util::read_small_file(cfg.file, 1 << 20));
    } catch (const Error&) {
      config_sha256.clear();  // a config given as text (tests) has no file
    }
    // The last delivery survives restarts (and each `--once`): "not accepted since" stays true.
    if (auto last = spool.last_delivered_batch()) destination_last_success = last->delivered_at;
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

  // Loads the stop list. A new ID is applied at once: the patient's pending records lose their
  // content, batches not yet delivered that hold them are voided, and a withdrawal is queued.
  void refresh_gate(CycleResult& result) {
    paused_reason.clear();
    gate::StopList list;
    try {
      list = gate::load_stop_list(cfg.optout.stop_list);
    } catch (const Error& e) {
      paused_reason = std::string("stop list cannot be read: ") + e.what() +
                      "; nothing is sealed or delivered until it can be read";
      result.errors.push_back(paused_reason);
      return;  // keep the stop list applied last time
    }
    if (!list.problems.empty() && !cfg.optout.allow_unreadable_lines) {
      std::string lines;
      for (std::size_t i = 0; i < list.problems.size() && i < 10; ++i)
        lines += (i ? ", " : "") + std::to_string(list.problems[i].line);
      paused_reason = "stop list " + cfg.optout.stop_list.string() + " has " + std::to_string(list.problems.size()) +
                      " line(s) that cannot be read (line " + lines + ": " + list.problems[0].reason +
                      "); fix them (or set optout.allow_unreadable_lines: true); nothing is sealed or delivered "
                      "until then";
      result.errors.push_back(paused_reason);
    }
    auto added = spool.apply_stop_list(list.ids, now());
    gate.set_stop_list(std::move(list));
    if (!added.empty()) withdraw(added);
  }

  fs::path outbox_file(const std::string& batch_id) const { return cfg.state_dir / "outbox" / (batch_id + ".cms"); }

  // Voids a sealed batch that never left the box (its records go back to pending, its file is
  // removed) when it holds a record of a patient in `stopped`. Returns true when it did.
  template <typename Set>
  bool void_if_holding(const spool::BatchInfo& b, const Set& stopped, const std::string& reason) {
    bool hit = false;
    for (const auto& key : spool.batch_patients(b.batch_id)) hit |= stopped.contains(key);
    if (!hit) return false;
    std::error_code ec;
    fs::remove(outbox_file(b.batch_id), ec);
    spool.void_batch(b.batch_id, reason);
    return true;
  }

  void withdraw(const std::vector<std::string>& added) {
    std::set<std::string> newly(added.begin(), added.end());
    for (const auto& b : spool.batches_in_state("sealed"))
      if (void_if_holding(b, newly, "a patient in it was added to the stop list before delivery"))
        log::notice("batch " + b.batch_id +
                    " was voided before delivery: it held records of a patient now on the stop list");
    std::int64_t purged = 0;
    for (const auto& key : added) {
      purged += spool.hold_patient(key, spool::Hold::stopped);
      spool.add_withdrawal(key, now());
    }
    spool.add_counter("purged_total", purged);
    spool.add_counter("withdrawals_total", static_cast<std::int64_t>(added.size()));
    log::notice(std::to_string(added.size()) + " patient(s) newly on the stop list: " + std::to_string(purged) +
                " pending record(s) withheld; withdrawals queued for the central side");
  }

  void poll(Source& s, CycleResult& result, const std::atomic<bool>& stop) {
    auto& status = source_status[s.name()];
    status.last_poll = now();
    progress.phase = "polling " + s.name();
    auto state = spool.source_state(s.name());
    const Progress base = progress;
    // Unchanged folders are skipped by polls; every full_scan_interval one poll re-stats every
    // file, which catches a file rewritten in place without a rename. The time of the last full
    // scan is kept in the spool, so restarts (and --once) do not force one.
    const auto* scfg = source_config(s.name());
    const std::string full_key = "full_scan_at:" + s.name();
    const std::int64_t last_full = spool.counter(full_key);
    const bool full = scfg && now() - last_full >= scfg->full_scan_interval.count();
    SourceStats stats;
    IngestSinkImpl sink(spool, gate, clock, s.name(), cfg.state_dir / "quarantine", [&] {
      progress.records_ingested = base.records_ingested + stats.ingested;
      progress.bytes_ingested = base.bytes_ingested + stats.bytes;
      report();
    });
    PollGuard guard(*state, stop, [&] { return spool_bytes + sink.stored_bytes() >= cfg.limits.spool_max_bytes; });
    SourceContext ctx{clock, guard, sink, guard.halt(), stats, full, SpoolFull(spool_full)};
    const auto started = std::chrono::steady_clock::now();
    try {
      spool.begin();
      s.poll(ctx);
      spool.commit();
      status.last_success = now();
      status.last_error.clear();
      if (full && !guard.halt()) spool.set_counter(full_key, status.last_poll);
    } catch (const Error& e) {
      spool.rollback();
      status.last_error = e.what();
      result.errors.push_back("source " + s.name() + ": " + e.what());
      log::error("source " + s.name() + ": " + e.what());
    }
    status.stats = stats;
    progress.files_scanned = base.files_scanned + stats.files_seen;
    progress.records_ingested = base.records_ingested + stats.ingested;
    progress.bytes_ingested = base.bytes_ingested + stats.bytes;
    result.quarantined += stats.quarantined;
    if (guard.halted_by_cap()) {
      spool_full = true;  // DICOM senders are refused from now on, not from the next check
      log::notice("source " + s.name() + ": poll stopped at the spool cap (spool.max_bytes); it goes on where it "
                  "stopped once deliveries make room");
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    log::info("source " + s.name() + (full ? ": full scan" : ": poll") + " done in " + std::to_string(secs) + " s: " +
              std::to_string(stats.files_seen) + " files, " + std::to_string(stats.ingested) + " ingested (" +
              std::to_string(stats.bytes) + " bytes), " + std::to_string(stats.waiting) + " waiting, " +
              std::to_string(stats.quarantined) + " quarantined");
    auto& c = sink.counts();
    if (c.stopped || c.not_notified)
      log::info("source " + s.name() + ": withheld at ingest: " + std::to_string(c.stopped) + " (stop list), " +
                std::to_string(c.not_notified) + " (not yet notified)");
  }

  std::optional<int> first_visit(const std::string& key) {
    if (!gate.notification()) return std::nullopt;
    return spool.first_visit_since(key, gate.notification()->notice_start_day);
  }

  // Held records of patients who are eligible now flow again (re-read from the source tree,
  // hash-verified).
  void release_held() {
    std::int64_t total = 0, patients = 0;
    std::optional<int> since;
    if (gate.notification()) since = gate.notification()->notice_start_day;
    for (const auto& key : spool.held_patients(since)) {
      if (gate.decide(key, first_visit(key), clock.now()) != gate::Decision::eligible) continue;
      auto [released, stale] = spool.release_patient(key, [&](const spool::StoredRecord& r) {
        Source* s = source_named(r.source);
        return s ? s->locate(r.path, r.version) : std::nullopt;
      });
      (void)stale;
      total += released;
      patients += released > 0;
    }
    if (total)
      log::info("released " + std::to_string(total) + " held record(s) of " + std::to_string(patients) +
                " patient(s) who became eligible");
  }

  // Returns true when the outbox cap left ready records unsealed.
  bool seal(CycleResult& result, const std::atomic<bool>& stop) {
    if (!flow.sealing_paused.empty()) return true;
    progress.phase = "sealing";
    report(true);
    bool capped = false;
    try {
      auto keys = batcher::SealingKeys::load(cfg.encryption.signer_cert, cfg.encryption.signer_key,
                                             cfg.encryption.recipients);
      batcher::Sealer sealer(spool, keys, {cfg.site.id, cfg.batch.max_bytes, cfg.batch.zstd_level, cfg.state_dir / "outbox"},
                             clock);
      std::map<std::string, gate::Decision> refused;
      batcher::SealProgress sp;
      const std::uint64_t outbox_before = outbox().bytes;
      std::atomic<bool> halt{stop.load()};
      sealer.seal_all(
          gate.stop_list().sha256,
          [&](const std::string& key) {
            // Asked for every record of the batch being planned, so this is where a stop request
            // or the outbox cap ends the run: the batch under way gets no record (they stay
            // ready, not held) and no batch is planned after it.
            if (stop || outbox_before + sp.bytes >= cfg.limits.outbox_max_bytes) {
              capped = !stop;
              halt = true;
              return false;
            }
            auto d = gate.decide(key, first_visit(key), clock.now());
            if (d != gate::Decision::eligible) refused[key] = d;
            return d == gate::Decision::eligible;
          },
          halt, sp);
      for (const auto& [key, d] : refused)
        spool.hold_patient(key, d == gate::Decision::stopped ? spool::Hold::stopped : spool::Hold::not_notified);
      progress.batches_sealed += sp.batches;
      progress.bytes_sealed += sp.bytes;
    } catch (const Error& e) {
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
    const auto sealed = spool.batches_in_state("sealed");  // oldest first
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
    FlowDecision next = decide_flow({spool_bytes, cfg.limits.spool_max_bytes},
                                    {out.bytes, cfg.limits.outbox_max_bytes}, backlog);
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
    const auto c = dispatcher.check(clock.now(), ignore_window);
    if (c != dispatch::Clearance::go && c != last_clearance)
      log::info(std::to_string(waiting) + " batch(es) waiting: " +
                dispatch::describe(c, dispatcher.status(clock.now())));
    last_clearance = c;
    return c == dispatch::Clearance::go;
  }

  void deliver(CycleResult& result, const std::atomic<bool>& stop, bool ignore_window) {
    progress.phase = "delivering";
    report(true);
    const auto sealed = spool.batches_in_state("sealed");  // oldest first
    for (std::size_t i = 0; i < sealed.size(); ++i) {
      const auto& b = sealed[i];
      if (stop) return;
      if (!clear_to_send(ignore_window, sealed.size() - i)) return;
      // Last check before the bytes leave: nobody in the batch may be on the stop list now.
      if (void_if_holding(b, gate.stop_list(), "a patient in it is on the stop list")) continue;
      fs::path file = outbox_file(b.batch_id);
      batcher::ManifestHeader h{cfg.site.id, b.batch_id, b.created_at, b.stop_list_sha256};
      BatchFile bf{b.batch_id,
                   gate::yyyymmdd(gate.today(TimePoint(std::chrono::seconds(b.created_at)))),
                   file,
                   b.file_size,
                   b.file_sha256,
                   batcher::build_marker(h, static_cast<std::size_t>(b.record_count),
                                         static_cast<std::size_t>(b.withdrawal_count), b.file_size, b.file_sha256)};
      auto r = destination->deliver(bf);
      dispatcher.record(r, clock.now());
      if (r.status != DeliveryResult::Status::delivered) {
        // The batch stays in the outbox whatever the answer; only the time of the next try changes.
        const auto st = dispatcher.status(clock.now());
        destination_error = r.reason;
        result.errors.push_back("delivering " + b.batch_id + ": " + r.reason);
        log::error("delivering " + b.batch_id + " to " + destination->describe() + ": " + r.reason + "; " +
                   (r.status == DeliveryResult::Status::rejected ? "destination marked failing; " : "") +
                   "the batch is kept; " + dispatch::describe(dispatch::Clearance::backing_off, st));
        return;  // keep order: later batches wait for this one
      }
      spool.mark_delivered(b.batch_id, now());
      std::error_code ec;
      fs::remove(file, ec);
      destination_error.clear();
      destination_last_success = now();
      progress.batches_delivered += 1;
      progress.bytes_delivered += b.file_size;
      log::info("delivered batch " + b.batch_id + " (" + std::to_string(b.record_count) + " records) to " +
                destination->describe());
      report();
    }
  }

  std::optional<TimePoint> next_delivery_at() {
    const TimePoint now = clock.now();
    if (dispatcher.check(now) == dispatch::Clearance::go) return std::nullopt;
    if (spool.batches_in_state("sealed").empty()) return std::nullopt;
    const auto st = dispatcher.status(now);
    TimePoint at = st.next_attempt_at ? std::max(now, *st.next_attempt_at) : now;
    return dispatcher.window().next_open(at);  // a retry due outside the window waits for it
  }

  void write_heartbeat() {
    update_flow();  // also between cycles, so a pause ends (and DICOM senders are let in) promptly
    const std::string json = telemetry::heartbeat_json(heartbeat_input());
    // A copy stays on the box for `sennen-edgectl status`, whatever the destination.
    try {
      util::AtomicFile copy(cfg.state_dir / "heartbeat.json");
      copy.write(json);
      copy.commit();
    } catch (const Error& e) {
      log::warning(std::string("heartbeat not kept in state_dir: ") + e.what());
    }
    auto r = destination->put_heartbeat(json);
    if (r.status != DeliveryResult::Status::delivered) log::warning("heartbeat not written: " + r.reason);
  }

  telemetry::HeartbeatInput heartbeat_input() {
    telemetry::HeartbeatInput in;
    in.site_id = cfg.site.id;
    in.site_name = cfg.site.name;
    in.now = now();
    in.started_at = started_at;
    for (const auto& s : cfg.sources) in.sources.push_back(source_status[s.name]);
    in.depth = spool.depth();
    const auto& sl = gate.stop_list();
    in.gate = {sl.ids.size(), sl.problems.size(), sl.sha256, paused_reason, 0, 0,
               spool.counter("purged_total"), spool.counter("withdrawals_total")};
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
    in.flow = {in.depth.content_bytes(), cfg.limits.spool_max_bytes, in.bytes_pending, cfg.limits.outbox_max_bytes,
               flow.intake_paused, flow.sealing_paused};
    if (cfg.destination.type == config::DestinationType::https)
      in.certificates.push_back(telemetry::read_certificate("client", cfg.destination.tls.cert, in.now));
    in.certificates.push_back(telemetry::read_certificate("signer", cfg.encryption.signer_cert, in.now));
    struct statvfs vfs{};
    if (::statvfs(cfg.state_dir.c_str(), &vfs) == 0) {
      in.state_dir_free_bytes = std::uint64_t(vfs.f_bavail) * vfs.f_frsize;
      in.state_dir_total_bytes = std::uint64_t(vfs.f_blocks) * vfs.f_frsize;
    }
    in.config_sha256 = config_sha256;
    in.interval_seconds = cfg.heartbeat.interval.count();
    in.progress_line = progress.line();
    in.files_scanned = progress.files_scanned;
    in.records_ingested = progress.records_ingested;
    in.bytes_sealed = progress.bytes_sealed;
    in.bytes_delivered = progress.bytes_delivered;
    return in;
  }
};

Pipeline::Pipeline(config::Config config, const Clock& clock, ProgressFn on_progress)
    : impl_(std::make_unique<Impl>(std::move(config), clock, std::move(on_progress))) {
  batcher::recover_interrupted_batches(impl_->spool, impl_->cfg.state_dir / "outbox");
}

Pipeline::~Pipeline() = default;

const config::Config& Pipeline::config() const { return impl_->cfg; }

CycleResult Pipeline::run_cycle(const std::atomic<bool>& stop, const std::set<std::string>* only,
                                CycleOptions options) {
  CycleResult result;
  auto& p = *impl_;
  p.progress = Progress{};
  p.refresh_gate(result);
  bool intake_skipped = false;
  for (auto& s : p.sources) {
    if (stop) break;
    if (only && !only->count(s->name())) continue;
    p.update_flow();  // before every poll: the one before may have filled the spool
    if (!p.flow.intake_paused.empty()) {
      intake_skipped = true;  // its state is untouched: the next poll after the pause sees everything
      continue;
    }
    p.poll(*s, result, stop);
  }
  if (intake_skipped) result.errors.push_back(p.flow.intake_paused);
  // Releasing held records re-reads their content into the spool: intake too.
  if (!stop && p.flow.intake_paused.empty()) p.release_held();
  if (!stop && p.paused_reason.empty()) p.seal_and_deliver(result, stop, options.ignore_window);
  p.progress.phase = "idle";
  p.report(true);
  p.write_heartbeat();
  result.progress = p.progress;
  return result;
}

void Pipeline::write_heartbeat() { impl_->write_heartbeat(); }

telemetry::HeartbeatInput Pipeline::snapshot() { return impl_->heartbeat_input(); }

std::optional<TimePoint> Pipeline::next_delivery_at() { return impl_->next_delivery_at(); }

}  // namespace sennen::pipeline
