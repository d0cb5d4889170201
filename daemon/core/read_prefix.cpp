#include "daemon/core/read_prefix.hpp"

#include <algorithm>
#include <span>

#include "daemon/core/source.hpp"
#include "daemon/util/fd.hpp"

namespace sennen {

std::string read_prefix(const std::filesystem::path& file, std::uint64_t size, std::size_t limit, bool& complete) {
  const bool whole = size <= limit;
  std::string out(static_cast<std::size_t>(whole ? size + 1 : limit), '\0');
  std::size_t have = 0;
  try {
    util::Fd fd = util::open_for_read(file);
    while (have < out.size()) {
      std::size_t n =
          util::read_some(fd, std::as_writable_bytes(std::span(out.data() + have, out.size() - have)), file);
      if (n == 0) break;
      have += n;
    }
  } catch (const util::OpenError& e) {
    throw SourceFileError::from_errno(e.error(), file, e.what());
  } catch (const Error& e) {
    throw SourceFileError(SourceFileError::Kind::unreadable, file, e.what());
  }
  complete = whole && have == size;
  out.resize(std::min<std::size_t>(have, whole ? static_cast<std::size_t>(size) : limit));
  return out;
}

}  // namespace sennen
