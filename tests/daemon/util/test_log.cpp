// The log is what journald reads: whatever a caller passes, one message is one line, and no
// part of it can pose as a syslog priority.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <string>

#include "daemon/util/log.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;

namespace {

// What log::write puts on stderr while `fn` runs.
template <typename Fn>
std::string captured_stderr(Fn fn) {
  test::TempDir dir;
  const auto file = dir / "stderr.txt";
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  FILE* f = std::fopen(file.c_str(), "w");
  REQUIRE(f);
  ::dup2(::fileno(f), STDERR_FILENO);
  fn();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::fclose(f);
  return test::read_file(file);
}

}  // namespace

TEST_CASE("a message holding a newline and a priority stays one line") {
  log::set_prefix_priority(true);
  const std::string out =
      captured_stderr([] { log::warning("quarantined emr:001/000/0010001/-/OMP-01/x\n<0>emergency: disk on fire"); });
  CHECK(out == "<4>warning: quarantined emr:001/000/0010001/-/OMP-01/x\\x0a<0>emergency: disk on fire\n");
}

TEST_CASE("no control character, line separator or invalid byte reaches the log") {
  log::set_prefix_priority(true);
  const std::string out = captured_stderr(
      [] { log::info(std::string("a\rb\x1b[2Jc\x7f") + "\xe2\x80\xa8" + "d\xff\xfe" + std::string("\0e", 2)); });
  CHECK(out == "<6>a\\x0db\\x1b[2Jc\\x7f\\u{2028}d\\xff\\xfe\\x00e\n");
}
