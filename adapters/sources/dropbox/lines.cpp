#include "adapters/sources/dropbox/lines.hpp"

#include <cstring>

#include "daemon/util/error.hpp"
#include "daemon/util/utf8.hpp"

namespace sennen::dropbox {

LineReader::LineReader(const std::filesystem::path& file) : file_(file, std::ios::binary), buf_(64 * 1024) {
  if (!file_) throw Error("cannot open " + file.string() + ": " + std::strerror(errno));
  read_ = [this](std::span<std::byte> b) {
    file_.read(reinterpret_cast<char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (file_.bad()) throw Error("read error");
    return static_cast<std::size_t>(file_.gcount());
  };
}

LineReader::LineReader(ContentReader read) : read_(std::move(read)), buf_(64 * 1024) {}

bool LineReader::fill() {
  if (pos_ < end_) return true;
  end_ = read_(std::as_writable_bytes(std::span(buf_)));
  pos_ = 0;
  return end_ > 0;
}

bool LineReader::next(Line& line) {
  line.text.clear();
  line.raw_end.clear();
  line.too_long = false;
  bool any = false;
  while (fill()) {
    any = true;
    const char* start = buf_.data() + pos_;
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
    const std::size_t n = nl ? static_cast<std::size_t>(nl - start) : end_ - pos_;
    const std::size_t room = kMaxLine - std::min(kMaxLine, line.text.size());
    line.text.append(start, std::min(n, room));
    if (n > room) line.too_long = true;
    pos_ += n;
    offset_ += n;
    if (nl) {
      ++pos_;
      ++offset_;
      line.raw_end = "\n";
      break;
    }
  }
  if (!any) return false;
  if (!line.raw_end.empty() && !line.text.empty() && line.text.back() == '\r' && !line.too_long) {
    line.text.pop_back();
    line.raw_end = "\r\n";
  }
  line.number = ++number_;
  return true;
}

bool digits(std::string_view s, std::size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool has_non_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  return false;
}

bool saved_as_utf8(std::string_view s) {
  bool japanese = false;
  char32_t cp = 0;
  for (std::size_t i = 0, n = 0; i < s.size(); i += n) {
    n = util::utf8_sequence(s, i, cp);
    if (n == 0) return false;
    japanese = japanese || n >= 3;
  }
  return japanese;
}

bool is_cp932(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80 || (c >= 0xA1 && c <= 0xDF)) continue;
    if (!((c >= 0x81 && c <= 0x9F) || (c >= 0xE0 && c <= 0xFC)) || i + 1 >= s.size()) return false;
    const auto t = static_cast<unsigned char>(s[++i]);
    if (!((t >= 0x40 && t <= 0x7E) || (t >= 0x80 && t <= 0xFC))) return false;
  }
  return true;
}

}  // namespace sennen::dropbox
