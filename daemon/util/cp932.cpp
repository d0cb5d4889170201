#include "daemon/util/cp932.hpp"

#include <iconv.h>

#include <array>
#include <cerrno>
#include <cstdint>

#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"

namespace sennen::util {
namespace {
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr auto kFailed = static_cast<std::size_t>(-1);
iconv_t handle(void* cd) { return static_cast<iconv_t>(cd); }
}  // namespace

Cp932ToUtf8::Cp932ToUtf8() : cd_(::iconv_open("UTF-8", "CP932")) {
  // NOLINTNEXTLINE(performance-no-int-to-ptr): (iconv_t)-1 is iconv_open's documented failure value
  if (cd_ == reinterpret_cast<void*>(static_cast<std::intptr_t>(-1)))
    throw Error("iconv has no CP932 (Shift_JIS) converter (" + errno_text(errno) +
                "); install glibc's gconv modules (Debian: package libc6; Fedora and EL: package "
                "glibc-gconv-extra)");
}

Cp932ToUtf8::~Cp932ToUtf8() { ::iconv_close(handle(cd_)); }

std::optional<std::string> Cp932ToUtf8::strict(std::string_view bytes) {
  ::iconv(handle(cd_), nullptr, nullptr, nullptr, nullptr);  // a previous call may have failed midway
  std::string out(bytes.size() * 3 + 4, '\0');               // a CP932 byte is at most 3 UTF-8 bytes
  char* in = const_cast<char*>(bytes.data());                // iconv's C signature; it never writes the input
  char* o = out.data();
  std::size_t in_left = bytes.size(), o_left = out.size();
  if (::iconv(handle(cd_), &in, &in_left, &o, &o_left) == kFailed || in_left != 0) return std::nullopt;
  if (::iconv(handle(cd_), nullptr, nullptr, &o, &o_left) == kFailed) return std::nullopt;
  out.resize(out.size() - o_left);
  return out;
}

std::string Cp932ToUtf8::lenient(std::string_view bytes) {
  ::iconv(handle(cd_), nullptr, nullptr, nullptr, nullptr);
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2);
  char* in = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  std::array<char, 16384> buf{};
  while (in_left > 0) {
    char* o = buf.data();
    std::size_t o_left = buf.size();
    const std::size_t r = ::iconv(handle(cd_), &in, &in_left, &o, &o_left);
    const int err = errno;
    out.append(buf.data(), buf.size() - o_left);
    if (r == kFailed && err != E2BIG && in_left > 0) {  // EILSEQ, EINVAL: one byte replaced
      out += kReplacement;
      ++in;
      --in_left;
    }
  }
  return out;
}

}  // namespace sennen::util
