#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <set>

#include "adapters/registry/registry.hpp"
#include "daemon/app/check_files.hpp"
#include "daemon/util/instance_lock.hpp"
#include "daemon/app/service.hpp"
#include "daemon/config/config.hpp"
#include "daemon/util/error.hpp"
#include "daemon/pipeline/pipeline.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/name_text.hpp"

namespace sennen::app {
namespace {

std::atomic<bool> g_interrupted{false};  // set only by the signal handler below
extern "C" void on_signal(int) { g_interrupted = true; }

std::optional<config::Config> load_or_report(const std::filesystem::path& file) {
  try {
    auto cfg = config::load(file, adapters::catalog());
    config::require_edited(cfg);  // the shipped placeholder site id is not runnable
    return cfg;
  } catch (const config::ConfigError& e) {
    for (const auto& p : e.problems()) std::cerr << p.format() << "\n";
    std::cerr << "sennen-edged: " << e.problems().size() << " problem(s) in " << file.string() << "\n";
    return std::nullopt;
  }
}

}  // namespace

int check_config(const std::filesystem::path& file) {
  auto cfg = load_or_report(file);
  if (!cfg) return kBadConfig;
  FileCheck files = check_files(*cfg, SystemClock().now());
  for (std::size_t i = 0; i < cfg->sources.size(); ++i)  // what a source's keys name beyond files (an index DB)
    for (const auto* kind : adapters::source_kinds())
      if (kind->config.name == cfg->sources[i].type && kind->check)
        for (const auto& why : kind->check(cfg->sources[i]))
          files.problems.push_back({file.string(), 0, 0, "sources[" + std::to_string(i) + "]",
                                    "source " + cfg->sources[i].name + ": " + why});
  for (const auto& w : files.warnings) std::cerr << w.format() << "\n";
  if (::geteuid() == 0)
    std::cerr << "note: run as root, every file was opened as root; the service runs as its own user "
                 "(sennen-edge when installed from the package): sennen-edgectl doctor checks that user's access, "
                 "or run this check as it (runuser -u sennen-edge -- sennen-edged --check --config "
              << file.string() << ")\n";
  if (!files.problems.empty()) {
    for (const auto& p : files.problems) std::cerr << p.format() << "\n";
    std::cerr << "sennen-edged: " << files.problems.size() << " problem(s) in " << file.string() << "\n";
    return kBadConfig;
  }
  std::cout << file.string() << ": OK (" << cfg->sources.size() << " source(s), destination "
            << cfg->destination.options->describe() << ")\n";
  return kOk;
}

namespace {

// One cycle outside the upload window, polling `only` (null: every source), reported on stdout.
int one_cycle(const std::filesystem::path& file, const std::set<std::string>* only, const std::string& label) {
  auto cfg = load_or_report(file);
  if (!cfg) return kBadConfig;
  std::optional<util::InstanceLock> lock;
  try {
    lock = util::InstanceLock::try_acquire(cfg->state_dir);
  } catch (const Error& e) {
    log::error(e.what());
    return kFatal;
  }
  if (!lock) {
    std::cerr << label << ": sennen-edged is running on " << cfg->state_dir.string()
              << "; stop it first, or use sennen-edgectl flush\n";
    return kFatal;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const bool tty = ::isatty(STDERR_FILENO);
  try {
    SystemClock clock;
    pipeline::Adapters parts{adapters::make_sources(*cfg), adapters::make_destination(*cfg),
                             adapters::content_filters(*cfg)};
    pipeline::Pipeline p(std::move(*cfg), clock, std::move(parts), [tty](const pipeline::Progress& pr) {
      if (tty) std::fprintf(stderr, "\r\033[K%s", pr.line().c_str());
    });
    pipeline::CycleOptions options;
    options.ignore_window = true;  // the operator asked for a cycle now
    auto result = p.run_cycle(g_interrupted, only, options);
    if (tty) std::fprintf(stderr, "\r\033[K");
    std::cout << label << ": " << result.progress.line() << "\n";
    if (result.quarantined)
      std::cout << "  quarantined " << result.quarantined << " file(s); see " << p.config().state_dir.string()
                << "/quarantine and the log above\n";
    for (const auto& e : result.errors) std::cout << "  error: " << util::one_line(e) << "\n";
    if (g_interrupted) {
      std::cout << "  interrupted: stopped at a safe point; run again to continue\n";
      return kCycleFailed;
    }
    return result.ok() ? kOk : kCycleFailed;
  } catch (const Error& e) {
    log::error(e.what());
    return kFatal;
  }
}

}  // namespace

int run_once(const std::filesystem::path& file) { return one_cycle(file, nullptr, "sennen-edged --once"); }

int deliver_now(const std::filesystem::path& file) {
  const std::set<std::string> no_sources;
  return one_cycle(file, &no_sources, "deliver now");
}

}  // namespace sennen::app
