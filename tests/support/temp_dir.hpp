#pragma once
// Every test that touches disk gets a fresh directory under $TMPDIR/sennen-test-<pid>/; the whole
// tree is removed when the run passes and kept (its path printed) when it fails.
#include <filesystem>
#include <string>

namespace sennen::test {

class TempDir {
 public:
  TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }
  static void cleanup_if(bool passed);

 private:
  std::filesystem::path path_;
};

// Where the source tree and build tree are (set by CTest; fall back to the working directory).
std::filesystem::path source_dir();
std::filesystem::path binary_dir();
// $SENNEN_SAMPLES, else ../shared/samples next to the checkout; empty when absent (tests skip then).
std::filesystem::path shared_samples();

// Runs a shell command; returns its exit status. Output goes to the test log.
int run(const std::string& command);
// Runs a shell command and returns its stdout (throws if it exits non-zero).
std::string run_output(const std::string& command);

void write_file(const std::filesystem::path& path, std::string_view content);
std::string read_file(const std::filesystem::path& path);

}  // namespace sennen::test
