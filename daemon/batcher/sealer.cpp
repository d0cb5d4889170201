#include "daemon/batcher/sealer.hpp"

#include <cstdio>
#include <fstream>
#include <optional>
#include <memory>
#include <set>
#include <vector>

#include "daemon/batcher/manifest.hpp"
#include "daemon/util/durable_dirs.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/name_text.hpp"
#include "daemon/util/sha256.hpp"
#include "daemon/util/stale_temps.hpp"

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
  // What content filters wrote for a batch that a crash interrupted: made again when needed.
  for (const auto& e : fs::directory_iterator(outbox, ec)) {
    const std::string n = e.path().filename().string();
    if (n.starts_with("filtered-")) fs::remove(e.path(), ec);
  }
  for (const auto& b : spool.batches_in_state(spool::BatchState::sealing)) {
    fs::remove(outbox / (b.batch_id + ".cms.partial"), ec);
    fs::remove(outbox / (b.batch_id + ".cms"), ec);
    spool.void_batch(b.batch_id, "interrupted while sealing; never left the box");
    log::notice("batch " + b.batch_id + " was interrupted while being sealed; its records will be sealed again");
  }
}

std::vector<std::string> Sealer::seal_all(const std::string& stop_sha, const Eligible& eligible,
                                          const std::atomic<bool>& stop, SealProgress& progress,
                                          const PatientGate& patients) {
  // Nothing is being sealed now: a batch still 'sealing' failed in a way that could not undo it.
  recover_interrupted_batches(spool_, options_.outbox);
  std::vector<std::string> sealed;
  while (!stop) {
    std::string id;
    const Outcome o = seal_one(stop_sha, eligible, patients, progress, id);
    if (o == Outcome::nothing_ready) break;
    if (o == Outcome::sealed) sealed.push_back(id);
  }
  return sealed;
}

bool Sealer::filter(PlannedRecord& p, const PatientGate& patients) {
  auto& r = p.record;
  const auto f = options_.filters.find(content_filter_of(r.patient_key));
  if (!patients || f == options_.filters.end() || r.parts.size() != 1 || r.event != Event::upsert) return false;
  p.filtered = options_.outbox / ("filtered-" + std::to_string(r.id) + ".tmp");
  auto reader = spool_.open_part(r.parts[0].part_id);
  util::AtomicFile out(p.filtered, 0600);
  util::Sha256 sha;
  const FilterCounts counts = f->second([&](std::span<std::byte> buf) { return reader->read(buf); }, patients,
                                        [&](std::string_view bytes) {
                                          out.write(bytes);
                                          sha.update(bytes);
                                        });
  out.commit();
  r.attributes_json = filtered_attributes(r.attributes_json, r.sha256, r.size, counts);
  r.size = r.parts[0].size = counts.bytes_out;
  r.sha256 = r.parts[0].sha256 = sha.hex_digest();
  return true;
}

Sealer::Outcome Sealer::seal_one(const std::string& stop_sha, const Eligible& eligible, const PatientGate& patients,
                                 SealProgress& progress, std::string& batch_id) {
  log::stage("seal", "planning");
  auto withdrawals = spool_.pending_withdrawals();
  const std::uint64_t fixed = BatchWriter::worst_case_fixed_bytes(keys_) + 4096 + 256 * withdrawals.size();
  const std::uint64_t budget = options_.max_bytes > fixed ? options_.max_bytes - fixed : 0;

  std::vector<PlannedRecord> plan;
  // Files the content filters wrote for this batch, removed whatever happens to it.
  std::vector<fs::path> filtered;
  struct RemoveFiles {
    std::vector<fs::path>& files;
    ~RemoveFiles() {
      std::error_code ec;
      for (const auto& f : files) fs::remove(f, ec);
    }
  } remove_filtered{filtered};
  std::optional<spool::StoredRecord> filter_failed;
  std::string filter_error;
  std::set<std::string> used_paths;
  std::uint64_t planned = 0, raw = 0;
  bool full = false;
  {
    spool::Spool::Transaction snapshot(spool_, spool::Spool::Transaction::Kind::read);
    for (std::int64_t after = 0; !full;) {
      auto page = spool_.ready_records(after, kPage);
      if (page.empty()) break;
      for (auto& r : page) {
        after = r.id;
        PlannedRecord p;
        if (!content_filter_of(r.patient_key).empty()) {
          p.record = std::move(r);
          try {
            if (!filter(p, patients)) continue;
          } catch (const FilterUnavailable& e) {
            std::error_code ec;
            fs::remove(p.filtered, ec);
            log::warning("record " + p.record.source + ":" + util::display_name(p.record.path) +
                         " is not sealed now: " + e.what());
            continue;
          } catch (const std::exception& e) {
            filter_failed = std::move(p.record);
            filter_error = e.what();
            full = true;
            break;
          }
          filtered.push_back(p.filtered);
        } else {
          if (!eligible(r.patient_key)) continue;
          p.record = std::move(r);
        }
        assign_archive_paths(p, used_paths);
        std::uint64_t cost = 0;
        for (std::size_t i = 0; i < p.part_paths.size(); ++i)
          cost += BatchWriter::worst_case_entry_bytes(p.part_paths[i], p.record.parts[i].size);
        cost += manifest_record_json(p).size() + 2;
        if (!plan.empty() && planned + cost > budget) {
          full = true;
          break;
        }
        if (plan.empty() && cost > budget)
          log::warning("record " + p.record.source + ":" + util::display_name(p.record.path) + " (" +
                       std::to_string(p.record.size) +
                       " bytes) is larger than batch.max_bytes allows; it is sealed alone in a larger batch "
                       "(raise batch.max_bytes to keep batches within the limit)");
        planned += cost;
        raw += p.record.size;
        plan.push_back(std::move(p));
      }
    }
    snapshot.commit();
  }
  if (filter_failed) {  // its content is not what its filter reads: out of the way, like a record we cannot write
    set_aside(*filter_failed, "its content filter failed: " + filter_error);
    return Outcome::set_aside;
  }
  if (plan.empty() && withdrawals.empty()) return Outcome::nothing_ready;

  ManifestHeader h;
  h.site_id = options_.site_id;
  h.created_at = unix_now(clock_);
  h.sequence = spool_.next_batch_seq();
  h.batch_id = batch_id_for(options_.site_id, h.created_at, h.sequence);
  h.stop_list_sha256 = stop_sha;
  std::vector<std::int64_t> ids, wids;
  for (const auto& p : plan) ids.push_back(p.record.id);
  for (const auto& w : withdrawals) wids.push_back(w.id);
  h.voided_sequences = spool_.create_batch(h.batch_id, h.sequence, ids, wids, raw, stop_sha, h.created_at);
  log::stage("seal", h.batch_id);

  fs::path partial = fs::path(outbox_file(h.batch_id)) += ".partial";
  std::error_code ec;
  fs::remove(partial, ec);
  SealedFile out;
  const PlannedRecord* culprit = nullptr;  // the record being written when something failed
  try {
    spool::Spool::Transaction snapshot(spool_,
                                       spool::Spool::Transaction::Kind::read);  // one snapshot for all the blobs read
    BatchWriter writer(partial, keys_, options_.zstd_level, h.created_at);
    std::string manifest = build_manifest(h, plan, withdrawals);
    writer.add_bytes("manifest.json", std::as_bytes(std::span(manifest.data(), manifest.size())));
    for (const auto& p : plan) {
      culprit = &p;
      try {
        if (!p.filtered.empty()) {
          std::ifstream in(p.filtered, std::ios::binary);
          if (!in) throw Error("cannot open " + p.filtered.string());
          writer.add_stream(p.part_paths[0], p.record.size, [&](std::span<std::byte> buf) {
            in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
            return static_cast<std::size_t>(in.gcount());
          });
          continue;
        }
        for (std::size_t i = 0; i < p.part_paths.size(); ++i) {
          auto reader = spool_.open_part(p.record.parts[i].part_id);
          writer.add_stream(p.part_paths[i], p.record.parts[i].size,
                            [&](std::span<std::byte> buf) { return reader->read(buf); });
        }
      } catch (...) {
        if (writer.output_failed()) culprit = nullptr;  // the disk, not the record
        throw;
      }
    }
    culprit = nullptr;
    log::stage("sign", h.batch_id);
    out = writer.finish();
    snapshot.commit();
  } catch (const std::exception& e) {
    // The batch never left the box: abandon it, so its records are ready again.
    spool_.void_batch(h.batch_id, std::string("sealing failed: ") + e.what());
    if (!culprit) throw;
    set_aside(culprit->record, e.what());
    return Outcome::set_aside;
  }
  log::stage("seal-commit", h.batch_id);
  fs::rename(partial, outbox_file(h.batch_id));
  util::fsync_directory(options_.outbox);
  spool_.mark_sealed(h.batch_id, out.size, out.sha256);
  progress.batches += 1;
  progress.records += plan.size();
  progress.bytes += out.size;
  log::info("sealed batch " + h.batch_id + ": " + std::to_string(plan.size()) + " records, " +
            std::to_string(withdrawals.size()) + " withdrawals, " + std::to_string(out.size) + " bytes");
  batch_id = h.batch_id;
  return Outcome::sealed;
}

void Sealer::set_aside(const spool::StoredRecord& r, const std::string& why) {
  const std::string shown = r.source + ":" + util::display_name(r.path);
  const fs::path copy =
      spool_.state_dir() / "quarantine" / util::contained_path(r.source) / util::contained_path(r.path);
  const bool single = r.parts.size() == 1 && r.parts[0].name.empty();
  std::vector<std::string> notes;  // what of its bytes could not be read (a damaged spool)
  {
    std::error_code ec;
    fs::remove_all(copy, ec);  // a copy left by an earlier attempt
    // Synced into their parents: once the record leaves the spool below, this copy is the only one.
    const fs::path folder = single ? copy.parent_path() : copy;
    try {
      util::create_directories_durably(folder, spool_.state_dir());
    } catch (const Error& e) {
      throw Error("cannot set aside " + shown + ": " + e.what());
    }
    spool::Spool::Transaction snapshot(spool_, spool::Spool::Transaction::Kind::read);
    std::vector<std::byte> buf(64 * 1024);
    for (std::size_t i = 0; i < r.parts.size(); ++i) {
      const auto& part = r.parts[i];
      const fs::path file = single ? copy : copy / util::contained_path(part.name);
      try {
        util::create_directories_durably(file.parent_path(), folder);
      } catch (const Error& e) {
        throw Error("cannot set aside " + shown + ": " + e.what());
      }
      // Errors writing the copy are the disk's, not the record's: they propagate, and the record
      // stays in the spool.
      util::remove_stale_temps(file);  // of an earlier try cut off
      util::AtomicFile out(file, 0640);
      std::uint64_t got = 0;
      std::unique_ptr<spool::Spool::PartReader> reader;
      try {
        reader = spool_.open_part(part.part_id);
      } catch (const std::exception& e) {
        notes.push_back("part " + std::to_string(i) + " cannot be read from the spool: " + e.what());
      }
      while (reader) {
        std::size_t n = 0;
        try {
          n = reader->read(buf);
        } catch (const std::exception& e) {
          notes.push_back("part " + std::to_string(i) + " cannot be read from the spool: " + e.what());
        }
        if (n == 0) break;
        out.write(std::span(buf.data(), n));
        got += n;
      }
      if (got != part.size)
        notes.push_back("part " + std::to_string(i) + ": " + std::to_string(got) + " of its " +
                        std::to_string(part.size) + " bytes were in the spool");
      out.commit();
    }
    snapshot.commit();
  }
  const std::string reason = "could not be sealed into a batch: " + util::one_line(why);
  {
    std::string text = reason + "\nsource " + r.source + ", path " + util::display_name(r.path) + ", spool record " +
                       std::to_string(r.id) + ", sha256 " + r.sha256 + ", " + std::to_string(r.size) + " bytes\n";
    for (std::size_t i = 0; !single && i < r.parts.size(); ++i)
      text += "part " + std::to_string(i) + ": " + util::display_name(r.parts[i].name) + "\n";
    for (const auto& n : notes) text += util::one_line(n) + "\n";
    util::remove_stale_temps(fs::path(copy) += ".reason.txt");
    util::AtomicFile txt(fs::path(copy) += ".reason.txt", 0640);
    txt.write(text);
    txt.commit();
  }
  spool::Spool::Transaction tx(spool_);
  spool_.add_quarantine(r.source, r.path, reason, r.size, copy.string(), unix_now(clock_));
  spool_.remove_record(r.id);
  tx.commit();
  log::error("record " + shown + " cannot be sealed (" + util::one_line(why) + "); set aside into " +
             util::display_name(copy.string()) + " and out of the spool, so the other records are sealed without it" +
             " (see sennen-edgectl quarantine list)");
}

}  // namespace sennen::batcher
