#include "daemon/util/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

#include "daemon/util/name_text.hpp"

namespace sennen::log {
namespace {
std::atomic<int> g_max_level{static_cast<int>(Level::info)};
std::atomic<int> g_prefix{-1};  // -1: decide from isatty on first use
std::mutex g_write_mutex;       // one line at a time from the event loop and worker threads
}  // namespace

void set_max_level(Level level) { g_max_level = static_cast<int>(level); }
void set_prefix_priority(bool on) { g_prefix = on ? 1 : 0; }

void write(Level level, std::string_view message) {
  if (static_cast<int>(level) > g_max_level) return;
  if (g_prefix < 0) g_prefix = ::isatty(STDERR_FILENO) ? 0 : 1;
  static constexpr const char* kNames[] = {"", "", "", "error: ", "warning: ", "", "", "debug: "};
  std::string line;
  if (g_prefix == 1) line = "<" + std::to_string(static_cast<int>(level)) + ">";
  line += kNames[static_cast<int>(level)];
  line += util::one_line(message);  // whatever the caller passed: one line, no control character
  line += '\n';
  std::lock_guard lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

void stage(std::string_view name, std::string_view detail) {
  if (static_cast<int>(Level::debug) > g_max_level) return;  // the common case: nothing to build
  std::string m = "stage ";
  m += name;
  if (!detail.empty()) {
    m += ": ";
    m += detail;
  }
  write(Level::debug, m);
}

std::optional<Level> level_named(std::string_view name) {
  if (name == "error") return Level::error;
  if (name == "warning") return Level::warning;
  if (name == "notice") return Level::notice;
  if (name == "info") return Level::info;
  if (name == "debug") return Level::debug;
  return std::nullopt;
}

}  // namespace sennen::log
