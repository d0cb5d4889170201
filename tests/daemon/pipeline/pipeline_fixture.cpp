#include "tests/daemon/pipeline/pipeline_fixture.hpp"

#include <algorithm>
#include <atomic>
#include <optional>
#include <sstream>

#include "daemon/util/error.hpp"
#include "tests/daemon/batcher/fixtures.hpp"

namespace sennen::pipeline::testing {
namespace fs = std::filesystem;
using batcher::testing::pki;

void FolderSource::poll(SourceContext& ctx) {
  ctx.stats = SourceStats{};
  if (polls_) polls_->push_back(ctx.full_scan);
  if (during_poll_) during_poll_();
  std::set<std::string> known;
  for (const auto& u : ctx.state.units("")) known.insert(u.name);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(folder_)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const std::string name = f.filename().string();
    ++ctx.stats.files_seen;
    if (known.count(name)) continue;
    RecordDraft d;
    d.source = name_;
    d.version = d.path = name;
    d.key = name.substr(0, name.find('.'));
    d.patient_id = name.substr(0, name.find('_'));
    d.kind = "TEST";
    d.parts.push_back({"", f, fs::file_size(f), nullptr});
    if (const auto at = name.find('~'); at != std::string::npos && name.size() >= at + 9)
      ctx.sink.visit(d.patient_id, d.key, name.substr(at + 1, 8));
    ctx.sink.record(d);
    ctx.state.put_unit("", {name, d.parts[0].size, 0, 0, "ingested"});
    ++ctx.stats.ingested;
    ctx.sink.checkpoint();
  }
}

std::optional<std::vector<ContentPart>> FolderSource::locate(std::string_view path, std::string_view) const {
  const fs::path f = folder_ / std::string(path);
  std::error_code ec;
  const auto size = fs::file_size(f, ec);
  if (ec) return std::nullopt;
  return std::vector<ContentPart>{{"", f, size, nullptr}};
}

DeliveryResult FakeDestination::deliver(const BatchFile& b) {
  DeliveryResult answer = r_.on_deliver ? r_.on_deliver(b) : DeliveryResult::delivered();
  if (!answer.ok() && !r_.keep_even_if_failing) return answer;
  const fs::path copy = r_.keep / (b.batch_id + ".cms");
  fs::create_directories(r_.keep);
  fs::copy_file(b.file, copy, fs::copy_options::overwrite_existing);
  const std::string manifest =
      sennen::test::run_output(batcher::testing::unseal_command(copy, "central") + " | tar -xO manifest.json");
  r_.received.push_back({b.batch_id, nlohmann::json::parse(manifest)});
  r_.complete.insert(b.batch_id);
  return answer;
}

DeliveryResult FakeDestination::put_heartbeat(std::string_view) {
  ++r_.heartbeats;
  if (r_.during_heartbeat) r_.during_heartbeat();
  return r_.heartbeat_fails ? DeliveryResult::retry("heartbeat refused (test)") : DeliveryResult::delivered();
}

Presence FakeDestination::presence(const BatchFile& b) {
  ++r_.presence_asked;
  if (r_.presence_unknown) return Presence::unknown("cannot ask (test)");
  return r_.complete.count(b.batch_id) ? Presence::complete() : Presence::absent();
}

std::vector<std::string> Receiver::record_paths() const {
  std::vector<std::string> out;
  for (const auto& r : received)
    for (const auto& rec : r.manifest["records"])
      if (rec["event"] == "upsert")
        out.push_back(rec["source"].get<std::string>() + ":" + rec["path"].get<std::string>());
  return out;
}

std::vector<std::string> Receiver::withdrawn() const {
  std::vector<std::string> out;
  for (const auto& r : received)
    for (const auto& w : r.manifest["withdrawals"]) out.push_back(w["patient_key"].get<std::string>());
  return out;
}

std::string received_bytes(const Receiver& r, const Received& batch, const nlohmann::json& record) {
  return sennen::test::run_output(batcher::testing::unseal_command(r.keep / (batch.batch_id + ".cms"), "central") +
                                  " | tar -xO '" + record["archive_path"].get<std::string>() + "'");
}

std::string received_content(const Receiver& r, const std::string& path) {
  std::string out;
  for (const auto& b : r.received)
    for (const auto& rec : b.manifest["records"])
      if (rec["event"] == "upsert" && rec["path"] == path) out += (out.empty() ? "" : "|") + received_bytes(r, b, rec);
  return out;
}

FilterCounts filter_lines(const ContentReader& read, const PatientGate& gate, const ContentWriter& write) {
  std::string all;
  std::byte buf[4096];
  for (std::size_t n; (n = read(buf)) > 0;) all.append(reinterpret_cast<const char*>(buf), n);
  FilterCounts c;
  c.bytes_in = all.size();
  std::istringstream in(all);
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    switch (gate(colon == std::string::npos ? std::nullopt : std::optional(line.substr(0, colon)))) {
      case Withhold::none:
        write(line + "\n");
        ++c.kept;
        c.bytes_out += line.size() + 1;
        break;
      case Withhold::stopped:
        ++c.stopped;
        break;
      case Withhold::not_notified:
        ++c.not_notified;
        break;
      case Withhold::unattributed:
        ++c.unattributed;
        break;
    }
  }
  return c;
}

Site::Site(const std::vector<std::string>& source_names) {
  cfg.file = dir / "sennen-edge.yaml";
  cfg.site.id = "1312345678";
  cfg.state_dir = dir / "state";
  for (const auto& n : source_names) {
    config::Source s;
    s.name = n;
    cfg.sources.push_back(s);
    fs::create_directories(source_folder(n));
  }
  cfg.optout.stop_list = dir / "optout.csv";
  set_stop_list("");
  cfg.destination.type = "fake";
  cfg.encryption.recipients = {pki() / "central.crt"};
  cfg.encryption.signer_cert = pki() / "site.crt";
  cfg.encryption.signer_key = pki() / "site.key";
  cfg.batch.max_bytes = 1;  // every record in a batch of its own
  receiver.keep = dir / "received";
}

void Site::add_record(const std::string& patient, const std::string& name, const std::string& content,
                      const std::string& source) {
  sennen::test::write_file(source_folder(source) / (patient + "_" + name), content);
}

void Site::set_stop_list(const std::string& text) {
  // Replaced, not rewritten in place, as an editor saving the file does (a new inode).
  sennen::test::write_file(dir / "optout.csv.new", text);
  fs::rename(dir / "optout.csv.new", cfg.optout.stop_list);
}

std::vector<fs::path> Site::outbox_files() const {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(cfg.state_dir / "outbox")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<Pipeline> Site::start() {
  Adapters a;
  for (const auto& s : cfg.sources)
    a.sources.push_back(std::make_unique<FolderSource>(
        s.name, source_folder(s.name),
        [this] {
          if (during_poll) during_poll();
        },
        &polls));
  a.destination = std::make_unique<FakeDestination>(receiver);
  a.filters = filters;
  return std::make_unique<Pipeline>(cfg, clock, std::move(a));
}

CycleResult run(Pipeline& p) {
  std::atomic<bool> stop{false};
  CycleOptions o;
  o.ignore_window = true;
  return p.run_cycle(stop, nullptr, o);
}

CycleResult deliver_only(Pipeline& p) {
  std::atomic<bool> stop{false};
  const std::set<std::string> none;
  return p.run_cycle(stop, &none);
}

DeliveryResult receiver_down(const BatchFile&) { return DeliveryResult::retry("receiver down (test)"); }

bool mentions(const CycleResult& r, const std::string& text) {
  return std::any_of(r.errors.begin(), r.errors.end(),
                     [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

}  // namespace sennen::pipeline::testing
