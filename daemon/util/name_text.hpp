#pragma once
// Names are data, not text we trust: a file or folder name from the EMR's share or an AE title
// from a DICOM peer may hold any bytes (CP932, invalid UTF-8, control characters, "..",
// backslashes). The bytes are kept as they are; these functions give each place a name goes a
// defined form:
//  - display_name: one line for logs and people. Valid UTF-8 is kept; backslash becomes "\\";
//    C0 controls and DEL become "\xHH"; C1 controls, U+2028/U+2029 and the bidirectional
//    controls (embeddings, overrides, isolates, marks) become "\u{H...}"; a name that is not
//    valid UTF-8 is shown decoded as CP932 when the whole name decodes so (Japanese Windows
//    shares; a path is decoded '/'-separated component by component), else each byte of an
//    ill-formed sequence becomes "\xHH" (always >= \x80, so it cannot be mistaken for an escaped
//    control character).
//  - one_line: the same escapes for any text (a log message, an error), except that backslashes
//    and CP932 are left alone: it never yields a line break or a control character, and text
//    already in display form passes through unchanged.
//  - base64 of the raw bytes, and put_name for JSON: the raw text when it is valid UTF-8 (JSON
//    escapes control characters losslessly), else the display form plus "<field>_b64".
#include <filesystem>
#include <string>
#include <string_view>

#include "daemon/util/utf8.hpp"

namespace sennen::util {

std::string display_name(std::string_view raw);
std::string one_line(std::string_view text);
std::string base64(std::string_view bytes);  // RFC 4648, with padding

// A relative path for `rel` (a '/'-separated path from a source tree) that stays below the folder
// it is joined to whatever it holds: empty components and a leading '/' are dropped, "." and ".."
// become "%2E" and "%2E%2E". Other bytes are kept (Linux file names are bytes).
std::filesystem::path contained_path(std::string_view rel);

// Sets obj[field] (and obj[field + "_b64"] when `raw` is not valid UTF-8) on a nlohmann::json
// object; a template so this header does not pull in the JSON library.
template <typename Json>
void put_name(Json& obj, const std::string& field, std::string_view raw) {
  if (valid_utf8(raw)) {
    obj[field] = std::string(raw);
    return;
  }
  obj[field] = display_name(raw);
  obj[field + "_b64"] = base64(raw);
}

// Makes every string in a nlohmann::json document one line (one_line): for documents people read
// as text (heartbeat, /healthz), whose messages may quote names from a source tree.
template <typename Json>
void one_line_strings(Json& j) {
  if (j.is_string())
    j = one_line(j.template get_ref<const std::string&>());
  else if (j.is_structured())
    for (auto& v : j) one_line_strings(v);
}

}  // namespace sennen::util
