#pragma once
// The one table from configuration to adapters: source types and destination types.
#include <memory>
#include <vector>

#include "daemon/config/config.hpp"
#include "daemon/core/destination.hpp"
#include "daemon/core/source.hpp"

namespace sennen::adapters {

std::vector<std::unique_ptr<Source>> make_sources(const config::Config& config);
std::unique_ptr<Destination> make_destination(const config::Config& config);

}  // namespace sennen::adapters
