#pragma once
// A config with two sources and the pipeline's view after a cycle, for the metrics tests.
#include <string>

#include "daemon/config/config.hpp"
#include "tests/support/configuration.hpp"
#include "daemon/telemetry/heartbeat.hpp"

namespace sennen::metrics::test {

inline config::Config two_sources(const std::string& extra = "") {
  return sennen::test::parse(
      "site: {id: \"1312345678\"}\n"
      "state_dir: /var/lib/sennen-edge\n"
      "sources:\n"
      "  - {name: emr, type: ssmix2, root: /srv/std, poll_interval: 60s}\n"
      "  - {name: ext, type: ssmix2-extended, root: /srv/ext, poll_interval: 10m}\n"
      "optout: {stop_list: /etc/sennen-edge/optout.csv}\n"
      "destination: {type: local, path: /srv/export}\n"
      "encryption: {recipients: [/c.crt], signer_cert: /s.crt, signer_key: /s.key}\n" +
          extra,
      "m.yaml");
}

inline telemetry::SourceStatus polled(const std::string& name, std::int64_t at, std::uint64_t files,
                                      std::uint64_t ingested, std::uint64_t bytes, std::uint64_t quarantined,
                                      const std::string& error = "") {
  telemetry::SourceStatus s;
  s.name = name;
  s.last_poll = at;
  s.last_success = error.empty() ? at : 0;
  s.stats.files_seen = files;
  s.stats.ingested = ingested;
  s.stats.bytes = bytes;
  s.stats.quarantined = quarantined;
  s.last_error = error;
  return s;
}

}  // namespace sennen::metrics::test
