// The shipped placeholder site id: it loads (tools can read the shipped file) but require_edited()
// refuses it with the file:line:column to edit, so a fresh install's first start fails (exit 2,
// not retried) with a plain message instead of running as a fake site.
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "daemon/config/config.hpp"
#include "tests/support/configuration.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen::config;
using sennen::test::load;
using sennen::test::parse;
namespace fs = std::filesystem;

namespace {

std::string minimal_with_id(const std::string& id) {
  return "site:\n"  // 1
         "  id: \"" +
         id +
         "\"\n"  // 2
         "state_dir: /var/lib/sennen-edge\n"
         "sources:\n"
         "  - name: emr\n"
         "    type: ssmix2\n"
         "    root: /srv/ssmix2/std\n"
         "optout:\n"
         "  stop_list: /etc/sennen-edge/optout.csv\n"
         "destination:\n"
         "  type: local\n"
         "  path: /var/lib/sennen-edge/export\n"
         "encryption:\n"
         "  recipients: [/etc/sennen-edge/central.crt]\n"
         "  signer_cert: /etc/sennen-edge/site.crt\n"
         "  signer_key: /etc/sennen-edge/site.key\n";
}

// 1-based number of the first line containing `needle`, 0 if none.
int line_of(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.find(needle) != std::string::npos) return n;
  }
  return 0;
}

}  // namespace

TEST_CASE("the placeholder site id loads but is refused by require_edited, pointing at the line") {
  const Config c = parse(minimal_with_id(std::string(kPlaceholderSiteId)), "/etc/sennen-edge/sennen-edge.yaml");
  CHECK(c.site.id == kPlaceholderSiteId);
  REQUIRE(c.placeholders.size() == 1);
  const Problem& p = c.placeholders[0];
  CHECK(p.file == "/etc/sennen-edge/sennen-edge.yaml");
  CHECK(p.line == 2);
  CHECK(p.column == 7);
  CHECK(p.key == "site.id");
  CHECK(p.message.find("placeholder") != std::string::npos);
  CHECK(p.message.find("facility code") != std::string::npos);
  try {
    require_edited(c);
    FAIL("require_edited accepted the placeholder site id");
  } catch (const ConfigError& e) {
    REQUIRE(e.problems().size() == 1);
    CHECK(e.problems()[0].format() == p.format());
    CHECK(std::string(e.what()).find("/etc/sennen-edge/sennen-edge.yaml:2:7: site.id:") != std::string::npos);
  }
}

TEST_CASE("a real site id, even one made of zeros of another length, is not a placeholder") {
  for (const char* id : {"1312345678", "000000000", "00000000000", "0000000001"}) {
    CAPTURE(id);
    const Config c = parse(minimal_with_id(id), "a.yaml");
    CHECK(c.placeholders.empty());
    CHECK_NOTHROW(require_edited(c));
  }
}

TEST_CASE("the shipped config/sennen-edge.yaml has exactly one placeholder: its site id line") {
  const fs::path shipped = sennen::test::source_dir() / "config/sennen-edge.yaml";
  const std::string text = sennen::test::read_file(shipped);
  const Config c = load(shipped);
  REQUIRE(c.placeholders.size() == 1);
  CHECK(c.placeholders[0].key == "site.id");
  const int expected = line_of(text, "  id: \"" + std::string(kPlaceholderSiteId) + "\"");
  REQUIRE(expected > 0);
  CHECK(c.placeholders[0].line == expected);
  CHECK_THROWS_AS(require_edited(c), ConfigError);
}
