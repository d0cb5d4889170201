#pragma once
#include <cstdint>
#include <string>

namespace sennen::util {
// "2026-11-25T01:02:03Z"
std::string iso8601_utc(std::int64_t unix_seconds);
// "2026-11-25T10:02:03+09:00": the same instant in a fixed-offset zone (minutes east of UTC).
std::string iso8601_at_offset(std::int64_t unix_seconds, int utc_offset_minutes);
// "2026-11-25": a calendar day counted from 1970-01-01.
std::string iso_date(std::int64_t days_since_epoch);
}  // namespace sennen::util
