#pragma once
// Typed configuration. Defaults live here, next to each field; config/sennen-edge.yaml documents
// every key. Only daemon/config/*.cpp includes yaml-cpp.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/core/error.hpp"

namespace sennen::config {

using Seconds = std::chrono::seconds;

struct Date {  // a calendar date in the site's time zone
  int year = 0, month = 0, day = 0;
  int days_since_epoch() const;  // days since 1970-01-01 (proleptic Gregorian)
  std::string iso() const;       // "2025-04-01"
  friend bool operator==(const Date&, const Date&) = default;
};

struct Site {
  std::string id;                  // facility code, 10 digits for SS-MIX2 facilities
  std::string name;
  std::string timezone = "Asia/Tokyo";
  int utc_offset_minutes = 9 * 60;  // derived from timezone (fixed-offset zones only)
};

enum class SourceType { ssmix2, ssmix2_extended };

struct Source {
  std::string name;
  SourceType type = SourceType::ssmix2;
  std::string vendor = "generic";  // generic | fujitsu | nec | ssi
  std::vector<std::filesystem::path> roots;
  Seconds poll_interval{60};
  Seconds stable_after{30};
  Seconds full_scan_interval{24 * 3600};  // re-stat every file this often, even in unchanged folders
};

struct Notification {
  Date notice_start;
  int wait_days = 30;
};

struct OptOut {
  std::filesystem::path stop_list;
  std::optional<Notification> notification;
  // A stop list with lines that cannot be read pauses sealing (fail closed) unless this is set.
  bool allow_unreadable_lines = false;
};

enum class DestinationType { local };

struct Destination {
  DestinationType type = DestinationType::local;
  std::filesystem::path path;
};

struct Encryption {
  std::vector<std::filesystem::path> recipients;
  std::filesystem::path signer_cert;
  std::filesystem::path signer_key;
};

struct Batch {
  std::uint64_t max_bytes = 64ull << 20;
  int zstd_level = 3;
};

struct Heartbeat {
  Seconds interval{300};
};

struct Config {
  std::filesystem::path file;  // where it was loaded from
  Site site;
  std::filesystem::path state_dir = "/var/lib/sennen-edge";
  std::vector<Source> sources;
  OptOut optout;
  Destination destination;
  Encryption encryption;
  Batch batch;
  Heartbeat heartbeat;
};

// One problem found while loading: file:line:column, the key, what is wrong, what is expected.
struct Problem {
  std::string file;
  int line = 0;    // 1-based; 0 when not known
  int column = 0;  // 1-based
  std::string key;  // dotted path, e.g. "sources[1].poll_interval"
  std::string message;
  std::string format() const;  // "FILE:LINE:COL: KEY: MESSAGE"
};

// A sennen::Error, so callers that catch the project's one error type also catch this one.
class ConfigError : public sennen::Error {
 public:
  explicit ConfigError(std::vector<Problem> problems);
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  std::vector<Problem> problems_;
};

// Loads and validates the whole file, reporting every problem at once (throws ConfigError).
// Unknown keys are errors. Relative paths are resolved against the config file's directory.
Config load(const std::filesystem::path& file);
Config parse(const std::string& yaml_text, const std::filesystem::path& file_for_messages);

// "60s", "5m", "2h", "1d", or a bare integer number of seconds.
std::optional<Seconds> parse_duration(std::string_view text);
// "64MiB", "1GiB", "500KB", "1048576".
std::optional<std::uint64_t> parse_size(std::string_view text);
// "2025-04-01" (a real calendar date, exactly YYYY-MM-DD).
std::optional<Date> parse_date(std::string_view text);
// Minutes east of UTC for the fixed-offset zones we support: "Asia/Tokyo" (+540), "UTC" and
// "Etc/UTC" (0), "+HH:MM" / "-HH:MM" (from -12:00 to +14:00).
std::optional<int> parse_utc_offset(std::string_view timezone);

}  // namespace sennen::config
