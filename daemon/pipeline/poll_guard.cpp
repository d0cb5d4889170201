#include "daemon/pipeline/poll_guard.hpp"

namespace sennen::pipeline {

PollGuard::PollGuard(SourceState& inner, const std::atomic<bool>& stop, std::function<bool()> spool_full)
    : inner_(inner), stop_(stop), spool_full_(std::move(spool_full)), halt_(stop.load()) {}

void PollGuard::check() {
  if (halt_) return;  // once raised it stays: the source may already be unwinding
  if (stop_) {
    halt_ = true;
  } else if (spool_full_()) {
    by_cap_ = true;
    halt_ = true;
  }
}

std::vector<DirState> PollGuard::child_dirs(std::string_view parent) {
  check();
  return inner_.child_dirs(parent);
}

void PollGuard::put_dir(std::string_view parent, const DirState& dir) {
  check();
  inner_.put_dir(parent, dir);
}

void PollGuard::erase_dir_tree(std::string_view path) {
  check();
  inner_.erase_dir_tree(path);
}

std::vector<UnitState> PollGuard::units(std::string_view dir) {
  check();
  return inner_.units(dir);
}

void PollGuard::put_unit(std::string_view dir, const UnitState& unit) {
  check();
  inner_.put_unit(dir, unit);
}

void PollGuard::erase_unit(std::string_view dir, std::string_view name) {
  check();
  inner_.erase_unit(dir, name);
}

std::uint64_t PollGuard::unit_count() { return inner_.unit_count(); }

std::uint64_t PollGuard::units_with_status(std::string_view status) { return inner_.units_with_status(status); }

}  // namespace sennen::pipeline
