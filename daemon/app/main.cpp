// sennen-edged: parses the command line and hands over to daemon/app/service.hpp.
#include <CLI/CLI.hpp>

#include "adapters/destinations/https/https_destination.hpp"
#include "daemon/app/service.hpp"
#include "daemon/util/log.hpp"
#include "sennen/version.hpp"

int main(int argc, char** argv) {
  // libcurl's one process-wide initialisation, first of all: it is not thread-safe, so it must
  // run before the service starts any thread, and it lives until main returns.
  sennen::destinations::HttpsGlobalInit curl_global;
  CLI::App cli{"sennen-edged: the 千年カルテ edge appliance daemon (SS-MIX2 -> opt-out gate -> sealed batches)"};
  std::string config = "/etc/sennen-edge/sennen-edge.yaml";
  bool once = false, check = false, deliver_now = false;
  std::string level = "info";
  cli.add_option("--config,-c", config, "configuration file")->capture_default_str();
  cli.add_flag("--once", once, "run one complete cycle (poll, gate, seal, deliver, heartbeat) and exit");
  cli.add_flag("--check", check, "validate the configuration and exit");
  cli.add_flag("--deliver-now", deliver_now,
               "seal and deliver what the spool holds now, ignoring the upload window and polling no source, "
               "then exit (what `sennen-edgectl flush` runs when no sennen-edged runs)");
  cli.add_option("--log-level", level,
                 "error, warning, notice, info or debug (debug adds a line as each step of a cycle begins)")
      ->capture_default_str()
      ->check([](const std::string& v) { return sennen::log::level_named(v) ? "" : "not a log level: " + v; });
  cli.set_version_flag("--version", std::string("sennen-edged ") + sennen::kVersion);
  CLI11_PARSE(cli, argc, argv);
  sennen::log::set_max_level(*sennen::log::level_named(level));
  if (check) return sennen::app::check_config(config);
  if (once) return sennen::app::run_once(config);
  if (deliver_now) return sennen::app::deliver_now(config);
  return sennen::app::run_service(config);
}
