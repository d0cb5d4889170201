#pragma once
// "Did you mean ...?" for misspelt keys. Private to sennen_config (no yaml-cpp here).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sennen::config::detail {

// Levenshtein distance, ignoring ASCII case and treating '-' and '_' as equal, because
// "Poll-Interval" is the same mistake as "poll_interval" to the person who typed it.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `typed`, if it is close enough to be a plausible typo (at most a third
// of the typed length in edits, and at least 1).
std::optional<std::string> closest(std::string_view typed, const std::vector<std::string_view>& candidates);

}  // namespace sennen::config::detail
