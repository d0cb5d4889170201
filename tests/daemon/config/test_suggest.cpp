#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "daemon/config/suggest.hpp"

using sennen::config::detail::closest;
using sennen::config::detail::edit_distance;

TEST_CASE("suggest: the distance counts insertions, deletions and substitutions, ignoring case") {
  CHECK(edit_distance("poll_interval", "pol_interval") == 1);
  CHECK(edit_distance("root", "roots") == 1);
  CHECK(edit_distance("ID", "id") == 0);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("suggest: the closest key within a third of the typed length, the earlier one on a tie") {
  const std::vector<std::string_view> keys = {"root", "roots_extra", "poll_interval", "interval", "intervals"};
  CHECK(closest("pol_interval", keys) == "poll_interval");
  CHECK(closest("intervall", keys) == "interval");  // 1 from both interval and intervals: the earlier
  CHECK(closest("rooot", keys) == "root");
  CHECK_FALSE(closest("xyz", keys));
  CHECK_FALSE(closest("", keys));
}

TEST_CASE("suggest: candidates much longer or shorter than the typed key never win") {
  // Keys skipped for their length alone must not change the answer: a long garbled key, and a
  // long candidate that is the only close one.
  const std::string garbled(100000, 'x');
  CHECK_FALSE(closest(garbled, {"root", "poll_interval"}));
  const std::string long_key = "a_rather_long_option_name_for_a_destination";
  std::string typo = long_key;
  typo.erase(3, 2);
  CHECK(closest(typo, {"a", "ab", long_key, "zz"}) == long_key);
}
