// libFuzzer entry point: every SS-MIX2 parsing function on arbitrary bytes, with the properties
// of exercise.hpp turned into crashes so the fuzzer reports them.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tests/adapters/sources/ssmix2/exercise.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (const std::string broken = sennen::ssmix2::test::exercise(input); !broken.empty()) {
    std::fprintf(stderr, "property broken: %s\n", broken.c_str());
    std::abort();
  }
  return 0;
}
