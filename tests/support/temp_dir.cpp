#include "tests/support/temp_dir.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace sennen::test {
namespace fs = std::filesystem;
namespace {
fs::path run_root() {
  const char* tmp = std::getenv("TMPDIR");
  return fs::path(tmp && *tmp ? tmp : "/tmp") / ("sennen-test-" + std::to_string(::getpid()));
}
std::atomic<int> g_counter{0};
}  // namespace

TempDir::TempDir() {
  path_ = run_root() / std::to_string(++g_counter);
  fs::remove_all(path_);
  fs::create_directories(path_);
}

void TempDir::cleanup_if(bool passed) {
  std::error_code ec;
  if (!fs::exists(run_root(), ec)) return;
  if (passed)
    fs::remove_all(run_root(), ec);
  else
    std::cerr << "test files kept in " << run_root() << "\n";
}

fs::path source_dir() {
  const char* d = std::getenv("SENNEN_SOURCE_DIR");
  return d ? fs::path(d) : fs::current_path();
}
fs::path binary_dir() {
  const char* d = std::getenv("SENNEN_BINARY_DIR");
  return d ? fs::path(d) : fs::current_path();
}
fs::path shared_samples() {
  // SENNEN_SAMPLES names them where the checkout is a worktree elsewhere.
  const char* env = std::getenv("SENNEN_SAMPLES");
  fs::path p = env && *env ? fs::path(env) : source_dir().parent_path() / "shared" / "samples";
  return fs::exists(p) ? p : fs::path();
}

int run(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string run_output(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run: " + command);
  std::string out;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("command failed (" + std::to_string(status) + "): " + command);
  return out;
}

void write_file(const fs::path& path, std::string_view content) {
  fs::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace sennen::test
