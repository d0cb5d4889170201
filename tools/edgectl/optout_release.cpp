// sennen-edgectl optout pending | release | releases: the stop list can only be loosened on
// purpose. An ID that leaves the staff's file stays withheld ("retained") until an operator
// confirms here that its removal is intended; the confirmation, with who, when and why, is kept
// in the spool (gate_releases), written to the journal, and counted in the heartbeat.
#include <pwd.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "daemon/core/patient_id.hpp"
#include "daemon/gate/stop_list.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/spool/spool_reader.hpp"
#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/common.hpp"
#include "tools/edgectl/spool_access.hpp"

namespace sennen::edgectl {
namespace {
using nlohmann::json;

// Who runs this: the sudo caller when run through sudo, else the user itself.
std::string operator_name() {
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo && ::getuid() == 0) return sudo;
  if (const passwd* pw = ::getpwuid(::getuid())) return pw->pw_name;
  return "uid " + std::to_string(::getuid());
}

}  // namespace

int optout_pending(const Common& c) {
  return with_config(c, "optout pending", [&](const config::Config& cfg) {
    spool::SpoolReader r(cfg.state_dir);
    const auto retained = r.retained_stops();
    if (c.json) {
      json out = json::array();
      for (const auto& s : retained)
        out.push_back({{"patient_key", s.patient_key},
                       {"stopped_since", when(s.since)},
                       {"missing_since", when(s.missing_since)}});
      print_json(out);
      return retained.empty() ? 0 : 1;
    }
    if (retained.empty()) {
      std::cout << "no patient ID is waiting for confirmation: every withheld ID is in "
                << cfg.optout.stop_list.string() << "\n";
      return 0;
    }
    std::cout << retained.size() << " patient ID(s) are no longer in " << cfg.optout.stop_list.string()
              << " but are still withheld:\n";
    for (const auto& s : retained)
      std::cout << "  " << s.patient_key << "  on the stop list since " << when(s.since)
                << ", missing from the file since " << when(s.missing_since) << "\n";
    std::cout << "If the file was saved or synced wrongly, put the right file back (sennen-edgectl optout import).\n"
                 "If these patients really withdrew their opt-out, confirm it:\n"
                 "  sennen-edgectl optout release ID... --reason \"what the patient asked, and when\"\n";
    return 1;
  });
}

int optout_release(const Common& c, const std::vector<std::string>& ids, const std::string& reason) {
  if (reason.find_first_not_of(" \t") == std::string::npos) {
    std::cerr << "sennen-edgectl optout release: --reason must say why (it is kept with the release)\n";
    return 2;
  }
  std::vector<std::string> keys;
  for (const auto& id : ids) {
    auto key = canonical_patient_id(id);
    if (!key) {
      std::cerr << "sennen-edgectl optout release: argument " << keys.size() + 1 << " is not a patient ID: it "
                << patient_id_problem(id) << "\n";
      return 2;
    }
    keys.push_back(*key);
  }
  const std::string by = operator_name();  // before becoming the spool's owner
  return with_config(c, "optout release", [&](const config::Config& cfg) {
    // The file as it is now: an ID still in it cannot be released (the daemon would stop it again).
    const gate::StopList file = gate::load_stop_list(cfg.optout.stop_list);
    become_spool_owner(cfg.state_dir);
    { spool::SpoolReader check(cfg.state_dir); }  // exists, this schema; never created here
    spool::Spool spool(cfg.state_dir);
    int refused = 0;
    for (const auto& key : keys) {
      if (file.contains(key)) {
        std::cerr << key << ": not released: it is still in " << cfg.optout.stop_list.string()
                  << "; remove it there first (a release only confirms a removal)\n";
        ++refused;
        continue;
      }
      if (!spool.release_stop(key, by, reason, now_unix())) {
        std::cerr << key << ": not released: it is not on the stop list\n";
        ++refused;
        continue;
      }
      sd_journal_send("MESSAGE=stop list: patient %s released by %s: %s", key.c_str(), by.c_str(), reason.c_str(),
                      "PRIORITY=5", "SYSLOG_IDENTIFIER=sennen-edgectl", "SENNEN_PATIENT_KEY=%s", key.c_str(),
                      "SENNEN_RELEASED_BY=%s", by.c_str(), nullptr);
      std::cout << key << ": released (by " << by << "); the daemon sends this patient's records again from its next "
                << "cycle\n";
    }
    return refused ? 1 : 0;
  });
}

int optout_releases(const Common& c) {
  return with_config(c, "optout releases", [&](const config::Config& cfg) {
    spool::SpoolReader r(cfg.state_dir);
    const auto releases = r.releases();
    if (c.json) {
      json out = json::array();
      for (const auto& x : releases)
        out.push_back({{"patient_key", x.patient_key},
                       {"stopped_since", when(x.stopped_since)},
                       {"missing_since", when(x.missing_since)},
                       {"released_at", when(x.released_at)},
                       {"released_by", x.released_by},
                       {"reason", x.reason}});
      print_json(out);
      return 0;
    }
    if (releases.empty()) std::cout << "no patient ID has been released from the stop list\n";
    for (const auto& x : releases)
      std::cout << when(x.released_at) << "  " << x.patient_key << "  released by " << x.released_by << ": " << x.reason
                << " (on the stop list since " << when(x.stopped_since) << ")\n";
    return 0;
  });
}

}  // namespace sennen::edgectl
