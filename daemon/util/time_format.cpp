#include "daemon/util/time_format.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace sennen::util {
namespace {
std::string format(std::int64_t t, const char* pattern) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, pattern, &tm);
  return buf;
}
}  // namespace

std::string iso8601_utc(std::int64_t t) { return format(t, "%Y-%m-%dT%H:%M:%SZ"); }

std::string iso8601_at_offset(std::int64_t t, int utc_offset_minutes) {
  char zone[8];
  const int m = std::abs(utc_offset_minutes);
  std::snprintf(zone, sizeof zone, "%c%02d:%02d", utc_offset_minutes < 0 ? '-' : '+', m / 60 % 100, m % 60);
  return format(t + std::int64_t{utc_offset_minutes} * 60, "%Y-%m-%dT%H:%M:%S") + zone;
}

std::string iso_date(std::int64_t days_since_epoch) { return format(days_since_epoch * 86400, "%Y-%m-%d"); }

}  // namespace sennen::util
