#pragma once
// The pipeline's side of a poll: every record goes through the gate and into the spool, inside
// the poll's transaction, committed in chunks at the source's safe points.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "daemon/core/source.hpp"
#include "daemon/gate/eligibility.hpp"
#include "daemon/spool/spool.hpp"

namespace sennen::pipeline {

struct GateCounts {
  std::uint64_t eligible = 0, stopped = 0, not_notified = 0;
};

class IngestSinkImpl final : public IngestSink {
 public:
  // `tx`: the poll's transaction, committed in chunks at checkpoints.
  IngestSinkImpl(spool::Spool& spool, spool::Spool::Transaction& tx, const gate::Gate& gate, const Clock& clock,
                 std::string source, std::filesystem::path quarantine_dir, std::function<void()> on_progress);

  void record(const RecordDraft& draft) override;
  void visit(std::string_view patient_id, std::string_view key, std::string_view date) override;
  void quarantine(const std::filesystem::path& file, std::string_view rel_path, std::string_view reason) override;
  void quarantine_owned(const std::filesystem::path& file, std::string_view rel_path, std::string_view reason) override;
  void quarantine_by_reference(std::string_view rel_path, std::string_view reason, std::uint64_t size) override;
  void checkpoint() override;

  const GateCounts& counts() const { return counts_; }
  // Content bytes this sink put into the spool (records of eligible patients; held ones keep only
  // their hashes): what the poll adds towards spool.max_bytes.
  std::uint64_t stored_bytes() const { return stored_bytes_; }

 private:
  std::optional<int> first_visit(const std::string& patient_key);
  std::int64_t now() const;

  spool::Spool& spool_;
  spool::Spool::Transaction& tx_;
  const gate::Gate& gate_;
  const Clock& clock_;
  std::string source_;
  std::filesystem::path quarantine_dir_;
  std::function<void()> on_progress_;
  std::map<std::string, std::optional<int>> first_visit_cache_;  // per transaction chunk
  std::uint64_t ops_in_tx_ = 0;
  GateCounts counts_;
  std::uint64_t stored_bytes_ = 0;
};

}  // namespace sennen::pipeline
