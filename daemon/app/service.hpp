#pragma once
// The ways sennen-edged runs. Each returns the process exit code.
#include <filesystem>

namespace sennen::app {

enum ExitCode { kOk = 0, kCycleFailed = 1, kBadConfig = 2, kFatal = 3 };

int check_config(const std::filesystem::path& config_file);
int run_once(const std::filesystem::path& config_file);
// Seals and delivers what the spool holds now, ignoring the upload window, polling nothing: what
// `sennen-edgectl flush` does itself when no sennen-edged runs.
int deliver_now(const std::filesystem::path& config_file);
int run_service(const std::filesystem::path& config_file);

}  // namespace sennen::app
