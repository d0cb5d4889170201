#pragma once
// A whole pipeline in one process, for tests of complete cycles: the real spool, gate, sealer and
// dispatcher, a fake source (one record per file of a folder), a fake destination that keeps what
// it is given (and can be told to fail or to run a hook), and a manual clock.
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/config/config.hpp"
#include "daemon/core/content_filter.hpp"
#include "daemon/core/destination.hpp"
#include "daemon/core/source.hpp"
#include "daemon/pipeline/pipeline.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/support/temp_dir.hpp"

namespace sennen::pipeline::testing {

// Every regular file in `folder` named "<patient>_<anything>" is one record of that patient
// (version = path = the file name; key = the name up to a '.', so "1_k.v1" and "1_k.v2" are two
// versions of the key "1_k"). A name holding "~YYYYMMDD" is also evidence of a visit on that day
// (for the notification gate), reported before the record. Files are taken once; a changed file
// is not re-read. A patient starting with '*' makes a record of many patients, read by the content
// filter of that name ("*lines_m" is filtered by "lines"). `during_poll` runs as the poll begins.
class FolderSource final : public Source {
 public:
  // `polls`, when given, gets ctx.full_scan of every poll appended.
  FolderSource(std::string name, std::filesystem::path folder, std::function<void()> during_poll = nullptr,
               std::vector<bool>* polls = nullptr)
      : name_(std::move(name)), folder_(std::move(folder)), during_poll_(std::move(during_poll)), polls_(polls) {}
  const std::string& name() const override { return name_; }
  void poll(SourceContext& ctx) override;
  std::optional<std::vector<ContentPart>> locate(std::string_view path, std::string_view version) const override;

 private:
  std::string name_;
  std::filesystem::path folder_;
  std::function<void()> during_poll_;
  std::vector<bool>* polls_;
};

// A batch as the destination received it: its id, and its manifest as the central side reads it.
struct Received {
  std::string batch_id;
  nlohmann::json manifest;
};

// The central side as the tests see it; it outlives pipelines (a restart keeps what it received).
struct Receiver {
  std::filesystem::path keep;  // where received batch files are copied
  // Called with each batch before it is taken; its answer replaces success when it is not ok().
  // It may also change the world (the stop list, say) as a delivery in progress would see it.
  std::function<DeliveryResult(const BatchFile&)> on_deliver;
  bool keep_even_if_failing = false;  // store the batch, then answer the failure (a lost response)
  bool presence_unknown = false;      // presence() cannot ask
  bool heartbeat_fails = false;
  std::function<void()> during_heartbeat;  // runs while a heartbeat is being taken

  std::vector<Received> received;      // in delivery order (a re-delivery appears again)
  std::set<std::string> complete;      // batch ids whose marker is here
  std::vector<std::string> abandoned;  // batch ids the pipeline said it will never deliver
  int heartbeats = 0;
  int presence_asked = 0;

  // "source:path" of every upsert received, in order; patient keys of every withdrawal.
  std::vector<std::string> record_paths() const;
  std::vector<std::string> withdrawn() const;
};

// The bytes of `record` (an entry of batch.manifest["records"]), read back from the batch file
// the receiver kept.
std::string received_bytes(const Receiver& r, const Received& batch, const nlohmann::json& record);
// The content of every upsert of `path` the receiver took, one after another with "|" between them.
std::string received_content(const Receiver& r, const std::string& path);

// A content filter for records of many patients ("*lines_..."): each line "<patient>:<text>" is
// one unit, kept only if the gate lets that patient's data leave.
FilterCounts filter_lines(const ContentReader& read, const PatientGate& gate, const ContentWriter& write);

class FakeDestination final : public Destination {
 public:
  explicit FakeDestination(Receiver& r) : r_(r) {}
  std::string describe() const override { return "fake"; }
  DeliveryResult deliver(const BatchFile& batch) override;
  DeliveryResult put_heartbeat(std::string_view json) override;
  Presence presence(const BatchFile& batch) override;
  void abandon(const BatchFile& batch) override { r_.abandoned.push_back(batch.batch_id); }
  DeliveryResult check_access() override { return DeliveryResult::delivered(); }

 private:
  Receiver& r_;
};

// A state_dir, a stop list, a folder per source and a throwaway PKI, with a config to match.
struct Site {
  sennen::test::TempDir dir;
  test::ManualClock clock;
  config::Config cfg;
  Receiver receiver;
  ContentFilters filters;             // given to every pipeline started
  std::function<void()> during_poll;  // runs as each source's poll begins (staff at work meanwhile)
  std::vector<bool> polls;            // every poll of every source: whether it was a full scan

  explicit Site(const std::vector<std::string>& source_names = {"emr"});
  std::filesystem::path source_folder(const std::string& source = "emr") const { return dir / ("src-" + source); }
  // Writes a record file "<patient>_<name>" into a source's folder.
  void add_record(const std::string& patient, const std::string& name, const std::string& content,
                  const std::string& source = "emr");
  void set_stop_list(const std::string& text);
  std::vector<std::filesystem::path> outbox_files() const;  // what the outbox holds, by name
  std::unique_ptr<Pipeline> start();                        // a new pipeline on the site (as after a restart)
};

CycleResult run(Pipeline& p);           // a whole cycle, every source polled, window ignored
CycleResult deliver_only(Pipeline& p);  // seal and deliver, poll nothing (as the service's retry)
bool mentions(const CycleResult& r, const std::string& text);
DeliveryResult receiver_down(
    const BatchFile&);  // a Receiver::on_deliver: every delivery fails  // an error of the cycle holds `text`

}  // namespace sennen::pipeline::testing
