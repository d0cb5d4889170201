#pragma once
// What an adapter gives the registry (adapters/registry): how the configuration names and reads
// its keys (daemon/config/catalog.hpp) and how it is built. Each adapter folder defines its kind;
// the registry's table lists them, so a new adapter is one folder and one line there.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "daemon/config/catalog.hpp"
#include "daemon/config/config.hpp"
#include "daemon/core/content_filter.hpp"
#include "daemon/core/destination.hpp"
#include "daemon/core/source.hpp"

namespace sennen::adapters {

// What `sennen-edgectl doctor` is told by an adapter about its own setup and its peer.
struct Finding {
  enum class Level { pass, warn, fail, info } level;
  std::string name;     // e.g. "DICOM peer pacs"
  std::string message;  // what was found; on warn/fail, what to do
};
using Findings = std::vector<Finding>;

struct SourceKind {
  config::SourceType config;
  std::function<std::unique_ptr<Source>(const config::Source& source, const config::Config& config)> build;
  // Checks beyond the access to its folders (which doctor checks for every source); may be empty.
  std::function<void(const config::Source& source, const config::Config& config, Findings& out)> probe;
  // Adds the content filters its records of many patients need when they are sealed
  // (daemon/core/content_filter.hpp), by the patient key those records carry; may be empty.
  std::function<void(const config::Source& source, const config::Config& config, ContentFilters& out)> filters;
  // What `sennen-edged --check` must refuse beyond the files and folders the keys name (e.g. an
  // index DB that cannot be queried): one actionable message each; may be empty.
  std::function<std::vector<std::string>(const config::Source& source)> check;
};

struct DestinationKind {
  config::DestinationType config;
  std::function<std::unique_ptr<Destination>(const config::Config& config)> build;
  // Opens and parses one of the files its keys name (config::Config::files, keys
  // "destination.*"), as the destination will use it; throws sennen::Error saying what is wrong.
  // Empty: nothing beyond being readable (sennen-edged --check).
  std::function<void(const config::Config& config, const config::NamedFile& file)> check_file;
  // Checks beyond check_file and the destination's own Destination::check_access(); may be empty.
  std::function<void(const config::Config& config, Findings& out)> probe;
};

}  // namespace sennen::adapters
