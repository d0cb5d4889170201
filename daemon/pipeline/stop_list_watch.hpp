#pragma once
// The stop-list file, looked at again whenever it matters: at the start of a cycle, before each
// batch is sealed and before each batch leaves. Looking is cheap (one stat: device, inode, size,
// mtime, ctime); the file is read and parsed only when that changed, or when asked to.
//
// What the file says is applied through spool::Spool::apply_stop_list, where an ID can only
// leave the stop list on purpose; this module also words what the operator must know about the
// list: why sealing waits (the list cannot be trusted) and what needs attention (IDs that left the
// file and stay withheld until confirmed).
#include <cstddef>
#include <filesystem>
#include <string>

#include "daemon/gate/stop_list.hpp"

namespace sennen::pipeline {

class StopListWatch {
 public:
  explicit StopListWatch(std::filesystem::path file) : file_(std::move(file)) {}
  const std::filesystem::path& file() const { return file_; }
  // False only when a stat shows the very file last read, unchanged. A file that cannot be
  // stat'ed counts as changed (reading it then says why).
  bool changed() const;
  // Reads and parses the file and remembers what was read. Throws sennen::Error (naming the file
  // and what to do) when it cannot be read; the last list read stays what changed() compares with.
  gate::StopList read();
  // What was read could not be applied: changed() is true again, so the next look reads it anew.
  void forget() { read_once_ = false; }

 private:
  struct Identity {
    unsigned long long dev = 0, ino = 0, size = 0;
    long long mtime_ns = 0, ctime_ns = 0;
    bool operator==(const Identity&) const = default;
  };
  static bool identify(const std::filesystem::path& file, Identity& out);

  std::filesystem::path file_;
  bool read_once_ = false;
  Identity last_{};
};

// Why nothing may be sealed or delivered with this list (fail closed), or "" when it may. The IDs
// that could be read are applied either way: they can only stop more.
std::string stop_list_pause(const gate::StopList& list, const std::filesystem::path& file, bool allow_unreadable_lines);

// What an operator must do about IDs that left the file and stay withheld, or "".
std::string retained_attention(std::size_t retained, std::size_t in_file_now, const std::filesystem::path& file);

}  // namespace sennen::pipeline
