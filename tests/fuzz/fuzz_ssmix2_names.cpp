// SS-MIX2 file and content-folder names (parse_standard_name, parse_extended_name with and without
// the type folder) and check_placement, on arbitrary bytes: the properties of exercise_names
// (tests/adapters/sources/ssmix2/exercise.hpp, shared with the random doctest): an accepted name
// gives back exactly its input (stem + flag), its key is a prefix of its stem, its fields are
// valid, its own directory passes check_placement, and knowing the type folder never changes how
// an unambiguous name is read.
#include "tests/adapters/sources/ssmix2/exercise.hpp"
#include "tests/fuzz/property.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (const std::string why = sennen::ssmix2::test::exercise_names(sennen::fuzz::as_text(data, size)); !why.empty())
    sennen::fuzz::broken(why);
  return 0;
}
