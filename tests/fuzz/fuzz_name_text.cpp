// Names are bytes from outside (file and folder names from the EMR's share, AE titles and UIDs
// from DICOM peers): util::display_name (CP932 decoding, escapes), one_line, base64 and
// contained_path on arbitrary bytes. Properties: the display form is one line of valid UTF-8
// without control or bidirectional characters, keeps every '/' of a path and nothing else turns
// into one, and is the name itself when that is already plain UTF-8; one_line leaves text already
// in that form alone; base64 gives back the bytes; contained_path stays below the folder it is
// joined to.
#include <algorithm>
#include <filesystem>
#include <string>

#include "daemon/util/name_text.hpp"
#include "daemon/util/utf8.hpp"
#include "tests/fuzz/property.hpp"
#include "tests/support/base64.hpp"

using namespace sennen;

namespace {

bool shown_plainly(char32_t cp) {
  return cp >= 0x20 && cp != 0x7F && !(cp >= 0x80 && cp <= 0x9F) && cp != 0x2028 && cp != 0x2029 && cp != 0x061C &&
         cp != 0x200E && cp != 0x200F && !(cp >= 0x202A && cp <= 0x202E) && !(cp >= 0x2066 && cp <= 0x2069);
}

// Valid UTF-8 of visible characters only: what may go into a log line or a reason file.
bool one_visible_line(std::string_view s) {
  char32_t cp = 0;
  for (std::size_t i = 0, n = 0; i < s.size(); i += n) {
    n = util::utf8_sequence(s, i, cp);
    if (n == 0 || !shown_plainly(cp)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw = fuzz::as_text(data, size);

  const std::string shown = util::display_name(raw);
  fuzz::require(one_visible_line(shown), "display_name is not one line of visible UTF-8");
  fuzz::require(std::count(shown.begin(), shown.end(), '/') == std::count(raw.begin(), raw.end(), '/'),
                "display_name changed the path's '/' separators");
  if (one_visible_line(raw) && raw.find('\\') == std::string_view::npos)
    fuzz::require(shown == raw, "display_name changed a plain UTF-8 name");
  fuzz::require(util::one_line(shown) == shown, "one_line changed a name in display form");

  const std::string line = util::one_line(raw);
  fuzz::require(one_visible_line(line), "one_line is not one line of visible UTF-8");
  fuzz::require(util::one_line(line) == line, "one_line is not idempotent");

  const std::string b64 = util::base64(raw);
  fuzz::require(b64.size() == (raw.size() + 2) / 3 * 4, "base64 has the wrong length");
  fuzz::require(test::unbase64(b64) == raw, "base64 does not give back the bytes");

  const std::filesystem::path rel = util::contained_path(raw);
  fuzz::require(rel.is_relative() && !rel.empty(), "contained_path is not a relative path");
  for (const auto& component : rel)
    fuzz::require(component != "." && component != ".." && !component.empty(), "contained_path can leave its folder");
  const std::filesystem::path base = "/srv/quarantine";
  fuzz::require((base / rel).lexically_normal().string().starts_with("/srv/quarantine/"),
                "contained_path leads outside the folder it is joined to");
  return 0;
}
