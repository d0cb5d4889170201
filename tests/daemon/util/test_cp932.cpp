#include <doctest/doctest.h>

#include "daemon/util/cp932.hpp"

using sennen::util::Cp932ToUtf8;

TEST_CASE("cp932: one converter decodes many fields, strictly or replacing what does not decode") {
  Cp932ToUtf8 cp932;
  CHECK(cp932.strict("\x83\x65\x83\x58\x83\x67") == "テスト");
  CHECK(cp932.strict("\x82\x4f\x82\x50") == "０１");
  CHECK(cp932.strict("") == "");
  CHECK_FALSE(cp932.strict("\x82"));       // a lead byte cut off
  CHECK(cp932.strict("abc") == "abc");     // the failure before leaves nothing behind
  CHECK_FALSE(cp932.strict("a\x82\x20"));  // an invalid trail byte
  CHECK(cp932.lenient("a\x82\x20"
                      "b") == "a\xEF\xBF\xBD b");
  CHECK(cp932.lenient("\x83\x65\x82") == "テ\xEF\xBF\xBD");
  CHECK(cp932.strict("\x83\x67") == "ト");
}
