#pragma once
// CP932 (Windows' Shift_JIS, what Japanese Windows and EMR exports write) to UTF-8, through glibc's
// iconv. One converter per object, opened once and reused: iconv_open loads a gconv module, far
// too slow to do per field on the hot path of a 500 MB claim file. Not thread-safe: one object per
// thread (or per file read).
#include <optional>
#include <string>
#include <string_view>

namespace sennen::util {

class Cp932ToUtf8 {
 public:
  // Throws sennen::Error when iconv has no CP932 converter (glibc's gconv modules missing).
  Cp932ToUtf8();
  ~Cp932ToUtf8();
  Cp932ToUtf8(const Cp932ToUtf8&) = delete;
  Cp932ToUtf8& operator=(const Cp932ToUtf8&) = delete;

  // The whole of `bytes` decoded, or nullopt when any byte sequence does not decode.
  std::optional<std::string> strict(std::string_view bytes);
  // Every sequence that does not decode becomes U+FFFD and decoding resumes at the next byte
  // (CP932 trail bytes are 0x40..0xFC, so no ASCII line end or separator is ever swallowed).
  std::string lenient(std::string_view bytes);

 private:
  void* cd_;  // iconv_t, kept out of this header
};

}  // namespace sennen::util
