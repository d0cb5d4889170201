#pragma once
// The subcommands of sennen-edgectl. Each returns the process exit status:
//   0 fine, 1 the check found a problem (doctor fail, unreadable stop-list lines, bad batch),
//   2 the command itself could not run (config invalid, no spool, unreadable file).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

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
// The configured stop list (optout.stop_list), as optout_check shows a file.
int optout_list(const Common& c, bool show_ids);
// Checks FILE and installs it atomically as optout.stop_list; refuses unreadable lines unless forced.
int optout_import(const Common& c, const std::filesystem::path& file, bool force);
// IDs that left the stop-list file and stay withheld until released (exit 1 when there are any).
int optout_pending(const Common& c);
// Confirms that IDs which left the file may be sent again; refused for IDs still in the file.
int optout_release(const Common& c, const std::vector<std::string>& ids, const std::string& reason);
// The releases made, newest first: when, who, why.
int optout_releases(const Common& c);
int queue(const Common& c);
int quarantine_list(const Common& c);
// content: print the quarantined copy itself (it may hold patient data) instead of the entry.
int quarantine_show(const Common& c, std::int64_t id, bool content);
// id: one entry; nullopt: all of them.
int quarantine_retry(const Common& c, std::optional<std::int64_t> id);
// Seal and deliver now, outside the upload window: SIGUSR1 to the running sennen-edged, or one
// deliver-only cycle here when none runs.
int flush(const Common& c);
int audit(const Common& c, const std::string& patient_id);
// What the batch with sequence number `seq` held (source, event, kind, path, size, sha256 of each
// record; no content): a gap sennen-restore reports names a sequence number.
int batch_show(const Common& c, std::int64_t seq);
// Has the next poll read again, from the export trees, the files the delivered batch with sequence
// `seq` held, so they leave in a new batch (exit 1 when some records' sources cannot read again).
int resend(const Common& c, std::int64_t seq);

struct VerifyArgs {
  std::filesystem::path file, key, cert, ca;
  bool json = false;
};
int verify_batch(const VerifyArgs& a);

struct DrillArgs {
  std::filesystem::path work;  // the temporary folder goes below this (default: $TMPDIR or /tmp)
  int patients = 24;
  bool keep = false;  // keep the temporary folder after a PASS too (a FAIL always keeps it)
  bool json = false;
};
// The restore drill on a synthetic hospital in a temporary folder (never the site's own data):
// 0 PASS, 1 FAIL (the restored tree differs, or sennen-restore found a gap or refused a batch),
// 2 a step could not run.
int drill(const DrillArgs& a);
struct SurveyArgs {
  std::vector<std::filesystem::path> roots;
  std::filesystem::path vendor_profiles;
  std::size_t examples = 5;
  bool json = false;
  bool suggest_config_only = false;
  bool cross_filesystems = false;
};
// What SS-MIX2 trees really are (read-only); exit 2 when a root cannot be read.
int survey_tree(const SurveyArgs& a);

}  // namespace sennen::edgectl
