#pragma once
// The Prometheus text exposition format (version 0.0.4) of a snapshot: every metric named
// sennen_*, with HELP and TYPE lines. Ages are computed against `now` (unix seconds).
#include <cstdint>
#include <string>

#include "daemon/metrics/snapshot.hpp"

namespace sennen::metrics {

inline constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string exposition(const Snapshot& s, std::int64_t now);

// A label value as the format wants it: backslash, double quote and newline escaped.
std::string escape_label(const std::string& value);

}  // namespace sennen::metrics
