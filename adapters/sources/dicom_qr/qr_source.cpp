// State kept in SourceState (committed with the records of the same poll):
//   "qr/held/<Study>"  one unit per SOP Instance UID taken into the spool (status: its hash)
//   "qr/studies"       one unit per study seen: size = instances held, status "complete" or
//                      "incomplete <held>/<C-FIND count>"
//   "qr/watermark"     unit "study_date", status YYYYMMDD: the next query starts there minus lookback
// The watermark never passes a study that is still incomplete, so such a study is queried and
// retrieved again on every poll until all its instances are held; and it is written in the same
// transaction as the records, so it advances only when they are committed.
#include "adapters/sources/dicom_qr/qr_source.hpp"

#include <algorithm>
#include <chrono>
#include <map>

#include "adapters/sources/dicom_scp/incoming.hpp"
#include "adapters/sources/dicom_scp/receiver.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/name_text.hpp"

namespace sennen::dicom {
namespace {

constexpr const char* kHeldDir = "qr/held/";
constexpr const char* kStudiesDir = "qr/studies";
constexpr const char* kWatermarkDir = "qr/watermark";
constexpr const char* kWatermarkUnit = "study_date";

bool is_date(const std::string& d) { return d.size() == 8 && d.find_first_not_of("0123456789") == std::string::npos; }

std::string date_minus(const std::string& yyyymmdd, int days) {
  using namespace std::chrono;
  year_month_day ymd{year{std::stoi(yyyymmdd.substr(0, 4))}, month{static_cast<unsigned>(std::stoi(yyyymmdd.substr(4, 2)))},
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

ScpSourceOptions receiver_options(const QrSourceOptions& o) {
  ScpSourceOptions r;
  r.name = o.name;
  r.state_dir = o.state_dir;
  r.min_free = o.min_free;
  r.max_incoming = o.max_incoming;
  r.patient_id = o.patient_id;
  r.sync_each_instance = false;  // take() syncs the file system once instead
  return r;
}

class QrSource final : public Source {
 public:
  explicit QrSource(QrSourceOptions options)
      : options_(std::move(options)),
        receiver_options_(receiver_options(options_)),
        folders_(Folders::of(options_.state_dir, options_.name)),
        receiver_(receiver_options_, folders_),
        incoming_(options_.name, folders_, options_.patient_id, true) {}

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
  void take(SourceContext& ctx) {
    // What was retrieved since the last take() was written without fsync (receiver_options):
    // durable now, before the spool records any of it (a held patient's file is the only copy).
    util::sync_filesystem(folders_.incoming);
    incoming_.quarantine_rejected(ctx);
    incoming_.take(ctx, [&](const Instance& in, const std::string& hash) {
      ctx.state.put_unit(kHeldDir + in.study_uid, {in.sop_instance_uid, 0, 0, 0, hash});
    });
  }

  void poll_pacs(SourceContext& ctx) {
    ctx.stats = SourceStats{};
    if (!prepared_) {
      receiver_.prepare(ctx.spool_full);
      prepared_ = true;
    }
    if (options_.retrieve == Retrieve::move && !move_scp_) start_move_acceptor();
    take(ctx);  // what a previous poll retrieved but did not commit, and moves committed ones to store/
    ctx.sink.checkpoint();

    std::string watermark;
    for (const auto& u : ctx.state.units(kWatermarkDir))
      if (u.name == kWatermarkUnit && is_date(u.status)) watermark = u.status;
    std::string from = !watermark.empty() ? date_minus(watermark, options_.lookback_days)
                       : is_date(options_.since) ? options_.since
                                                 : std::string();
    const std::string today = site_date(ctx.clock.now(), options_.utc_offset_minutes);
    const std::string range = from.empty() ? std::string() : from + "-";

    QrAssociation assoc(options_.peer);
    std::vector<StudyMatch> studies = assoc.find_studies(range);
    std::sort(studies.begin(), studies.end(),
              [](const StudyMatch& a, const StudyMatch& b) { return a.study_date < b.study_date; });
    std::map<std::string, UnitState> known;
    for (auto& u : ctx.state.units(kStudiesDir)) known.emplace(u.name, u);

    std::string oldest_incomplete;
    std::uint64_t incomplete = 0;
    for (const auto& s : studies) {
      if (ctx.stop_requested) {
        if (oldest_incomplete.empty() || s.study_date < oldest_incomplete) oldest_incomplete = s.study_date;
        ++incomplete;
        continue;
      }
      if (!is_safe_uid(s.study_uid)) {
        log::warning("source " + name() + ": the PACS returned a study with an invalid StudyInstanceUID; skipped");
        continue;
      }
      auto k = known.find(s.study_uid);
      std::uint64_t held = k != known.end() ? k->second.size : 0;
      const bool complete_before = k != known.end() && k->second.status == "complete";
      // Nothing new: the PACS has no more instances than we hold.
      if (complete_before && s.instances && held >= *s.instances) continue;
      std::string problem;
      try {
        // A C-GET gets an association of its own that proposes exactly the study's storage
        // classes (there is room for only so many presentation contexts in one).
        RetrieveResult r = options_.retrieve == Retrieve::move
                               ? assoc.move_study(s.study_uid, options_.peer.local_ae_title)
                               : QrAssociation(options_.peer, s.sop_classes).get_study(s.study_uid, receiver_);
        if (r.status != status::success && r.failed == 0 && r.warning == 0)
          problem = "the retrieve ended with status 0x" + std::to_string(r.status);
        else if (r.failed > 0)
          problem = std::to_string(r.failed) + " sub-operations failed";
      } catch (const Error& e) {
        problem = e.what();
      }
      take(ctx);
      held = ctx.state.units(kHeldDir + s.study_uid).size();
      const bool complete = problem.empty() && (!s.instances || held >= *s.instances);
      std::string st = complete ? "complete"
                                : "incomplete " + std::to_string(held) + "/" +
                                      (s.instances ? std::to_string(*s.instances) : std::string("?"));
      ctx.state.put_unit(kStudiesDir, {s.study_uid, held, 0, 0, st});
      ctx.sink.checkpoint();
      if (!complete) {
        ++incomplete;
        if (oldest_incomplete.empty() || s.study_date < oldest_incomplete) oldest_incomplete = s.study_date;
        log::warning("source " + name() + ": study " + s.study_uid + " (StudyDate " +
                     util::display_name(s.study_date) + ") is " + st +
                     (problem.empty() ? std::string() : " (" + problem + ")") + "; retried on the next poll");
      }
    }
    ctx.stats.waiting += incomplete;
    // Advance only up to the oldest incomplete study (or today), written with this poll's commit.
    std::string next = incomplete && is_date(oldest_incomplete) ? std::min(oldest_incomplete, today) : today;
    if (incomplete && !is_date(oldest_incomplete)) next = watermark;  // undated and incomplete: stay
    if (is_date(next)) ctx.state.put_unit(kWatermarkDir, {kWatermarkUnit, 0, 0, 0, next});
    ctx.sink.checkpoint();
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
  ScpSourceOptions receiver_options_;
  Folders folders_;
  Receiver receiver_;
  IncomingFolder incoming_;
  std::unique_ptr<StoreScp> move_scp_;  // declared after receiver_: stopped before it goes
  bool prepared_ = false;
};

}  // namespace

std::unique_ptr<Source> make_dicom_qr_source(QrSourceOptions options) {
  return std::make_unique<QrSource>(std::move(options));
}

}  // namespace sennen::dicom
