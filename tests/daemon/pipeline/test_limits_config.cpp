// The `spool:` and `outbox:` caps in the config file: the shipped file documents them with their
// defaults, sizes are read in the usual forms, and mistakes are reported at their line.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "daemon/config/config.hpp"
#include "tests/support/configuration.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
using namespace sennen::config;
using sennen::test::parse;

namespace {
std::string shipped() { return test::read_file(test::source_dir() / "config" / "sennen-edge.yaml"); }

// The shipped file with `extra` appended, and the line number `extra` starts on.
std::pair<std::string, int> with(const std::string& extra) {
  std::string text = shipped();
  if (text.back() != '\n') text += '\n';
  const int first = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  return {text + extra, first};
}

std::string problems_of(const std::string& text) {
  try {
    parse(text, "c.yaml");
  } catch (const ConfigError& e) {
    std::string all;
    for (const auto& p : e.problems()) all += p.format() + "\n";
    return all;
  }
  return {};
}

void uncomment(std::string& text, const std::string& line) {
  const auto at = text.find("# " + line + "\n");
  REQUIRE_MESSAGE(at != std::string::npos, line);
  text.erase(at, 2);
}
}  // namespace

TEST_CASE("limits: the shipped file documents both caps with the defaults the daemon uses") {
  const auto defaults = parse(shipped(), "c.yaml").limits;
  CHECK(defaults.spool_max_bytes == 20ull << 30);
  CHECK(defaults.outbox_max_bytes == 4ull << 30);
  std::string text = shipped();
  for (const char* line : {"spool:", "  max_bytes: 20GiB", "outbox:", "  max_bytes: 4GiB"}) uncomment(text, line);
  const auto documented = parse(text, "c.yaml").limits;
  CHECK(documented.spool_max_bytes == defaults.spool_max_bytes);
  CHECK(documented.outbox_max_bytes == defaults.outbox_max_bytes);
}

TEST_CASE("limits: sizes in the usual forms") {
  auto cfg = parse(with("spool:\n  max_bytes: 10GiB\noutbox:\n  max_bytes: 500KB\n").first, "c.yaml");
  CHECK(cfg.limits.spool_max_bytes == 10ull << 30);
  CHECK(cfg.limits.outbox_max_bytes == 500000);
  // Sections with every line commented out keep the defaults.
  CHECK(parse(with("spool:\noutbox:\n").first, "c.yaml").limits.spool_max_bytes == 20ull << 30);
}

TEST_CASE("limits: mistakes are reported at their line with a hint") {
  auto [zero, line] = with("spool:\n  max_bytes: 0\n");
  CHECK(problems_of(zero) == "c.yaml:" + std::to_string(line + 1) +
                                 ":14: spool.max_bytes: 0 would pause this stage for good; write a size, e.g. 20GiB\n");
  CHECK(problems_of(with("outbox:\n  max_bytes: lots\n").first).find("outbox.max_bytes: \"lots\" is not a size") !=
        std::string::npos);
  CHECK(problems_of(with("outbox:\n  max_byte: 1GiB\n").first).find("did you mean 'max_bytes'") != std::string::npos);
}
