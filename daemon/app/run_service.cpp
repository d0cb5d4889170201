// The long-lived service. The main thread runs a Boost.Asio event loop for signals, the systemd
// watchdog and status; pipeline cycles run on one worker thread, so a long ingest never delays
// a signal or a watchdog ping. SIGTERM stops at the next safe point (a committed chunk) and exits;
// SIGHUP reloads the config between cycles, keeping the old one if the new one is invalid;
// SIGUSR1 (sennen-edgectl flush) runs a cycle that seals and delivers now, outside the upload
// window. With metrics.port set, /metrics and /healthz are served on the same event loop from a
// snapshot the worker refreshes after each cycle (the io thread never touches the spool).
#include <systemd/sd-daemon.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "adapters/registry/registry.hpp"
#include "daemon/util/instance_lock.hpp"
#include "daemon/app/service.hpp"
#include "daemon/config/config.hpp"
#include "daemon/util/error.hpp"
#include "daemon/app/metrics_collector.hpp"
#include "daemon/metrics/exposition.hpp"
#include "daemon/metrics/health.hpp"
#include "daemon/metrics/server.hpp"
#include "daemon/pipeline/flow_control.hpp"
#include "daemon/pipeline/pipeline.hpp"
#include "daemon/spool/spool_reader.hpp"
#include "daemon/util/log.hpp"
#include "sennen/version.hpp"

namespace sennen::app {
namespace {
using steady = std::chrono::steady_clock;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(SystemClock().now().time_since_epoch()).count();
}

class Worker {
 public:
  // `collector` (null when metrics are off) is fed after every cycle; it outlives the worker.
  Worker(std::filesystem::path file, config::Config cfg, MetricsCollector* collector, std::function<void()> on_fatal)
      : file_(std::move(file)), cfg_(std::move(cfg)), collector_(collector), on_fatal_(std::move(on_fatal)) {}

  void start() {
    thread_ = std::thread([this] { loop(); });
  }
  void request_stop() {
    stop_ = true;
    wake();
  }
  void request_reload() {
    reload_ = true;
    wake();
  }
  void request_flush() {
    flush_ = true;
    wake();
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // When the worker last showed it is alive (progress, or waiting for the next cycle).
  steady::time_point alive() const { return steady::time_point(steady::duration(alive_.load())); }
  bool failed() const { return failed_; }

 private:
  void wake() {
    std::lock_guard lock(mutex_);
    cv_.notify_all();
  }
  void touch() { alive_ = steady::now().time_since_epoch().count(); }

  void status(const std::string& s) {
    touch();
    auto now = steady::now();
    if (now - last_status_ < std::chrono::seconds(2)) return;
    last_status_ = now;
    sd_notify(0, ("STATUS=" + s).c_str());
  }

  void build() {
    pipeline_.reset();
    pipeline_ = std::make_unique<pipeline::Pipeline>(
        cfg_, clock_,
        pipeline::Adapters{adapters::make_sources(cfg_), adapters::make_destination(cfg_),
                           adapters::content_filters(cfg_)},
        [this](const pipeline::Progress& p) {
          if (collector_) collector_->on_progress(p, steady::now());
          status(p.line());
        });
    if (collector_) collector_->reconfigure(cfg_);
    observe({}, {});  // the state at start: nothing polled yet
    next_poll_.clear();
    for (const auto& s : cfg_.sources) next_poll_[s.name] = steady::now();
    next_heartbeat_ = steady::now() + cfg_.heartbeat.interval;
    plan_delivery();
  }

  // Batches held back by the upload window or a retry wait go out when that ends, not only at
  // the next poll (which may be an hour away).
  void plan_delivery() {
    next_delivery_.reset();
    if (auto at = pipeline_->next_delivery_at()) {
      const auto wait = std::max(*at - std::chrono::system_clock::now(), std::chrono::system_clock::duration::zero());
      next_delivery_ = steady::now() + std::chrono::duration_cast<steady::duration>(wait);
    }
  }

  // The metrics snapshot after a cycle (or at start): the pipeline's own view plus the oldest
  // sealed batch, read here on the worker thread through a read-only connection.
  void observe(const pipeline::CycleResult& result, const std::set<std::string>& polled) {
    if (!collector_) return;
    std::int64_t oldest = 0;
    try {
      spool::SpoolReader reader(cfg_.state_dir);
      for (const auto& b : reader.batches_in_state(spool::BatchState::sealed))
        oldest = oldest ? std::min(oldest, b.created_at) : b.created_at;
    } catch (const Error& e) {
      log::warning(std::string("metrics: cannot read the outbox state: ") + e.what());
    }
    collector_->after_cycle(result, &polled, pipeline_->snapshot(), oldest);
  }

  void report(const pipeline::CycleResult& result, const std::set<std::string>& polled) {
    observe(result, polled);
    next_heartbeat_ = steady::now() + cfg_.heartbeat.interval;
    plan_delivery();
    sd_notify(0, ("STATUS=" + result.progress.line() +
                  (result.ok() ? "" : "; " + std::to_string(result.errors.size()) + " error(s), see the log"))
                     .c_str());
  }

  void reload() {
    reload_ = false;
    try {
      config::Config fresh = config::load(file_, adapters::catalog());
      config::require_edited(fresh);
      if (fresh.metrics.port != cfg_.metrics.port || fresh.metrics.max_pending_age != cfg_.metrics.max_pending_age)
        log::warning("the metrics settings changed; they take effect when the service restarts");
      cfg_ = std::move(fresh);
      build();
      log::notice("configuration reloaded from " + file_.string());
    } catch (const config::ConfigError& e) {
      for (const auto& p : e.problems()) log::error(p.format());
      log::error("the new configuration has problems; keeping the one that is running");
    } catch (const Error& e) {
      log::error(std::string("reload failed, keeping the running configuration: ") + e.what());
    }
  }

  static constexpr std::chrono::seconds kRetryAfterFailure{30};

  // One turn of the loop: the cycle that is due, if any.
  void step() {
    auto now = steady::now();
    std::set<std::string> due;
    for (auto& [name, at] : next_poll_)
      if (at <= now) due.insert(name);
    if (!due.empty()) {
      // Planned before the cycle runs, so a cycle that fails half way does not poll again at once.
      for (const auto& s : cfg_.sources)
        if (due.count(s.name)) next_poll_[s.name] = now + s.poll_interval;
      auto result = pipeline_->run_cycle(stop_, &due);
      for (const auto& s : cfg_.sources)
        if (due.count(s.name)) next_poll_[s.name] = steady::now() + s.poll_interval;
      report(result, due);
    } else if (flush_) {
      flush_ = false;
      log::notice("flush requested: sealing and delivering now, outside the upload window");
      pipeline::CycleOptions now_please;
      now_please.ignore_window = true;
      report(pipeline_->run_cycle(stop_, &due, now_please), due);  // `due` is empty: poll nothing
    } else if (next_delivery_ && now >= *next_delivery_) {
      next_delivery_.reset();
      report(pipeline_->run_cycle(stop_, &due), due);  // `due` is empty: seal and deliver, poll nothing
    } else if (now >= next_heartbeat_) {
      next_heartbeat_ = now + cfg_.heartbeat.interval;
      pipeline_->write_heartbeat();
      plan_delivery();  // an accepted heartbeat may have ended a retry wait
    }
  }

  void loop() {
    touch();
    try {
      build();
    } catch (const Error& e) {
      log::error(e.what());
      failed_ = true;
      on_fatal_();
      return;
    }
    while (!stop_) {
      if (reload_) reload();
      try {
        step();
      } catch (const std::exception& e) {
        // A cycle reports its own failures; this is what escaped it (e.g. the spool could not even be
        // read for the heartbeat). The service stays up and tries again, never a crash loop.
        log::error(std::string("cycle failed: ") + e.what() + "; trying again in " +
                   std::to_string(kRetryAfterFailure.count()) + " s");
        for (auto& [name, at] : next_poll_) at = std::max(at, steady::now() + kRetryAfterFailure);
        next_heartbeat_ = std::max(next_heartbeat_, steady::now() + kRetryAfterFailure);
        next_delivery_.reset();
      }
      touch();
      auto next = next_heartbeat_;
      for (auto& [name, at] : next_poll_) next = std::min(next, at);
      if (next_delivery_) next = std::min(next, *next_delivery_);
      std::unique_lock lock(mutex_);
      // Wake at least every few seconds so the watchdog sees a live worker while idle.
      cv_.wait_until(lock, std::min(next, steady::now() + std::chrono::seconds(5)),
                     [this] { return stop_ || reload_ || flush_; });
    }
  }

  std::filesystem::path file_;
  config::Config cfg_;
  MetricsCollector* collector_;
  std::function<void()> on_fatal_;
  SystemClock clock_;
  std::unique_ptr<pipeline::Pipeline> pipeline_;
  std::map<std::string, steady::time_point> next_poll_;
  std::optional<steady::time_point> next_delivery_;
  steady::time_point next_heartbeat_;
  steady::time_point last_status_{};
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false}, reload_{false}, flush_{false}, failed_{false};
  std::atomic<steady::rep> alive_{0};
};

}  // namespace

int run_service(const std::filesystem::path& file) {
  config::Config cfg;
  try {
    cfg = config::load(file, adapters::catalog());
    config::require_edited(cfg);
  } catch (const config::ConfigError& e) {
    for (const auto& p : e.problems()) log::error(p.format());
    log::error("fix " + file.string() + " (check it with: sennen-edged --check --config " + file.string() + ")");
    return kBadConfig;
  }
  log::notice(std::string("sennen-edged ") + kVersion + " starting for site " + cfg.site.id);
  std::optional<util::InstanceLock> lock;
  try {
    lock = util::InstanceLock::try_acquire(cfg.state_dir);
  } catch (const Error& e) {
    log::error(e.what());
    return kFatal;
  }
  if (!lock) {
    log::error("another sennen-edged already works on " + cfg.state_dir.string() + " (see " +
               (cfg.state_dir / util::kPidFile).string() + "); stop it first");
    return kFatal;
  }

  boost::asio::io_context io;
  // Declared before the worker, so it outlives it (the worker feeds it until joined).
  std::optional<MetricsCollector> collector;
  std::optional<metrics::Server> metrics_server;
  const int metrics_port = cfg.metrics.port;
  const auto max_pending = pipeline::max_pending_age(cfg);
  if (metrics_port) {
    collector.emplace(cfg, unix_now());
    try {
      metrics_server.emplace(io, metrics_port, [&collector, max_pending](std::string_view path) -> metrics::Response {
        const std::int64_t now = unix_now();
        if (path == "/metrics")
          return {200, metrics::kExpositionContentType, metrics::exposition(collector->snapshot(), now)};
        if (path == "/healthz") {
          auto h = metrics::health(collector->snapshot(), max_pending, now);
          return {h.ok ? 200 : 503, "application/json", h.json + "\n"};
        }
        return {404, "text/plain; charset=utf-8", "only /metrics and /healthz are here\n"};
      });
      log::notice("metrics on http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics and /healthz");
    } catch (const Error& e) {
      // Monitoring must not stop the data: run on, and let the missing endpoint be noticed.
      log::error(std::string(e.what()) + "; running without metrics");
      collector.reset();
    }
  }
  Worker worker(file, std::move(cfg), collector ? &*collector : nullptr,
                [&io] { boost::asio::post(io, [&io] { io.stop(); }); });
  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  signals.add(SIGUSR1);  // the constructor takes at most three
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGUSR1) {
        worker.request_flush();
        wait_signal();
        return;
      }
      if (sig == SIGHUP) {
        sd_notify(0, "RELOADING=1");
        worker.request_reload();
        sd_notify(0, "READY=1");
        wait_signal();
        return;
      }
      log::notice("stopping: finishing the current step");
      sd_notify(0, "STOPPING=1");
      worker.request_stop();
      io.stop();
    });
  };
  wait_signal();

  // The watchdog is pinged only while the worker shows progress: a hung worker gets restarted.
  std::uint64_t watchdog_usec = 0;
  boost::asio::steady_timer watchdog(io);
  std::function<void()> ping;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0) {
    auto limit = std::chrono::microseconds(watchdog_usec);
    ping = [&, limit] {
      if (steady::now() - worker.alive() < limit && !worker.failed()) sd_notify(0, "WATCHDOG=1");
      watchdog.expires_after(limit / 3);
      watchdog.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) ping();
      });
    };
    ping();
  }

  worker.start();
  sd_notify(0, "READY=1\nSTATUS=started");
  io.run();
  worker.request_stop();
  worker.join();
  log::notice("stopped");
  return worker.failed() ? kFatal : kOk;
}

}  // namespace sennen::app
