#pragma once
// .zip archives dropped by staff: their files are unpacked next to it, flat, and then taken like
// any dropped file. Safe by construction: only regular files are written, each under its last
// name component (no folder in an entry name is ever created, so no entry can land outside the
// drop folder), first into a hidden staging folder and moved into place only when the whole
// archive has been read (a half-copied zip leaves nothing), within limits on the number of files
// and the bytes written (counted as written, not as the archive claims), in all and per byte of the
// archive, against zip bombs.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/sources/dropbox/finding.hpp"

namespace sennen::dropbox {

// The source's zip_max_files, zip_max_bytes, zip_max_ratio (config/sennen-edge.yaml).
struct ZipLimits {
  std::uint64_t max_files = 1000;
  std::uint64_t max_bytes = 4ull << 30;
  std::uint64_t max_ratio = 0;  // bytes written per byte of the archive; 0: no limit
};

struct Unpacked {
  std::optional<Rejection> rejection;        // nothing was unpacked then
  std::vector<std::filesystem::path> files;  // where the files are now
};

// A .zip by name (any case) and by content. By name too: Office documents (.docx, .xlsx) are
// zip archives inside, and unpacking one would drop its XML parts into the folder.
bool looks_like_zip(std::string_view name, std::string_view head);

// Unpacks `zip` into `folder` (the drop folder), naming each file "<zip stem>_<entry name>".
// Throws sennen::Error when `folder` cannot be written.
Unpacked unpack_zip(const std::filesystem::path& zip, const std::filesystem::path& folder, const ZipLimits& limits);

}  // namespace sennen::dropbox
