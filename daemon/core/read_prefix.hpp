#pragma once
// Reading only the head of a source file, for the sources that parse a few header fields and hand
// the rest of the bytes to the spool untouched.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace sennen {

// Reads the first `limit` bytes of `file`, or the whole file when `size` (as listed) is no larger
// (with one byte to spare, so a file that grew since it was listed is noticed): then `complete`
// is set and the result is exactly the file. Throws SourceFileError (daemon/core/source.hpp).
std::string read_prefix(const std::filesystem::path& file, std::uint64_t size, std::size_t limit, bool& complete);

}  // namespace sennen
