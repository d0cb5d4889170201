#pragma once
// Logging to stderr in a form journald keeps: each line starts with a syslog priority "<N>" when
// stderr is not a terminal (journald strips it and records the priority). The sink is configured
// once at start-up (the one piece of process-wide state, like the C libraries' own init).
// Never log patient names or record content; IDs, paths and counts only. Every message is
// written as one line without control characters (util::one_line), so a file name holding a
// newline cannot forge a line or a priority; print names with util::display_name.
#include <optional>
#include <string_view>

namespace sennen::log {

enum class Level { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };

void set_max_level(Level level);
void set_prefix_priority(bool on);  // default: on when stderr is not a terminal

void write(Level level, std::string_view message);
inline void error(std::string_view m) { write(Level::error, m); }
inline void warning(std::string_view m) { write(Level::warning, m); }
inline void notice(std::string_view m) { write(Level::notice, m); }
inline void info(std::string_view m) { write(Level::info, m); }
inline void debug(std::string_view m) { write(Level::debug, m); }

// Where the worker is: one debug line "stage <name>[: <detail>]" as each step of a cycle begins
// (stop-list, walk, ingest-commit, release, seal, sign, seal-commit, deliver, marker,
// record-delivery, heartbeat, idle, ...). For an operator following a slow or stuck cycle
// (`sennen-edged --log-level debug`), and for the fault campaign (tests/faults), which tells from
// the last such line where a kill landed. No patient data: batch ids, source names and counts.
void stage(std::string_view name, std::string_view detail = {});

// "error", "warning", "notice", "info" or "debug"; nullopt for anything else.
std::optional<Level> level_named(std::string_view name);

}  // namespace sennen::log
