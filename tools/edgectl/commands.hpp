#pragma once
// The subcommands of sennen-edgectl. Each returns the process exit status:
//   0 fine, 1 the check found a problem (doctor fail, unreadable stop-list lines, bad batch),
//   2 the command itself could not run (config invalid, no spool, unreadable file).
#include <filesystem>
#include <string>

namespace sennen::edgectl {

inline constexpr const char* kDefaultConfig = "/etc/sennen-edge/sennen-edge.yaml";
inline constexpr const char* kServiceUser = "sennen-edge";

struct Common {
  std::filesystem::path config = kDefaultConfig;
  bool json = false;
};

int status(const Common& c);
int doctor(const Common& c, const std::string& service_user);
// show_ids: also list the canonical IDs (never other columns).
int optout_check(const std::filesystem::path& file, bool json, bool show_ids);
int queue(const Common& c);
int quarantine_list(const Common& c);
int audit(const Common& c, const std::string& patient_id);

struct VerifyArgs {
  std::filesystem::path file, key, cert, ca;
  bool json = false;
};
int verify_batch(const VerifyArgs& a);

}  // namespace sennen::edgectl
