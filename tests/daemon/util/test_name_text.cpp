// Names from the EMR's share and DICOM peers may hold any bytes: every form they are shown in is
// one line, never a control character, and the raw bytes stay recoverable.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <string>

#include "daemon/util/name_text.hpp"
#include "daemon/util/utf8.hpp"
#include "tests/support/base64.hpp"

using namespace sennen;
using util::display_name;
using util::one_line;

namespace {

std::string utf8(char32_t cp) {
  std::string s;
  util::append_utf8(s, cp);
  return s;
}

std::string hex(unsigned b) {
  const char* digits = "0123456789abcdef";
  return std::string("\\x") + digits[b >> 4] + digits[b & 0xF];
}

bool safe(const std::string& s) {
  if (!util::valid_utf8(s)) return false;
  char32_t cp = 0;
  for (std::size_t i = 0, n = 0; i < s.size(); i += n) {
    n = util::utf8_sequence(s, i, cp);
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
        (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
      return false;
  }
  return true;
}

}  // namespace

TEST_CASE("display form: valid UTF-8 names are kept, backslashes escaped") {
  CHECK(display_name("0000012345_20261125_OMP-01_123_20261125101010123_01_1") ==
        "0000012345_20261125_OMP-01_123_20261125101010123_01_1");
  CHECK(display_name("L-OBSERVATIONS^検査結果") == "L-OBSERVATIONS^検査結果");
  CHECK(display_name("..\\..\\x") == "..\\\\..\\\\x");
  CHECK(display_name("") == "");
}

TEST_CASE("display form: every C0 control and DEL becomes \\xHH") {
  for (unsigned b = 0; b < 0x20; ++b) {
    const std::string name = "a" + std::string(1, static_cast<char>(b)) + "b";
    CHECK(display_name(name) == "a" + hex(b) + "b");
    CHECK(one_line(name) == "a" + hex(b) + "b");
  }
  CHECK(display_name("a\x7f") == "a\\x7f");
  CHECK(display_name("x\n<0>emergency: forged") == "x\\x0a<0>emergency: forged");
}

TEST_CASE("display form: C1 controls, line and paragraph separators and bidi controls become \\u{...}") {
  for (char32_t cp = 0x80; cp <= 0x9F; ++cp) CHECK(safe(display_name("a" + utf8(cp))));
  CHECK(display_name(utf8(0x85)) == "\\u{85}");
  CHECK(display_name("a" + utf8(0x2028) + "b" + utf8(0x2029)) == "a\\u{2028}b\\u{2029}");
  CHECK(display_name("invoice" + utf8(0x202E) + "fdp.exe") == "invoice\\u{202e}fdp.exe");
  for (char32_t cp : {0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x2066, 0x2067, 0x2068, 0x2069})
    CHECK(display_name(utf8(cp)).rfind("\\u{", 0) == 0);
}

TEST_CASE("display form: a CP932 name is shown decoded, including a trail byte 0x5C") {
  // テスト.txt and ソ表 in CP932 (the 2nd bytes of ソ and 表 are 0x5C, '\' in ASCII).
  CHECK(display_name("\x83\x65\x83\x58\x83\x67.txt") == "テスト.txt");
  CHECK(display_name("\x83\x5c\x95\x5c") == "ソ表");
  // A CP932 name holding a control character still shows it escaped.
  CHECK(display_name("\x83\x65\n") == "テ\\x0a");
  // A path: each component on its own, so a UTF-8 folder keeps its text beside a CP932 file name.
  CHECK(display_name("L-PROGRESS^経過記録/\x83\x65\x83\x58\x83\x67/\xff") == "L-PROGRESS^経過記録/テスト/\\xff");
  // Half-width katakana are single bytes 0xA1..0xDF.
  CHECK(display_name("\xb1\xb2") == "ｱｲ");
}

TEST_CASE("display form: bytes that are neither UTF-8 nor CP932 become \\xHH, one per bad byte") {
  CHECK(display_name("\xff") == "\\xff");
  CHECK(display_name("a\x80z") == "a\\x80z");
  CHECK(display_name("\xed\xa0\x80") == "\\xed\\xa0\\x80");     // a UTF-16 surrogate
  CHECK(display_name("\xf0\x9f\x98") == "\\xf0\\x9f\\x98");     // cut 4-byte sequence
  CHECK(display_name("ok\xfd\xfe日本") == "ok\\xfd\\xfe日本");  // valid UTF-8 around it is kept
  CHECK(display_name(std::string("a\0b", 3)) == "a\\x00b");
}

TEST_CASE("one_line: control characters escaped, backslashes and display forms left alone") {
  CHECK(one_line("C:\\share\\x") == "C:\\share\\x");
  CHECK(one_line("bad \xff byte") == "bad \\xff byte");
  const std::string shown = display_name("a\nb\\c\x83\x65");
  CHECK(one_line(shown) == shown);
}

TEST_CASE("display form and one_line are always one safe line, for any bytes") {
  std::mt19937_64 rng(20261125);
  for (int round = 0; round < 20000; ++round) {
    std::string s(rng() % 24, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
    const std::string d = display_name(s), l = one_line(s);
    REQUIRE(safe(d));
    REQUIRE(safe(l));
    REQUIRE(display_name(d) == [&] {  // displaying a display form only escapes its backslashes
      std::string twice;
      for (char c : d) twice += c == '\\' ? std::string("\\\\") : std::string(1, c);
      return twice;
    }());
    REQUIRE(test::unbase64(util::base64(s)) == s);
  }
}

TEST_CASE("base64: RFC 4648 test vectors") {
  CHECK(util::base64("") == "");
  CHECK(util::base64("f") == "Zg==");
  CHECK(util::base64("fo") == "Zm8=");
  CHECK(util::base64("foo") == "Zm9v");
  CHECK(util::base64("foobar") == "Zm9vYmFy");
  CHECK(util::base64("\xff\xfe\x00") == "//4=");
}

TEST_CASE("put_name: raw text when valid UTF-8, display form plus _b64 otherwise") {
  struct Obj {  // the subset of nlohmann::json put_name uses
    std::map<std::string, std::string> fields;
    std::string& operator[](const std::string& k) { return fields[k]; }
  };
  Obj o;
  util::put_name(o, "path", "a\nb/検査");
  CHECK(o.fields.at("path") == "a\nb/検査");
  CHECK(o.fields.count("path_b64") == 0);
  util::put_name(o, "name", "\x83\x65\xff");
  CHECK(o.fields.at("name") == display_name("\x83\x65\xff"));
  CHECK(test::unbase64(o.fields.at("name_b64")) == "\x83\x65\xff");
}

TEST_CASE("contained_path: never leaves the folder it is joined to") {
  CHECK(util::contained_path("a/b/c") == std::filesystem::path("a/b/c"));
  CHECK(util::contained_path("../../etc/passwd") == std::filesystem::path("%2E%2E/%2E%2E/etc/passwd"));
  CHECK(util::contained_path("/abs//./x/") == std::filesystem::path("abs/%2E/x"));
  CHECK(util::contained_path("") == std::filesystem::path("_"));
  CHECK(util::contained_path("..\\..\\x") == std::filesystem::path("..\\..\\x"));  // one odd name, no separator
  for (const auto& part : util::contained_path("a/../../b/./..")) CHECK((part != ".." && part != "." && !part.empty()));
}
