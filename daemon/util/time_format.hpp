#pragma once
#include <cstdint>
#include <string>

namespace sennen::util {
// "2026-11-25T01:02:03Z"
std::string iso8601_utc(std::int64_t unix_seconds);
}  // namespace sennen::util
