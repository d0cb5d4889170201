// Scalar value syntax shared by the loader and anyone else who reads operator input: durations,
// sizes, dates and fixed UTC offsets. Strict on purpose: a value we would have to guess at is
// rejected, and the loader's message tells the operator how to write it.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>

#include "daemon/config/config.hpp"

namespace sennen::config {
namespace {

// Splits "64 MiB" into 64 and "MiB". The number must be plain decimal digits; spaces between the
// number and the unit are allowed, anything else (sign, decimal point, trailing junk) is not.
struct NumberAndUnit {
  std::uint64_t number = 0;
  std::string_view unit;
};

std::optional<NumberAndUnit> split_number(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  NumberAndUnit out;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, out.number);
  if (ec != std::errc() || ptr != text.data() + digits) return std::nullopt;  // too large
  std::size_t unit_start = digits;
  while (unit_start < text.size() && text[unit_start] == ' ') ++unit_start;
  out.unit = text.substr(unit_start);
  // "64 " (a space and no unit) is almost certainly a typo; refuse rather than guess.
  if (out.unit.empty() && unit_start != digits) return std::nullopt;
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::optional<std::uint64_t> checked_multiply(std::uint64_t a, std::uint64_t b) {
  if (b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b) return std::nullopt;
  return a * b;
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar, counted in 400-year eras
// (146097 days each) starting on 1 March so the leap day falls at the end of the year.
long days_from_civil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const long year_of_era = y - era * 400;
  const long day_of_year = (153L * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const long day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

}  // namespace

int Date::days_since_epoch() const { return static_cast<int>(days_from_civil(year, month, day)); }

std::string Date::iso() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
  return buf;
}

std::optional<Seconds> parse_duration(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  std::uint64_t scale = 0;
  // Units are lower-case only: "5M" could be read as months by someone, so it is refused.
  if (parts->unit.empty() || parts->unit == "s")
    scale = 1;
  else if (parts->unit == "m")
    scale = 60;
  else if (parts->unit == "h")
    scale = 3600;
  else if (parts->unit == "d")
    scale = 86400;
  else
    return std::nullopt;
  auto seconds = checked_multiply(parts->number, scale);
  // Anything beyond ~292 billion years overflows chrono::seconds' rep; refuse well before that.
  if (!seconds || *seconds > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 1000))
    return std::nullopt;
  return Seconds(static_cast<Seconds::rep>(*seconds));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  struct Unit {
    std::string_view name;
    std::uint64_t scale;
  };
  // KB/MB/GB are decimal (SI, 1000-based) and KiB/MiB/GiB binary (1024-based), as written in the
  // docs; both are accepted so staff can copy what their tools show. Case is ignored ("64mib").
  static constexpr Unit kUnits[] = {
      {"", 1},
      {"B", 1},
      {"KB", 1000ull},
      {"MB", 1000ull * 1000},
      {"GB", 1000ull * 1000 * 1000},
      {"TB", 1000ull * 1000 * 1000 * 1000},
      {"KiB", 1ull << 10},
      {"MiB", 1ull << 20},
      {"GiB", 1ull << 30},
      {"TiB", 1ull << 40},
  };
  for (const auto& unit : kUnits)
    if (iequals(parts->unit, unit.name)) return checked_multiply(parts->number, unit.scale);
  return std::nullopt;
}

std::optional<Date> parse_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto number = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    int value = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  auto y = number(0, 4), m = number(5, 2), d = number(8, 2);
  if (!y || !m || !d || *y < 1 || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m)) return std::nullopt;
  return Date{*y, *m, *d};
}

std::optional<int> parse_utc_offset(std::string_view tz) {
  // Named zones are limited to ones without daylight saving time, so a fixed offset is exact.
  if (tz == "Asia/Tokyo") return 9 * 60;
  if (tz == "UTC" || tz == "Etc/UTC") return 0;
  if (tz.size() != 6 || (tz[0] != '+' && tz[0] != '-') || tz[3] != ':') return std::nullopt;
  for (std::size_t i : {1u, 2u, 4u, 5u})
    if (tz[i] < '0' || tz[i] > '9') return std::nullopt;
  const int hours = (tz[1] - '0') * 10 + (tz[2] - '0');
  const int minutes = (tz[4] - '0') * 10 + (tz[5] - '0');
  if (minutes > 59) return std::nullopt;
  const int total = (tz[0] == '-' ? -1 : 1) * (hours * 60 + minutes);
  if (total < -12 * 60 || total > 14 * 60) return std::nullopt;  // the offsets in use on Earth
  return total;
}

std::optional<TimeWindow> parse_time_window(std::string_view text) {
  // Exactly "HH:MM-HH:MM"; 24:00 only as the end.
  if (text.size() != 11 || text[2] != ':' || text[5] != '-' || text[8] != ':') return std::nullopt;
  auto minute_of_day = [&](std::size_t pos) -> std::optional<int> {
    for (std::size_t i : {pos, pos + 1, pos + 3, pos + 4})
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
    const int h = (text[pos] - '0') * 10 + (text[pos + 1] - '0');
    const int m = (text[pos + 3] - '0') * 10 + (text[pos + 4] - '0');
    if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
    return h * 60 + m;
  };
  auto start = minute_of_day(0), end = minute_of_day(6);
  if (!start || !end || *start == 24 * 60) return std::nullopt;
  // "05:00-05:00" could mean "never" or "always"; make the operator say which.
  if (*start == *end) return std::nullopt;
  return TimeWindow{*start, *end};
}

std::optional<std::uint64_t> parse_bandwidth(std::string_view text) {
  auto parts = split_number(text);
  if (!parts || parts->number == 0) return std::nullopt;
  std::string_view unit = parts->unit;
  std::uint64_t scale = 1;
  if (!unit.empty()) {
    switch (unit.front()) {
      case 'k':
      case 'K':
        scale = 1000ull;
        break;
      case 'm':
      case 'M':
        scale = 1000ull * 1000;
        break;
      case 'g':
      case 'G':
        scale = 1000ull * 1000 * 1000;
        break;
      default:
        scale = 1;
        break;
    }
    if (scale != 1) unit.remove_prefix(1);
  }
  // "50M" alone is a rate in bits (as network gear writes it); with a suffix it must say bits.
  // "MB"/"MiB" are bytes and refused, so nobody gets 8 times the rate they meant.
  const bool bare_prefix = unit.empty() && scale != 1;
  if (!bare_prefix && !iequals(unit, "bit") && !iequals(unit, "bit/s") && !iequals(unit, "bps")) return std::nullopt;
  auto bits = checked_multiply(parts->number, scale);
  if (!bits) return std::nullopt;
  return std::max<std::uint64_t>(*bits / 8, 1);
}

}  // namespace sennen::config
