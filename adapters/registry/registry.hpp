#pragma once
// The one table of adapters: every source and destination type the daemon knows, each defined in
// its own folder (adapters/kind.hpp). A new adapter is a folder and one line in registry.cpp.
#include <memory>
#include <vector>

#include "adapters/kind.hpp"
#include "daemon/config/catalog.hpp"
#include "daemon/config/config.hpp"
#include "daemon/core/content_filter.hpp"
#include "daemon/core/destination.hpp"
#include "daemon/core/source.hpp"

namespace sennen::adapters {

const std::vector<const SourceKind*>& source_kinds();
const std::vector<const DestinationKind*>& destination_kinds();

// What config::load() needs to read every adapter's keys.
const config::Catalog& catalog();

std::vector<std::unique_ptr<Source>> make_sources(const config::Config& config);
std::unique_ptr<Destination> make_destination(const config::Config& config);
// The content filters of records that hold many patients, by name (daemon/core/content_filter.hpp).
ContentFilters content_filters(const config::Config& config);

}  // namespace sennen::adapters
