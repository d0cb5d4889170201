// sennen-edgectl flush: seal and deliver what is waiting now, outside the upload window.
//
// When sennen-edged runs on this state_dir (it holds state_dir/sennen-edged.pid locked), it gets
// SIGUSR1 and runs a deliver-only cycle itself at once; its log and `status` show the result.
// When none runs, `sennen-edged --deliver-now` runs that cycle (as the spool's owner), polling no
// source, and its result decides the exit status. Either way nothing else changes: a failed delivery is retried as
// usual.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <iostream>

#include "daemon/util/fd.hpp"
#include "daemon/util/instance_lock.hpp"
#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/common.hpp"
#include "tools/edgectl/sibling.hpp"
#include "tools/edgectl/spool_access.hpp"

namespace sennen::edgectl {

int flush(const Common& c) {
  auto cfg = load_config(c.config);
  if (!cfg) return 2;
  if (::access(cfg->state_dir.c_str(), X_OK) != 0 && errno != ENOENT) {  // cannot tell whether it runs
    std::cerr << "sennen-edgectl flush: cannot look into " << cfg->state_dir.string() << ": " << util::errno_text(errno)
              << " (run as root or as the service user)\n";
    return 2;
  }
  if (auto pid = util::lock_holder(cfg->state_dir)) {
    if (::kill(*pid, SIGUSR1) != 0) {
      std::cerr << "sennen-edgectl flush: cannot signal sennen-edged (pid " << *pid << "): " << util::errno_text(errno)
                << " (run as root or as the service user)\n";
      return 2;
    }
    std::cout << "asked sennen-edged (pid " << *pid
              << ") to seal and deliver now; see its log or sennen-edgectl status for the result\n";
    return 0;
  }
  std::error_code ec;
  if (!std::filesystem::exists(cfg->state_dir / "spool.db", ec)) {  // never create a spool here (as root)
    std::cout << "nothing to deliver: sennen-edged never ran on " << cfg->state_dir.string() << "\n";
    return 0;
  }
  std::cout << "sennen-edged is not running on " << cfg->state_dir.string() << ": delivering from here\n";
  try {
    become_spool_owner(cfg->state_dir);
  } catch (const std::exception& e) {
    std::cerr << "sennen-edgectl flush: " << e.what() << "\n";
    return 2;
  }
  const std::string daemon = sibling_program("sennen-edged", "SENNEN_EDGED");
  const int rc = run_program({daemon, "--deliver-now", "--config", c.config.string()});
  if (rc == 127) {
    std::cerr << "sennen-edgectl flush: could not run " << daemon
              << " (install sennen-edge, or set SENNEN_EDGED to its path)\n";
    return 2;
  }
  // sennen-edged: 0 ok, 1 the cycle failed, 2 bad configuration, 3 fatal (daemon/app/service.hpp).
  return rc == 0 ? 0 : rc == 1 ? 1 : 2;
}

}  // namespace sennen::edgectl
