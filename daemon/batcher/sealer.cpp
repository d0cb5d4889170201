#include "daemon/batcher/sealer.hpp"

#include <cstdio>
#include <set>

#include "daemon/batcher/manifest.hpp"
#include "daemon/core/error.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"

namespace sennen::batcher {
namespace fs = std::filesystem;
namespace {
constexpr std::size_t kPage = 512;

std::int64_t unix_now(const Clock& c) {
  return std::chrono::duration_cast<std::chrono::seconds>(c.now().time_since_epoch()).count();
}

std::string batch_id_for(const std::string& site, std::int64_t created, std::int64_t seq) {
  std::time_t t = static_cast<std::time_t>(created);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  char seqs[24];
  std::snprintf(seqs, sizeof seqs, "%08lld", static_cast<long long>(seq));
  return site + "-" + stamp + "-" + seqs;
}
}  // namespace

Sealer::Sealer(spool::Spool& spool, const SealingKeys& keys, SealOptions options, const Clock& clock)
    : spool_(spool), keys_(keys), options_(std::move(options)), clock_(clock) {
  std::error_code ec;
  fs::create_directories(options_.outbox, ec);
  if (ec) throw Error("cannot create outbox " + options_.outbox.string() + ": " + ec.message());
}

fs::path Sealer::outbox_file(const std::string& batch_id) const { return options_.outbox / (batch_id + ".cms"); }

void recover_interrupted_batches(spool::Spool& spool, const fs::path& outbox) {
  std::error_code ec;
  fs::create_directories(outbox, ec);
  for (const auto& b : spool.batches_in_state("sealing")) {
    fs::remove(outbox / (b.batch_id + ".cms.partial"), ec);
    fs::remove(outbox / (b.batch_id + ".cms"), ec);
    spool.void_batch(b.batch_id, "interrupted while sealing; never left the box");
    log::notice("batch " + b.batch_id + " was interrupted while being sealed; its records will be sealed again");
  }
}

std::vector<std::string> Sealer::seal_all(const std::string& stop_sha, const Eligible& eligible,
                                          const std::atomic<bool>& stop, SealProgress& progress) {
  std::vector<std::string> sealed;
  while (!stop) {
    std::string id;
    if (!seal_one(stop_sha, eligible, progress, id)) break;
    sealed.push_back(id);
  }
  return sealed;
}

bool Sealer::seal_one(const std::string& stop_sha, const Eligible& eligible, SealProgress& progress,
                      std::string& batch_id) {
  auto withdrawals = spool_.pending_withdrawals();
  const std::uint64_t fixed = BatchWriter::worst_case_fixed_bytes(keys_) + 4096 + 256 * withdrawals.size();
  const std::uint64_t budget = options_.max_bytes > fixed ? options_.max_bytes - fixed : 0;

  std::vector<PlannedRecord> plan;
  std::set<std::string> used_paths;
  std::uint64_t planned = 0, raw = 0;
  bool full = false;
  spool_.begin_read();
  for (std::int64_t after = 0; !full;) {
    auto page = spool_.ready_records(after, kPage);
    if (page.empty()) break;
    for (auto& r : page) {
      after = r.id;
      if (!eligible(r.patient_key)) continue;
      PlannedRecord p;
      p.archive_path = archive_path_for(r);
      if (!used_paths.insert(p.archive_path).second) p.archive_path += "~" + std::to_string(r.id);
      bool single = r.parts.size() == 1 && r.parts[0].name.empty();
      std::uint64_t cost = 0;
      if (r.event == Event::upsert) {
        for (const auto& part : r.parts) {
          std::string path = single ? p.archive_path : p.archive_path + "/" + part.name;
          cost += BatchWriter::worst_case_entry_bytes(path, part.size);
          p.part_paths.push_back(std::move(path));
        }
      }
      p.record = std::move(r);
      cost += manifest_record_json(p).size() + 2;
      if (!plan.empty() && planned + cost > budget) {
        full = true;
        break;
      }
      if (plan.empty() && cost > budget)
        log::warning("record " + p.record.path + " (" + std::to_string(p.record.size) +
                     " bytes) is larger than batch.max_bytes allows; it is sealed alone in a larger batch "
                     "(raise batch.max_bytes to keep batches within the limit)");
      planned += cost;
      raw += p.record.size;
      plan.push_back(std::move(p));
    }
  }
  spool_.commit();
  if (plan.empty() && withdrawals.empty()) return false;

  ManifestHeader h;
  h.site_id = options_.site_id;
  h.created_at = unix_now(clock_);
  std::int64_t seq = spool_.next_batch_seq();
  h.batch_id = batch_id_for(options_.site_id, h.created_at, seq);
  h.stop_list_sha256 = stop_sha;
  std::vector<std::int64_t> ids, wids;
  for (const auto& p : plan) ids.push_back(p.record.id);
  for (const auto& w : withdrawals) wids.push_back(w.id);
  spool_.create_batch(h.batch_id, seq, ids, wids, raw, stop_sha, h.created_at);

  fs::path partial = fs::path(outbox_file(h.batch_id)) += ".partial";
  std::error_code ec;
  fs::remove(partial, ec);
  SealedFile out;
  {
    spool_.begin_read();  // one snapshot for all the blobs read below
    BatchWriter writer(partial, keys_, options_.zstd_level, h.created_at);
    std::string manifest = build_manifest(h, plan, withdrawals);
    writer.add_bytes("manifest.json", std::as_bytes(std::span(manifest.data(), manifest.size())));
    for (const auto& p : plan) {
      if (p.record.event != Event::upsert) continue;
      for (std::size_t i = 0; i < p.record.parts.size(); ++i) {
        const auto& part = p.record.parts[i];
        auto reader = spool_.open_part(part.part_id);
        writer.add_stream(p.part_paths[i], part.size, [&](std::span<std::byte> buf) { return reader->read(buf); });
      }
    }
    out = writer.finish();
    spool_.commit();
  }
  fs::rename(partial, outbox_file(h.batch_id));
  util::fsync_directory(options_.outbox);
  spool_.mark_sealed(h.batch_id, out.size, out.sha256);
  progress.batches += 1;
  progress.records += plan.size();
  progress.bytes += out.size;
  log::info("sealed batch " + h.batch_id + ": " + std::to_string(plan.size()) + " records, " +
            std::to_string(withdrawals.size()) + " withdrawals, " + std::to_string(out.size) + " bytes");
  batch_id = h.batch_id;
  return true;
}

}  // namespace sennen::batcher
