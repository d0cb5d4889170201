#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "tests/support/temp_dir.hpp"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int rc = context.run();
  sennen::test::TempDir::cleanup_if(rc == 0);
  return rc;
}
