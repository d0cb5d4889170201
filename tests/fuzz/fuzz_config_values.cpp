// The scalar syntaxes of the configuration (daemon/config/values.cpp), which operators type:
// durations, sizes, dates, UTC offsets, upload windows and bandwidths, each on arbitrary text.
// Properties: what is accepted reads back the same when written in its canonical form (a bare
// number of seconds or bytes, YYYY-MM-DD, +HH:MM, HH:MM-HH:MM), dates agree with the calendar
// util::iso_date uses for the heartbeat, and values stay in their documented ranges.
#include <cstdio>
#include <string>

#include "daemon/config/config.hpp"
#include "daemon/util/time_format.hpp"
#include "tests/fuzz/property.hpp"

using namespace sennen;

namespace {

std::string hh_mm(int minutes) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minutes / 60, minutes % 60);
  return buf;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);

  if (auto d = config::parse_duration(text)) {
    fuzz::require(d->count() >= 0, "a negative duration");
    fuzz::require(config::parse_duration(std::to_string(d->count())) == d, "a duration does not read back in seconds");
  }
  if (auto s = config::parse_size(text))
    fuzz::require(config::parse_size(std::to_string(*s)) == s, "a size does not read back in bytes");
  if (auto date = config::parse_date(text)) {
    fuzz::require(date->iso() == text, "a date does not read back as itself");
    // util::iso_date writes years before 1000 without leading zeros (glibc's %Y); none occurs in practice.
    if (date->year >= 1000)
      fuzz::require(util::iso_date(date->days_since_epoch()) == text, "days_since_epoch disagrees with the calendar");
  }
  if (auto offset = config::parse_utc_offset(text)) {
    fuzz::require(*offset >= -12 * 60 && *offset <= 14 * 60, "a UTC offset beyond -12:00..+14:00");
    if (text.size() == 6) {
      const std::string back = (*offset < 0 ? "-" : "+") + hh_mm(*offset < 0 ? -*offset : *offset);
      fuzz::require(back == text || (*offset == 0 && text == "-00:00"), "a UTC offset does not read back");
    }
  }
  if (auto w = config::parse_time_window(text)) {
    fuzz::require(w->start_minute >= 0 && w->start_minute < 24 * 60 && w->end_minute >= 0 && w->end_minute <= 24 * 60 &&
                      w->start_minute != w->end_minute,
                  "an upload window out of range");
    fuzz::require(hh_mm(w->start_minute) + "-" + hh_mm(w->end_minute) == text, "an upload window does not read back");
  }
  if (auto rate = config::parse_bandwidth(text)) fuzz::require(*rate >= 1, "a bandwidth of 0 bytes per second");
  return 0;
}
