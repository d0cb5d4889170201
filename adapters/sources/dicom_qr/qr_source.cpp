// State kept in SourceState (committed with the records of the same poll), as the types of
// checkpoints.hpp:
//   "qr/held/<Study>"  one unit per SOP Instance UID taken into the spool (status: its hash), written
//                      by IncomingFolder, which drops an identical instance retrieved again
//   "qr/studies"       a StudyProgress per study seen
//   "qr/refused"       a Refusal per SOP Instance UID refused (and quarantined) once: the same
//                      refusal again (a study retrieved again because it grew) is dropped, and it
//                      counts toward its study's completeness
//   "qr/watermark"     the date "study_date": the next query starts there minus lookback
//   "qr/stored_ts/<Study>"  the transfer syntax the PACS reported storing, per SOP Instance UID,
//                      kept from before the retrieve until the instance is taken in, so that a
//                      transcoded arrival is recognised even when a restart comes in between
// The watermark never passes a dated study that is still incomplete, so such a study is queried and
// retrieved again on every poll until all its instances are held or refused; and it is written in
// the same transaction as the records, so it advances only when they are committed. An incomplete
// study the date range no longer finds (one without StudyDate) is looked up by its UID instead.
#include "adapters/sources/dicom_qr/qr_source.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include "adapters/sources/dicom_common/incoming.hpp"
#include "adapters/sources/dicom_qr/checkpoints.hpp"
#include "adapters/sources/dicom_common/receiver.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/name_text.hpp"

namespace sennen::dicom {
namespace {

constexpr const char* kHeldDir = "qr/held/";
constexpr const char* kStudiesDir = "qr/studies";
constexpr const char* kWatermarkDir = "qr/watermark";
constexpr const char* kWatermarkUnit = "study_date";
constexpr const char* kStoredTsDir = "qr/stored_ts/";
constexpr const char* kRefusedDir = "qr/refused";

std::string date_minus(const std::string& yyyymmdd, int days) {
  using namespace std::chrono;
  year_month_day ymd{year{std::stoi(yyyymmdd.substr(0, 4))},
                     month{static_cast<unsigned>(std::stoi(yyyymmdd.substr(4, 2)))},
                     day{static_cast<unsigned>(std::stoi(yyyymmdd.substr(6, 2)))}};
  if (!ymd.ok()) return yyyymmdd;
  year_month_day back{sys_days{ymd} - std::chrono::days{days}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d%02u%02u", static_cast<int>(back.year()), static_cast<unsigned>(back.month()),
                static_cast<unsigned>(back.day()));
  return buf;
}

// The hospital's calendar day (StudyDate is local time there), whatever zone the box is set to.
std::string site_date(TimePoint t, int utc_offset_minutes) {
  using namespace std::chrono;
  const year_month_day ymd{floor<days>(t + minutes{utc_offset_minutes})};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d%02u%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

ReceiverOptions receiver_options(const QrSourceOptions& o) {
  ReceiverOptions r;
  r.name = o.name;
  r.state_dir = o.state_dir;
  r.min_free = o.min_free;
  r.max_incoming = o.max_incoming;
  r.patient_id = o.patient_id;
  r.sync_each_instance = false;  // IncomingFolder::take() syncs the file system once instead
  r.pull = true;
  return r;
}

class QrSource final : public Source {
 public:
  explicit QrSource(QrSourceOptions options)
      : options_(std::move(options)),
        receiver_options_(receiver_options(options_)),
        folders_(Folders::of(options_.state_dir, options_.name)),
        receiver_(receiver_options_, folders_),
        incoming_(options_.name, folders_, options_.patient_id, kHeldDir) {}

  const std::string& name() const override { return options_.name; }

  void poll(SourceContext& ctx) override {
    try {
      poll_pacs(ctx);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {  // std::filesystem errors: the pipeline handles sennen::Error
      throw Error("source " + name() + ": " + e.what() + "; check that " + options_.state_dir.string() +
                  " is writable by the service and not full");
    }
  }

  std::optional<std::vector<ContentPart>> locate(std::string_view path, std::string_view version) const override {
    return incoming_.locate(path, version);
  }

 private:
  // The transfer syntax the PACS reported storing `in` in, when it differs from the one `in` came
  // in: the PACS transcoded it (empty otherwise, or when it did not say).
  std::string stored_syntax_if_transcoded(SourceContext& ctx, const Instance& in) {
    auto [at, added] = stored_ts_.try_emplace(in.study_uid);
    if (added) at->second = SyntaxTable(ctx.state, kStoredTsDir + in.study_uid).all();
    auto ts = at->second.find(in.sop_instance_uid);
    return ts != at->second.end() && ts->second != in.transfer_syntax ? ts->second : std::string();
  }

  // `study`: the one just retrieved, whose refusals are in rejected/ (empty for what a previous
  // poll left behind).
  void take(SourceContext& ctx, const std::string& study = {}) {
    RefusalTable refusals(ctx.state, kRefusedDir);
    incoming_.quarantine_rejected(ctx, [&](const std::string& sop, const std::string& hash) {
      const auto before = refusals.get(sop);
      const bool seen = before && before->hash == hash;
      if (!seen || (before->study.empty() && !study.empty())) refusals.put(sop, {hash, study});
      return seen;
    });
    stored_ts_.clear();
    incoming_.take(
        ctx,
        [&](const Instance& in, const std::string&) {
          if (std::string stored = stored_syntax_if_transcoded(ctx, in); !stored.empty()) {
            log::warning("source " + name() + ": the PACS transcoded instance " + in.sop_instance_uid + " of study " +
                         in.study_uid + ": it stores it as " + stored + " and sent it as " + in.transfer_syntax +
                         "; its record says so (attribute stored_transfer_syntax) and is not the PACS's bytes");
            receiver_.events().add(kTranscoded, options_.peer.ae_title);
          }
          SyntaxTable(ctx.state, kStoredTsDir + in.study_uid).erase(in.sop_instance_uid);
        },
        [&](const Instance& in, std::vector<std::pair<std::string, std::string>>& attributes) {
          if (std::string stored = stored_syntax_if_transcoded(ctx, in); !stored.empty())
            attributes.emplace_back("stored_transfer_syntax", stored);
        });
  }

  std::uint64_t refused_in(SourceContext& ctx, const std::string& study) {
    std::uint64_t n = 0;
    for (const auto& [sop, r] : RefusalTable(ctx.state, kRefusedDir).all())
      if (r.study == study) ++n;
    return n;
  }

  // Retrieves one study without letting the PACS transcode what it can send as stored (qr_scu.hpp,
  // plan_get), and notes the syntaxes it reports storing, committed before anything arrives.
  RetrieveResult retrieve_study(SourceContext& ctx, QrAssociation& assoc, const StudyMatch& s) {
    std::vector<InstanceMatch> found = assoc.find_instances(s.study_uid);
    SyntaxTable stored(ctx.state, kStoredTsDir + s.study_uid);
    for (const auto& m : found)
      if (!m.transfer_syntax.empty() && is_safe_uid(m.sop_uid) && is_safe_uid(m.transfer_syntax))
        stored.put(m.sop_uid, m.transfer_syntax);
    ctx.sink.checkpoint();
    if (options_.retrieve == Retrieve::move) return assoc.move_study(s.study_uid, options_.peer.local_ae_title);
    // Each C-GET gets an association of its own that proposes exactly what its part may bring.
    RetrieveResult total;
    for (const RetrievePart& part : plan_get(s, found)) {
      QrAssociation get(options_.peer, part.contexts);
      total.add(part.instances.empty() ? get.get_study(s.study_uid, receiver_)
                                       : get.get_instances(s.study_uid, part.instances, receiver_));
    }
    return total;
  }

  void poll_pacs(SourceContext& ctx) {
    ctx.stats = SourceStats{};
    if (!prepared_) {
      receiver_.prepare(ctx.spool_full);
      prepared_ = true;
    }
    if (options_.retrieve == Retrieve::move && !move_scp_) start_move_acceptor();
    incoming_.settle(ctx);  // what the last poll committed moves to store/
    take(ctx);              // what a previous poll retrieved but did not commit
    ctx.sink.checkpoint();

    DateTable watermarks(ctx.state, kWatermarkDir);
    const std::string watermark = watermarks.get(kWatermarkUnit).value_or(std::string());
    std::string from = !watermark.empty()        ? date_minus(watermark, options_.lookback_days)
                       : is_date(options_.since) ? options_.since
                                                 : std::string();
    const std::string today = site_date(ctx.clock.now(), options_.utc_offset_minutes);
    const std::string range = from.empty() ? std::string() : from + "-";

    log::stage("qr-find", name());
    auto assoc = std::make_unique<QrAssociation>(options_.peer);
    std::vector<StudyMatch> studies = assoc->find_studies(range);
    StudyTable progress(ctx.state, kStudiesDir);
    const std::map<std::string, StudyProgress> known = progress.all();
    // Incomplete studies the range did not bring back (no StudyDate, or dated before it): by UID.
    std::set<std::string> found;
    for (const auto& s : studies) found.insert(s.study_uid);
    for (const auto& [uid, p] : known)
      if (!p.complete && !found.count(uid) && is_safe_uid(uid))
        for (auto& m : assoc->find_studies("", uid))
          if (m.study_uid == uid) studies.push_back(std::move(m));
    std::sort(studies.begin(), studies.end(),
              [](const StudyMatch& a, const StudyMatch& b) { return a.study_date < b.study_date; });

    std::string oldest_incomplete;
    std::uint64_t incomplete = 0;
    for (const auto& s : studies) {
      if (!ctx.stop_requested && assoc && !assoc->usable()) assoc = reopen(std::move(assoc));
      if (ctx.stop_requested || !assoc) {  // the rest waits for the next poll
        if (is_date(s.study_date) && (oldest_incomplete.empty() || s.study_date < oldest_incomplete))
          oldest_incomplete = s.study_date;
        ++incomplete;
        continue;
      }
      if (!is_safe_uid(s.study_uid)) {
        log::warning("source " + name() + ": the PACS " + options_.peer.ae_title + " at " + options_.peer.host + ":" +
                     std::to_string(options_.peer.port) + " named a study whose StudyInstanceUID '" +
                     util::display_name(s.study_uid) +
                     "' is not a valid UID (digits and dots, at most 64), so it cannot be retrieved; skipped "
                     "(correct the study's UID in the PACS)");
        continue;
      }
      const auto k = known.find(s.study_uid);
      // Nothing new: the PACS has no more instances than we hold.
      if (k != known.end() && k->second.complete && s.instances && k->second.held >= *s.instances) continue;
      std::string problem;
      log::stage("qr-retrieve", name() + ", study " + s.study_uid);
      try {
        RetrieveResult r = retrieve_study(ctx, *assoc, s);
        if (r.status != status::success && r.failed == 0 && r.warning == 0) {
          char hex[8];
          std::snprintf(hex, sizeof hex, "%04X", r.status);
          problem = std::string("the retrieve ended with status 0x") + hex;
        }
        else if (r.failed > 0)
          problem = std::to_string(r.failed) + " sub-operations failed";
      } catch (const Error& e) {
        problem = e.what();
      }
      log::stage("walk", name());
      take(ctx, s.study_uid);
      StudyProgress now;
      now.refused = refused_in(ctx, s.study_uid);
      now.held = ctx.state.units(kHeldDir + s.study_uid).size() + now.refused;
      now.expected = s.instances;
      now.complete = problem.empty() && (!s.instances || now.held >= *s.instances);
      if (!now.complete) now.refused = 0;  // the stored form of an incomplete study counts refusals in held only
      const bool complete = now.complete;
      if (complete && now.refused && (k == known.end() || k->second.text() != now.text()))
        log::warning("source " + name() + ": study " + s.study_uid + " is complete with " +
                     std::to_string(now.refused) +
                     " instance(s) refused and quarantined (the reasons are in the quarantine); it is not "
                     "retrieved again unless it grows");
      progress.put(s.study_uid, now);
      if (complete)  // what the PACS reported of instances that never came (deleted meanwhile)
        SyntaxTable(ctx.state, kStoredTsDir + s.study_uid).clear();
      ctx.sink.checkpoint();
      if (!complete) {
        ++incomplete;
        // An undated study cannot hold the watermark back (it would hold it forever): it is looked
        // up by UID while incomplete.
        if (is_date(s.study_date) && (oldest_incomplete.empty() || s.study_date < oldest_incomplete))
          oldest_incomplete = s.study_date;
        log::warning("source " + name() + ": study " + s.study_uid +
                     (s.study_date.empty() ? std::string(" (no StudyDate)")
                                           : " (StudyDate " + util::display_name(s.study_date) + ")") +
                     " is " + now.text() + (problem.empty() ? std::string() : " (" + problem + ")") +
                     "; retried on the next poll");
      }
    }
    ctx.stats.waiting += incomplete;
    // Advance only up to the oldest incomplete study (or today), written with this poll's commit.
    std::string next = is_date(oldest_incomplete) ? std::min(oldest_incomplete, today) : today;
    if (is_date(next)) watermarks.put(kWatermarkUnit, next);
    ctx.stats.events = receiver_.events().snapshot();
    ctx.sink.checkpoint();
  }

  // A new association in place of one given up after a failed exchange (the PACS may still be
  // answering the request we gave up on); null, said once, when the PACS does not take another.
  std::unique_ptr<QrAssociation> reopen(std::unique_ptr<QrAssociation> broken) {
    broken.reset();  // aborted before the next is asked for
    try {
      return std::make_unique<QrAssociation>(options_.peer);
    } catch (const Error& e) {
      log::warning("source " + name() + ": " + e.what() + "; the studies left are retrieved on the next poll");
      return nullptr;
    }
  }

  // retrieve: move — like dcmtk's movescu, our own C-STORE acceptor under our AE title, fed
  // through the same Receiver as C-GET. It accepts only the PACS's AE title and keeps listening
  // between polls (the port stays ours).
  void start_move_acceptor() {
    ScpOptions o;
    o.port = options_.move_port;
    o.bind_address = options_.move_address;
    o.ae_title = options_.peer.local_ae_title;
    o.allowed_calling_ae_titles = {options_.peer.ae_title};
    o.acse_timeout = options_.peer.acse_timeout;
    o.dimse_timeout = options_.peer.dimse_timeout;
    auto scp = std::make_unique<StoreScp>(std::move(o), receiver_);
    scp->start();
    move_scp_ = std::move(scp);
    log::notice("source " + name() + ": accepting C-MOVE sub-operations as '" + options_.peer.local_ae_title +
                "' on port " + std::to_string(options_.move_port));
  }

  QrSourceOptions options_;
  ReceiverOptions receiver_options_;
  Folders folders_;
  Receiver receiver_;
  IncomingFolder incoming_;
  std::unique_ptr<StoreScp> move_scp_;  // declared after receiver_: stopped before it goes
  bool prepared_ = false;
  std::map<std::string, std::map<std::string, std::string>> stored_ts_;  // take()'s cache of kStoredTsDir
};

}  // namespace

std::unique_ptr<Source> make_dicom_qr_source(QrSourceOptions options) {
  return std::make_unique<QrSource>(std::move(options));
}

}  // namespace sennen::dicom
