#pragma once
// A poll that fills the spool to its cap stops at its next safe point, exactly like a poll the
// service asked to stop: sources only read ctx.stop_requested, so the pipeline gives them this
// guard's flag and the guard raises it when the service stops or the spool is full. It checks
// whenever the source touches its polling state (every folder and every file it deals with), so
// a stop needs no thread. What the source wrote so far is committed with the records it
// describes; the folder it was in is listed again by the next poll: nothing is skipped.
#include <atomic>
#include <functional>

#include "daemon/core/source.hpp"

namespace sennen::pipeline {

class PollGuard final : public SourceState {
 public:
  PollGuard(SourceState& inner, const std::atomic<bool>& stop, std::function<bool()> spool_full);

  const std::atomic<bool>& halt() const { return halt_; }  // what the source reads as stop_requested
  bool halted_by_cap() const { return by_cap_; }

  std::vector<DirState> child_dirs(std::string_view parent) override;
  void put_dir(std::string_view parent, const DirState& dir) override;
  void erase_dir_tree(std::string_view path) override;
  std::vector<UnitState> units(std::string_view dir) override;
  void put_unit(std::string_view dir, const UnitState& unit) override;
  void erase_unit(std::string_view dir, std::string_view name) override;
  std::uint64_t unit_count() override;
  std::uint64_t units_with_status(std::string_view status) override;

 private:
  void check();

  SourceState& inner_;
  const std::atomic<bool>& stop_;
  std::function<bool()> spool_full_;
  std::atomic<bool> halt_;
  bool by_cap_ = false;
};

}  // namespace sennen::pipeline
