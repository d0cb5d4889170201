#include "daemon/config/suggest.hpp"

#include <algorithm>
#include <numeric>

namespace sennen::config::detail {
namespace {
char fold(char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
  return c == '-' ? '_' : c;
}
}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // One row of the dynamic-programming table at a time; keys are short.
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t substitute = diagonal + (fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string> closest(std::string_view typed, const std::vector<std::string_view>& candidates) {
  const std::size_t limit = std::max<std::size_t>(1, typed.size() / 3);
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (auto candidate : candidates) {
    // The distance is at least the difference in length: a candidate that cannot come closer is
    // not compared (a long garbled key would otherwise cost its length times every key's).
    const std::size_t apart =
        typed.size() > candidate.size() ? typed.size() - candidate.size() : candidate.size() - typed.size();
    if (apart >= best_distance) continue;
    const std::size_t d = edit_distance(typed, candidate);
    if (d < best_distance) {  // strict: ties keep the earlier (more common) key
      best_distance = d;
      best = std::string(candidate);
    }
  }
  return best;
}

}  // namespace sennen::config::detail
