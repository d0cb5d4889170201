#pragma once
// Typed configuration. Defaults live here, next to each field; config/sennen-edge.yaml documents
// every key. Only daemon/config/*.cpp includes yaml-cpp.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/config/catalog.hpp"
#include "daemon/core/time_window.hpp"
#include "daemon/util/error.hpp"

namespace sennen::config {

using Seconds = std::chrono::seconds;

struct Date {  // a calendar date in the site's time zone
  int year = 0, month = 0, day = 0;
  int days_since_epoch() const;  // days since 1970-01-01 (proleptic Gregorian)
  std::string iso() const;       // "2025-04-01"
  friend bool operator==(const Date&, const Date&) = default;
};

struct Site {
  std::string id;  // facility code, 10 digits for SS-MIX2 facilities
  std::string name;
  std::string timezone = "Asia/Tokyo";
  int utc_offset_minutes = 9 * 60;  // derived from timezone (fixed-offset zones only)
};

// A source: what every type shares, and its type's own options (adapters/sources/<type>/options.hpp).
struct Source {
  std::string name;
  std::string type;  // a type of the catalog, as written: "ssmix2", "dicom-scp", ...
  Seconds poll_interval{60};
  std::shared_ptr<const SourceOptions> options;
  // The options as their adapter's type (the adapter knows it is one of its own).
  template <typename T>
  const T& options_as() const {
    return dynamic_cast<const T&>(*options);
  }
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
  // A part of a many-patient file that names no patient the gate can check (a UKE claim without a
  // chart number, a DPC row whose データ識別番号 is not in dpc_id_map) is withheld unless this is set.
  bool send_unattributed = false;
};

// Where batches go: the type, and its own options (adapters/destinations/<type>/options.hpp).
struct Destination {
  std::string type;  // "local", "https", "s3"
  std::shared_ptr<const DestinationOptions> options;
  template <typename T>
  const T& options_as() const {
    return dynamic_cast<const T&>(*options);
  }
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

// Flow control: nothing is dropped when the central side stops accepting batches; instead the
// stages ahead of it pause. Sealing pauses while the outbox (sealed batches not yet delivered)
// holds outbox_max_bytes or more; intake (source polls) pauses while the spool's record content
// (ready plus sealed-not-delivered) holds spool_max_bytes or more. Both resume by themselves once
// deliveries make room.
struct Limits {
  std::uint64_t spool_max_bytes = 20ull << 30;
  std::uint64_t outbox_max_bytes = 4ull << 30;
};

// A daily time range in the schedule's time zone (daemon/core/time_window.hpp).
using sennen::TimeWindow;

// When and how fast batches may be uploaded. Heartbeats are sent whatever the schedule says.
struct Schedule {
  std::string timezone;                          // empty: the site's time zone
  int utc_offset_minutes = 9 * 60;               // from timezone, or the site's when not given
  std::optional<TimeWindow> upload_window;       // none: any time of day
  std::uint64_t bandwidth_bytes_per_second = 0;  // 0: no limit
};

// Prometheus metrics and /healthz on 127.0.0.1 (daemon/metrics). Off unless a port is given.
struct Metrics {
  int port = 0;  // 0: off
  // /healthz answers 503 when the oldest record or batch waiting to leave is older than this.
  // None: derived from the schedule (daemon/metrics/health.hpp, max_pending_age).
  std::optional<Seconds> max_pending_age;
};

// One problem found while loading: file:line:column, the key, what is wrong, what is expected.
struct Problem {
  std::string file;
  int line = 0;     // 1-based; 0 when not known
  int column = 0;   // 1-based
  std::string key;  // dotted path, e.g. "sources[1].poll_interval"
  std::string message;
  std::string format() const;  // "FILE:LINE:COL: KEY: MESSAGE"
};

// A file (not a folder) the configuration names, with where its value is written, so that a
// problem found in the file itself (sennen-edged --check opens and parses each) points at the
// line that names it, like any other problem of the configuration.
struct NamedFile {
  std::filesystem::path path;
  Problem at;  // file, line, column and key ("encryption.recipients[1]"); message empty
  Problem problem(std::string message) const {
    Problem p = at;
    p.message = std::move(message);
    return p;
  }
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
  Limits limits;  // config keys spool.max_bytes and outbox.max_bytes
  Schedule schedule;
  Metrics metrics;
  // Every file named by the keys read: encryption.*, optout.stop_list, destination.tls.* and
  // destination.access_key_file.
  std::vector<NamedFile> files;
  // Values that are valid but still the shipped placeholders (e.g. site.id "0000000000"). Loading
  // succeeds so tools can read the shipped file; require_edited() refuses to run with them.
  std::vector<Problem> placeholders;
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
// Unknown keys are errors. Relative paths are resolved against the config file's directory. The
// catalog (adapters::catalog()) says which source and destination types exist and reads their keys.
Config load(const std::filesystem::path& file, const Catalog& catalog);
Config parse(const std::string& yaml_text, const std::filesystem::path& file_for_messages, const Catalog& catalog);

// The site id in the shipped config/sennen-edge.yaml, which every installation must replace.
inline constexpr std::string_view kPlaceholderSiteId = "0000000000";

// Throws ConfigError listing cfg.placeholders, if any: a freshly installed box then says which
// line to edit (sennen-edged exits 2 at start; --check says the same) instead of running as a fake site.
void require_edited(const Config& cfg);

// "60s", "5m", "2h", "1d", or a bare integer number of seconds.
std::optional<Seconds> parse_duration(std::string_view text);
// "64MiB", "1GiB", "500KB", "1048576".
std::optional<std::uint64_t> parse_size(std::string_view text);
// "2025-04-01" (a real calendar date, exactly YYYY-MM-DD).
std::optional<Date> parse_date(std::string_view text);
// Minutes east of UTC for the fixed-offset zones we support: "Asia/Tokyo" (+540), "UTC" and
// "Etc/UTC" (0), "+HH:MM" / "-HH:MM" (from -12:00 to +14:00).
std::optional<int> parse_utc_offset(std::string_view timezone);
// "01:00-05:00", "22:00-05:00" (wraps past midnight), "00:00-24:00". Start and end must differ;
// a window covering the whole day is returned as is (the caller treats it as "always").
std::optional<TimeWindow> parse_time_window(std::string_view text);
// A network rate in bits per second, returned in bytes per second (rounded down, at least 1):
// "50Mbit", "50M", "800kbit", "1Gbit", "2G" (k/M/G are decimal: 1M = 1,000,000 bit/s). A bare
// number is refused: bits or bytes would be a guess.
std::optional<std::uint64_t> parse_bandwidth(std::string_view text);

}  // namespace sennen::config
