#pragma once
// sennen-edged --check, beyond the YAML: every file the configuration names (Config::files) must
// exist, be readable by the user running the check, and parse as what it is for: the sealing
// certificates and key (batcher::SealingKeys), the destination's TLS files and S3 key file, the
// stop list. Each problem points at the value in the configuration that names the file.
#include <vector>

#include "daemon/config/config.hpp"
#include "daemon/core/clock.hpp"

namespace sennen::app {

struct FileCheck {
  std::vector<config::Problem> problems;  // each fails --check; in file order
  // Reported, not a failure: stop-list lines that cannot be read while
  // optout.allow_unreadable_lines allows them.
  std::vector<config::Problem> warnings;
};

// `now`: when certificates must be valid.
FileCheck check_files(const config::Config& cfg, TimePoint now);

}  // namespace sennen::app
