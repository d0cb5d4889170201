#pragma once
// Reads one content part from the source tree, hashing as it goes and checking that exactly the
// expected number of bytes arrive. Failures are the file's (SourceFileError): unreadable when it
// cannot be opened or read, changed when it vanished or has another size than the source saw.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "daemon/core/record.hpp"
#include "daemon/core/source.hpp"
#include "daemon/util/fd.hpp"

namespace sennen::spool {

// Opens a part's file (see util::open_for_read), failures as SourceFileError.
util::Fd open_source_part(const ContentPart& part);

// Fills `buffer` from `fd` up to its size or the end of the file; returns the bytes read.
std::size_t read_full(const util::Fd& fd, std::span<std::byte> buffer, const ContentPart& part);

// Hashes the whole part in constant memory; returns the sha256 hex.
std::string hash_part(const ContentPart& part);

// Reads a whole (small) part into `buffer` (resized to part.size); returns the sha256 hex.
std::string read_part(const ContentPart& part, std::vector<std::byte>& buffer);

// Reads the part in pieces of `buffer`'s size and hands each to `sink` in order; returns the
// sha256 hex. What was handed over before a failure is the caller's to undo.
std::string stream_part(const ContentPart& part, std::span<std::byte> buffer,
                        const std::function<void(std::span<const std::byte>)>& sink);

}  // namespace sennen::spool
