#pragma once
// What the fuzz targets share: a broken property becomes a crash, which libFuzzer reports with the
// input that caused it (crash-<sha1>, kept as a regression input under corpus/<target>/).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace sennen::fuzz {

[[noreturn]] inline void broken(const std::string& what) {
  std::fprintf(stderr, "property broken: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// `what` is a literal so that a property that holds costs nothing to state.
inline void require(bool holds, const char* what) {
  if (!holds) broken(what);
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace sennen::fuzz
