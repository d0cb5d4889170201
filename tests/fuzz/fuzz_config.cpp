// config::parse on arbitrary text with the daemon's catalog of adapters (every source and
// destination type's keys and reader), as sennen-edged --check and a SIGHUP reload read an
// operator's sennen-edge.yaml. Properties: the only exception is ConfigError (a sennen::Error, which callers
// catch and report), never a yaml-cpp, nlohmann or standard library one; a refusal lists at least
// one problem, each with a message and a position inside the text; an accepted configuration has
// the invariants the daemon relies on (sources with names, their type's options, positive
// intervals, a site id).
// yaml-cpp itself is Debian's uninstrumented library: the guidance comes from our loader.
#include <algorithm>
#include <string>

#include "adapters/registry/registry.hpp"
#include "daemon/config/config.hpp"
#include "tests/fuzz/property.hpp"

using namespace sennen;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(fuzz::as_text(data, size));
  const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  try {
    const config::Config cfg = config::parse(text, "/etc/sennen-edge/sennen-edge.yaml", adapters::catalog());
    fuzz::require(!cfg.site.id.empty(), "an accepted configuration without a site id");
    fuzz::require(!cfg.sources.empty(), "an accepted configuration without sources");
    for (const auto& s : cfg.sources) {
      fuzz::require(!s.name.empty(), "an accepted source without a name");
      fuzz::require(s.options != nullptr, "an accepted source without its type's options");
      fuzz::require(s.poll_interval.count() > 0, "an accepted source polled every 0 s");
    }
    for (const auto& f : cfg.files) fuzz::require(f.path.is_absolute(), "a named file's path is not absolute");
  } catch (const config::ConfigError& e) {
    fuzz::require(!e.problems().empty(), "a ConfigError without problems");
    for (const auto& p : e.problems()) {
      fuzz::require(!p.message.empty(), "a problem without a message");
      fuzz::require(p.line >= 0 && p.line <= lines + 1 && p.column >= 0, "a problem points outside the text");
    }
  }
  return 0;
}
