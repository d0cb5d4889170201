// How an instance travels, and why kill -9 at any point neither loses nor duplicates it:
//
//  1. Receiver (SCP thread, or the dicom-qr C-GET): data set -> incoming/.recv-N.part -> fsync ->
//     checks -> rename to incoming/<SOP>~N.dcm -> fsync dir -> answer success. Before the rename
//     the peer has no success and resends; the temporary is removed at the next start. A pull
//     (C-GET, C-MOVE) skips both fsyncs and syncs the file system once before take(): until then
//     the PACS still has the instance and the study is not yet counted as held.
//  2. take(): a file in incoming/ without a unit state is handed to the sink, and its unit state
//     "ingested <store path>" is written; both are committed together at the checkpoint. Killed
//     before that commit, neither exists and the next poll hands the file over again.
//  3. The next poll's settle(), before anything of that poll is handed over (so every state it
//     reads is committed), renames the file into store/ (where locate() finds it for records the
//     gate holds back) and erases the state. Never a take() later in the same poll: dicom-qr
//     takes after each study, and a state read there may not be committed yet (moved then, a kill
//     before the commit left the file in store/ and no record of it in the spool). The folders
//     those renames changed (incoming/, each series folder, and the parent of any folder made for
//     them) are fsynced once each at the end of settle(), so the spool never commits an erased
//     state whose rename a power loss could undo. Killed in between, the file is already in store/
//     (or back in incoming/, and moved again); the stale state is erased when its file is no
//     longer in incoming/, once the folders such a move touches are fsynced (the crash may have
//     come before they were).
//  A file re-received with the same name cannot happen (N is unique), and the same instance
//  received twice has the same version (SOP UID + content hash). take() drops a version taken in
//  before: the source's record of what it took (taken_dir, one unit per SOP UID with the hash of
//  the version last taken, written in the same transaction as the record, so it survives delivery
//  and store/ being emptied), or store/ (every version whose hand-over was committed; settle()
//  moves nothing else there). Both say only what a commit made true, so neither can drop an
//  instance whose record a kill undid.
#include "adapters/sources/dicom_common/incoming.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include "daemon/util/error.hpp"
#include "daemon/core/patient_id.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/sha256.hpp"

namespace sennen::dicom {
namespace fs = std::filesystem;

namespace {

constexpr const char* kIncomingDir = "incoming";  // SourceState folder of the incoming units
constexpr const char* kIngestedPrefix = "ingested ";
constexpr std::size_t kCheckpointEvery = 200;  // files per spool transaction
constexpr std::size_t kHashPrefix = 16;

std::int64_t ns_of(const struct timespec& t) { return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

}  // namespace

IncomingFolder::IncomingFolder(std::string source_name, Folders folders, PatientIdMapping mapping,
                               std::string taken_dir)
    : name_(std::move(source_name)),
      folders_(std::move(folders)),
      mapping_(mapping),
      taken_dir_(std::move(taken_dir)) {}

std::optional<std::vector<ContentPart>> IncomingFolder::locate(std::string_view path, std::string_view version) const {
  // path "<Study>/<Series>/<SOP>.dcm", version "<SOP>:<hash prefix>"; checked before use.
  std::string p(path), v(version);
  auto s1 = p.find('/'), s2 = p.rfind('/'), colon = v.find(':');
  if (s1 == std::string::npos || s1 == s2 || colon == std::string::npos || p.size() < 4 ||
      p.substr(p.size() - 4) != ".dcm")
    return std::nullopt;
  std::string study = p.substr(0, s1), series = p.substr(s1 + 1, s2 - s1 - 1),
              sop = p.substr(s2 + 1, p.size() - 4 - s2 - 1), hash = v.substr(colon + 1);
  if (!is_safe_uid(study) || !is_safe_uid(series) || !is_safe_uid(sop) || v.substr(0, colon) != sop ||
      hash.size() != kHashPrefix || hash.find_first_not_of("0123456789abcdef") != std::string::npos)
    return std::nullopt;
  std::error_code ec;
  fs::path stored = folders_.store / study / series / (sop + "." + hash + ".dcm");
  if (auto size = fs::file_size(stored, ec); !ec) return std::vector<ContentPart>{{"", stored, size}};
  // Not moved yet: still in incoming/ (the spool checks the hash of what we return).
  for (const auto& e : fs::directory_iterator(folders_.incoming, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind(sop + "~", 0) == 0)
      if (auto size = fs::file_size(e.path(), ec); !ec) return std::vector<ContentPart>{{"", e.path(), size}};
  }
  return std::nullopt;
}

bool IncomingFolder::holds(const std::string& study, const std::string& series, const std::string& sop) const {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folders_.store / study / series, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind(sop + ".", 0) == 0 && n.size() == sop.size() + 1 + kHashPrefix + 4) return true;
  }
  return false;
}

// Data sets the Receiver refused go to the pipeline's quarantine, with the reason it recorded.
void IncomingFolder::quarantine_rejected(SourceContext& ctx, const SeenBefore& seen_before) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(folders_.rejected, ec))
    if (e.path().extension() == ".dcm") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    fs::path reason_file = fs::path(f).replace_extension(".reason.txt");
    std::string reason = "refused by the DICOM receiver";
    try {
      reason = util::read_small_file(reason_file, 64 * 1024);
      while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    } catch (const Error&) {
    }
    const std::string stem = f.stem().string();
    const std::string sop = stem.substr(0, stem.find('~'));
    if (!(seen_before && stem.find('~') != std::string::npos && is_safe_uid(sop) &&
          seen_before(sop, util::sha256_file_hex(f).substr(0, kHashPrefix)))) {
      ctx.sink.quarantine_owned(f, f.filename().string(), reason);
      ++ctx.stats.quarantined;
    } else {
      fs::remove(f, ec);  // a copy of a data set already taken
    }
    fs::remove(reason_file, ec);
  }
}

std::vector<std::string> IncomingFolder::list_incoming() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folders_.incoming, ec)) {
    std::string n = e.path().filename().string();
    if (n.empty() || n[0] == '.' || e.path().extension() != ".dcm") continue;  // receiver temporaries
    names.push_back(n);
  }
  if (ec) throw Error("source " + name_ + ": cannot list " + folders_.incoming.string() + ": " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

// The state says the file was handed over as it is now (not replaced since).
bool handed_over(const UnitState& u, const struct stat& st) {
  return u.status.rfind(kIngestedPrefix, 0) == 0 && u.size == static_cast<std::uint64_t>(st.st_size) &&
         u.mtime_ns == ns_of(st.st_mtim);
}

}  // namespace

void IncomingFolder::settle(SourceContext& ctx) {
  std::map<std::string, UnitState> known;
  for (auto& u : ctx.state.units(kIncomingDir)) known.emplace(u.name, u);
  std::set<fs::path> touched;  // folders whose entries the moves changed, fsynced before the commit
  for (const auto& n : list_incoming()) {
    const fs::path file = folders_.incoming / n;
    struct stat st {};
    auto prev = known.find(n);
    if (prev == known.end() || ::stat(file.c_str(), &st) != 0) continue;
    const UnitState u = prev->second;
    known.erase(prev);
    if (!handed_over(u, st)) continue;  // replaced since: take() hands it over again
    move_to_store(file, u.status.substr(std::string_view(kIngestedPrefix).size()), touched);
    ctx.state.erase_unit(kIncomingDir, n);
  }
  for (const auto& [n, u] : known)  // moved to store/ just before a crash, or gone
    if (!fs::exists(folders_.incoming / n)) {
      if (u.status.rfind(kIngestedPrefix, 0) == 0)
        note_interrupted_move(u.status.substr(std::string_view(kIngestedPrefix).size()), touched);
      ctx.state.erase_unit(kIncomingDir, n);
    }
  for (const auto& dir : touched) util::fsync_directory(dir);  // before the caller's commit erases the states
}

void IncomingFolder::take(SourceContext& ctx, const OnIngested& on_ingested, const Annotate& annotate) {
  std::map<std::string, UnitState> known;  // this poll's states too: handed over, not yet committed
  for (auto& u : ctx.state.units(kIncomingDir)) known.emplace(u.name, u);
  const std::vector<std::string> names = list_incoming();
  // Durable before the spool records any of it (a held patient's file is the only copy): a
  // retrieve's files are written without fsync (dicom_qr's receiver_options). Synced after the
  // listing, so that a file arriving between the two, which a sync before it would miss, is not
  // in this take.
  if (!names.empty()) util::sync_filesystem(folders_.incoming);
  taken_.clear();  // the state may have been rolled back since the last take()
  dropped_ = 0;
  std::size_t since_checkpoint = 0;
  for (const auto& n : names) {
    if (ctx.stop_requested) break;
    const fs::path file = folders_.incoming / n;
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) continue;
    if (auto prev = known.find(n); prev != known.end() && handed_over(prev->second, st)) continue;
    if (ingest(ctx, file, n, st, on_ingested, annotate)) ++since_checkpoint;
    if (since_checkpoint >= kCheckpointEvery) {
      ctx.sink.checkpoint();
      since_checkpoint = 0;
    }
  }
  ctx.stats.files_seen = names.size();
  if (dropped_)
    log::notice("source " + name_ + ": dropped " + std::to_string(dropped_) +
                " instance(s) received again with the same bytes as one taken in before (a sender's "
                "retry); they are not sent twice");
}

bool IncomingFolder::ingest(SourceContext& ctx, const fs::path& file, const std::string& n, const struct stat& st,
                            const OnIngested& on_ingested, const Annotate& annotate) {
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  ReadResult r = read_instance(file);
  std::string mapped = r.instance ? map_patient_id(r.instance->patient_id, mapping_) : "";
  std::string problem = !r.instance ? r.error
                        : canonical_patient_id(mapped)
                            ? ""
                            : "PatientID (0010,0020) is not a usable patient ID: " + patient_id_problem(mapped);
  if (!problem.empty()) {  // the Receiver checked this already; only a changed file gets here
    ctx.sink.quarantine_owned(file, n, problem);
    ++ctx.stats.quarantined;
    return false;
  }
  const Instance& in = *r.instance;
  std::string hash;
  try {
    hash = util::sha256_file_hex(file).substr(0, kHashPrefix);
  } catch (const Error& e) {
    log::warning("source " + name_ + ": " + e.what());
    ++ctx.stats.waiting;
    return false;
  }
  const std::string store_rel = in.study_uid + "/" + in.series_uid + "/" + in.sop_instance_uid + "." + hash + ".dcm";
  auto [taken, first] = taken_.try_emplace(in.study_uid);
  if (first)
    for (auto& u : ctx.state.units(taken_dir_ + in.study_uid)) taken->second.emplace(u.name, u.status);
  const auto last = taken->second.find(in.sop_instance_uid);
  if ((last != taken->second.end() && last->second == hash) ||
      fs::exists(folders_.store / store_rel)) {  // taken in before: the same bytes again
    std::error_code ec;
    fs::remove(file, ec);
    ++dropped_;
    return false;
  }
  RecordDraft d;
  d.source = name_;
  d.key = in.study_uid + "/" + in.sop_instance_uid;
  d.version = in.sop_instance_uid + ":" + hash;
  d.patient_id = mapped;
  d.kind = "DICOM-" + (in.modality.empty() ? std::string("OT") : in.modality);
  d.path = in.study_uid + "/" + in.series_uid + "/" + in.sop_instance_uid + ".dcm";
  d.event = Event::upsert;
  d.parts = {ContentPart{"", file, size}};
  d.attributes = {{"study_uid", in.study_uid},
                  {"series_uid", in.series_uid},
                  {"sop_instance_uid", in.sop_instance_uid},
                  {"sop_class_uid", in.sop_class_uid},
                  {"modality", in.modality},
                  {"study_date", in.study_date},
                  {"transfer_syntax", in.transfer_syntax}};
  if (annotate) annotate(in, d.attributes);
  try {  // a failure of the spool itself is not the file's: it ends the poll
    ctx.sink.record(d);
  } catch (const SourceFileError& e) {
    log::warning("source " + name_ + ": " + e.what());
    ++ctx.stats.waiting;
    return false;
  }
  ctx.state.put_unit(kIncomingDir, {n, size, ns_of(st.st_mtim), ns_of(st.st_ctim), kIngestedPrefix + store_rel});
  ctx.state.put_unit(taken_dir_ + in.study_uid, {in.sop_instance_uid, 0, 0, 0, hash});
  taken->second[in.sop_instance_uid] = hash;
  if (on_ingested) on_ingested(in, hash);
  ++ctx.stats.ingested;
  ctx.stats.bytes += size;
  return true;
}

void IncomingFolder::move_to_store(const fs::path& file, const std::string& store_rel, std::set<fs::path>& touched) {
  fs::path dir = folders_.store;
  for (const auto& part : fs::path(store_rel).parent_path()) {
    if (fs::create_directory(dir / part)) touched.insert(dir);  // a new entry of its parent
    dir /= part;
  }
  fs::rename(file, folders_.store / store_rel);
  touched.insert(dir);
  touched.insert(folders_.incoming);
}

void IncomingFolder::note_interrupted_move(const std::string& store_rel, std::set<fs::path>& touched) const {
  touched.insert(folders_.incoming);
  std::error_code ec;
  if (!fs::exists(folders_.store / store_rel, ec)) return;  // never moved: nothing of it in store/
  for (fs::path dir = (folders_.store / store_rel).parent_path(); dir != folders_.store.parent_path();
       dir = dir.parent_path())
    touched.insert(dir);
}

}  // namespace sennen::dicom
