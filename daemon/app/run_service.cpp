// The long-lived service. The main thread runs a Boost.Asio event loop for signals, the systemd
// watchdog and status; pipeline cycles run on one worker thread, so a long ingest never delays
// a signal or a watchdog ping. SIGTERM stops at the next safe point (a committed chunk) and exits;
// SIGHUP reloads the config between cycles, keeping the old one if the new one is invalid.
#include <systemd/sd-daemon.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "daemon/app/service.hpp"
#include "daemon/config/config.hpp"
#include "daemon/core/error.hpp"
#include "daemon/pipeline/pipeline.hpp"
#include "daemon/util/log.hpp"
#include "sennen/version.hpp"

namespace sennen::app {
namespace {
using steady = std::chrono::steady_clock;

class Worker {
 public:
  Worker(std::filesystem::path file, config::Config cfg, std::function<void()> on_fatal)
      : file_(std::move(file)), cfg_(std::move(cfg)), on_fatal_(std::move(on_fatal)) {}

  void start() { thread_ = std::thread([this] { loop(); }); }
  void request_stop() {
    stop_ = true;
    wake();
  }
  void request_reload() {
    reload_ = true;
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
    pipeline_ = std::make_unique<pipeline::Pipeline>(cfg_, clock_, [this](const pipeline::Progress& p) { status(p.line()); });
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

  void report(const pipeline::CycleResult& result) {
    next_heartbeat_ = steady::now() + cfg_.heartbeat.interval;
    plan_delivery();
    sd_notify(0, ("STATUS=" + result.progress.line() +
                  (result.ok() ? "" : "; " + std::to_string(result.errors.size()) + " error(s), see the log"))
                     .c_str());
  }

  void reload() {
    reload_ = false;
    try {
      config::Config fresh = config::load(file_);
      config::require_edited(fresh);
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
      auto now = steady::now();
      std::set<std::string> due;
      for (auto& [name, at] : next_poll_)
        if (at <= now) due.insert(name);
      if (!due.empty()) {
        auto result = pipeline_->run_cycle(stop_, &due);
        for (const auto& s : cfg_.sources)
          if (due.count(s.name)) next_poll_[s.name] = steady::now() + s.poll_interval;
        report(result);
      } else if (next_delivery_ && now >= *next_delivery_) {
        report(pipeline_->run_cycle(stop_, &due));  // `due` is empty: seal and deliver, poll nothing
      } else if (now >= next_heartbeat_) {
        pipeline_->write_heartbeat();
        next_heartbeat_ = now + cfg_.heartbeat.interval;
      }
      touch();
      auto next = next_heartbeat_;
      for (auto& [name, at] : next_poll_) next = std::min(next, at);
      if (next_delivery_) next = std::min(next, *next_delivery_);
      std::unique_lock lock(mutex_);
      // Wake at least every few seconds so the watchdog sees a live worker while idle.
      cv_.wait_until(lock, std::min(next, steady::now() + std::chrono::seconds(5)), [this] { return stop_ || reload_; });
    }
  }

  std::filesystem::path file_;
  config::Config cfg_;
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
  std::atomic<bool> stop_{false}, reload_{false}, failed_{false};
  std::atomic<steady::rep> alive_{0};
};

}  // namespace

int run_service(const std::filesystem::path& file) {
  config::Config cfg;
  try {
    cfg = config::load(file);
    config::require_edited(cfg);
  } catch (const config::ConfigError& e) {
    for (const auto& p : e.problems()) log::error(p.format());
    log::error("fix " + file.string() + " (check it with: sennen-edged --check --config " + file.string() + ")");
    return kBadConfig;
  }
  log::notice(std::string("sennen-edged ") + kVersion + " starting for site " + cfg.site.id);

  boost::asio::io_context io;
  Worker worker(file, std::move(cfg), [&io] { boost::asio::post(io, [&io] { io.stop(); }); });
  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
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
