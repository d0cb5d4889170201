#pragma once
// An IngestSink that remembers what a source handed over (the adapter tests check the adapter,
// not the gate); SourceState is the real spool-backed one.
#include <string>
#include <vector>

#include "daemon/core/source.hpp"
#include "daemon/util/sha256.hpp"
#include "tests/support/temp_dir.hpp"

namespace sennen::test {

struct RecordingSink final : IngestSink {
  struct Seen {
    RecordDraft draft;
    std::vector<std::string> contents;  // bytes of each part as read at hand-over
  };
  std::vector<Seen> records;
  std::vector<std::pair<std::string, std::string>> visits;       // patient, date
  std::vector<std::pair<std::string, std::string>> quarantined;  // rel path, reason
  std::vector<std::string> by_reference;                         // rel paths quarantined without a copy
  int checkpoints = 0;

  void record(const RecordDraft& d) override {
    Seen s{d, {}};
    for (const auto& p : d.parts) {
      try {  // as the spool reports a part it cannot read
        s.contents.push_back(read_file(p.file));
      } catch (const std::runtime_error& e) {
        throw SourceFileError(SourceFileError::Kind::unreadable, p.file, e.what());
      }
    }
    records.push_back(std::move(s));
  }
  void visit(std::string_view patient, std::string_view, std::string_view date) override {
    visits.emplace_back(patient, date);
  }
  void quarantine(const std::filesystem::path&, std::string_view rel, std::string_view reason) override {
    quarantined.emplace_back(rel, reason);
  }
  // Taken over as the pipeline's sink takes it: gone from where it was.
  void quarantine_owned(const std::filesystem::path& file, std::string_view rel, std::string_view reason) override {
    quarantined.emplace_back(rel, reason);
    std::filesystem::remove(file);
  }
  void quarantine_by_reference(std::string_view rel, std::string_view reason, std::uint64_t) override {
    quarantined.emplace_back(rel, reason);
    by_reference.emplace_back(rel);
  }
  void checkpoint() override { ++checkpoints; }
  void clear() {
    records.clear();
    visits.clear();
    quarantined.clear();
    by_reference.clear();
  }
};

}  // namespace sennen::test
