#pragma once
// Reads one content part from the source tree in fixed-size chunks, hashing as it goes and
// checking that exactly the expected number of bytes arrive.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "daemon/core/record.hpp"

namespace sennen::spool {

inline constexpr std::size_t kChunk = 256 * 1024;
// Parts up to this size are read whole, hashed, and inserted in one statement.
inline constexpr std::uint64_t kInlinePart = 1 << 20;

// Calls `sink` for every chunk (may be empty function); returns the sha256 hex. Throws
// sennen::Error when the file cannot be read or its size is not part.size.
std::string stream_part(const ContentPart& part, const std::function<void(std::uint64_t, std::span<const std::byte>)>& sink);

// Reads a whole (small) part into `buffer` (resized to part.size); returns the sha256 hex.
// Same errors as stream_part.
std::string read_part(const ContentPart& part, std::vector<std::byte>& buffer);

}  // namespace sennen::spool
