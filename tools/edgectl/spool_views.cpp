// sennen-edgectl queue, audit and batch show: read-only views of the spool.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <set>

#include "daemon/core/patient_id.hpp"
#include "daemon/spool/spool_reader.hpp"
#include "daemon/util/name_text.hpp"
#include "daemon/util/time_format.hpp"
#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/common.hpp"

namespace sennen::edgectl {
namespace {

using nlohmann::json;

// Opens the spool named by the config and runs `fn` on it and the config; errors become exit status 2.
template <typename Fn>
int with_spool(const Common& c, const char* command, Fn fn) {
  auto cfg = load_config(c.config);
  if (!cfg) return 2;
  try {
    spool::SpoolReader r(cfg->state_dir);
    r.begin();
    int rc = fn(r, *cfg);
    r.end();
    return rc;
  } catch (const std::exception& e) {
    std::cerr << "sennen-edgectl " << command << ": " << e.what() << "\n";
    return 2;
  }
}

std::string state_text(const std::string& state, const std::string& hold_reason) {
  return state == "held" ? "held (" + hold_reason + ")" : state;
}

}  // namespace

int queue(const Common& c) {
  return with_spool(c, "queue", [&](spool::SpoolReader& r, const config::Config&) {
    const std::int64_t now = now_unix();
    const auto rows = r.queue();
    const spool::Depth d = r.depth();
    if (c.json) {
      json out = {{"records", json::array()},
                  {"withdrawals_pending", d.withdrawals_pending},
                  {"batches_pending", d.batches_pending}};
      for (const auto& q : rows) {
        json row = {{"source", q.source},
                    {"state", q.state},
                    {"hold_reason", q.hold_reason.empty() ? json(nullptr) : json(q.hold_reason)},
                    {"count", q.count},
                    {"bytes", q.bytes},
                    {"oldest_age_seconds", now - q.oldest_ingested_at}};
        util::put_name(row, "kind", q.kind);  // an extended-storage type folder's name: any bytes
        out["records"].push_back(std::move(row));
      }
      print_json(out);
      return 0;
    }
    if (rows.empty())
      std::cout << "no records pending\n";
    else {
      // Column widths from the data: kinds of extended storage are long ("L-OBSERVATIONS^...").
      int ws = 6, wk = 4, wt = 5;
      for (const auto& q : rows) {
        ws = std::max(ws, static_cast<int>(q.source.size()));
        wk = std::max(wk, static_cast<int>(shown(q.kind).size()));
        wt = std::max(wt, static_cast<int>(state_text(q.state, q.hold_reason).size()));
      }
      std::printf("%-*s  %-*s  %-*s  %8s  %10s  %s\n", ws, "SOURCE", wk, "KIND", wt, "STATE", "COUNT", "BYTES",
                  "OLDEST");
      for (const auto& q : rows)
        std::printf("%-*s  %-*s  %-*s  %8lld  %10s  %s\n", ws, q.source.c_str(), wk, shown(q.kind).c_str(), wt,
                    state_text(q.state, q.hold_reason).c_str(), static_cast<long long>(q.count),
                    bytes(static_cast<std::uint64_t>(q.bytes)).c_str(), age(now - q.oldest_ingested_at).c_str());
    }
    std::cout << "withdrawals pending: " << d.withdrawals_pending
              << "; sealed batches waiting for delivery: " << d.batches_pending << "\n";
    return 0;
  });
}

namespace {
constexpr const char* kAuditNote =
    "Only what is still on this box is shown: records and withdrawals leave the spool when their batch is "
    "delivered, and delivered batches do not keep a list of patients. What was already sent is in the "
    "central side's batch manifests.";
}

int audit(const Common& c, const std::string& patient_id) {
  auto key = canonical_patient_id(patient_id);
  if (!key) {
    std::cerr << "sennen-edgectl audit: not a patient ID: " << patient_id_problem(patient_id) << "\n";
    return 2;
  }
  return with_spool(c, "audit", [&](spool::SpoolReader& r, const config::Config& cfg) {
    const spool::PatientAudit a = r.audit(*key);
    // Times as the hospital reads them: its own time zone, with the offset.
    auto local = [&](std::int64_t t) { return util::iso8601_at_offset(t, cfg.site.utc_offset_minutes); };
    std::set<std::string> batches;
    std::set<std::string> hospital_ids;  // the ID as the EMR wrote it (e.g. with leading zeros)
    for (const auto& rec : a.records) {
      if (!rec.batch_id.empty()) batches.insert(rec.batch_id);
      hospital_ids.insert(rec.patient_id);
    }
    for (const auto& w : a.withdrawals)
      if (!w.batch_id.empty()) batches.insert(w.batch_id);
    const std::optional<std::string> first_visit =
        a.first_visit_day ? std::optional(util::iso_date(*a.first_visit_day)) : std::nullopt;
    if (c.json) {
      json out = {{"patient_key", *key},
                  {"patient_ids", hospital_ids},
                  {"on_stop_list_since", a.stopped_since ? json(local(*a.stopped_since)) : json(nullptr)},
                  {"first_visit", first_visit ? json(*first_visit) : json(nullptr)},
                  {"records", json::array()},
                  {"withdrawals", json::array()},
                  {"batches", batches},
                  {"note", kAuditNote}};
      for (const auto& rec : a.records) {
        json row = {{"source", rec.source},
                    {"patient_id", rec.patient_id},
                    {"event", rec.event},
                    {"state", rec.state},
                    {"hold_reason", rec.hold_reason.empty() ? json(nullptr) : json(rec.hold_reason)},
                    {"batch_id", rec.batch_id.empty() ? json(nullptr) : json(rec.batch_id)},
                    {"batch_state", rec.batch_state.empty() ? json(nullptr) : json(rec.batch_state)},
                    {"ingested_at", local(rec.ingested_at)}};
        util::put_name(row, "kind", rec.kind);
        util::put_name(row, "path", rec.path);
        out["records"].push_back(std::move(row));
      }
      for (const auto& w : a.withdrawals)
        out["withdrawals"].push_back({{"effective_at", local(w.effective_at)},
                                      {"state", w.batch_id.empty() ? "queued" : "in batch (" + w.batch_state + ")"},
                                      {"batch_id", w.batch_id.empty() ? json(nullptr) : json(w.batch_id)}});
      print_json(out);
      return 0;
    }
    std::cout << "patient " << *key << " (canonical form of the ID given, as the stop list is matched)\n";
    std::cout << "  as the hospital's records write it: ";
    if (hospital_ids.empty()) std::cout << "- (no record of this patient is left in the spool)";
    bool first_id = true;
    for (const auto& id : hospital_ids) {
      std::cout << (first_id ? "" : ", ") << id;
      first_id = false;
    }
    std::cout << "\n  stop list: " << (a.stopped_since ? "on it since " + local(*a.stopped_since) : "not on it")
              << "\n";
    std::cout << "  visits seen: " << (first_visit ? "first on " + *first_visit : "none") << "\n";
    std::cout << "  records in the spool: " << a.records.size() << "\n";
    for (const auto& rec : a.records)
      std::cout << "    " << local(rec.ingested_at) << "  " << state_text(rec.state, rec.hold_reason)
                << (rec.batch_id.empty() ? "" : " in " + rec.batch_id + " (" + rec.batch_state + ")") << "  "
                << rec.source << " " << shown(rec.kind) << " " << rec.event << " " << shown(rec.path) << "\n";
    std::cout << "  withdrawals: " << a.withdrawals.size() << "\n";
    for (const auto& w : a.withdrawals)
      std::cout << "    effective " << local(w.effective_at) << ": "
                << (w.batch_id.empty() ? "queued, not in a batch yet" : "in " + w.batch_id + " (" + w.batch_state + ")")
                << "\n";
    std::cout << "  batches still referenced: " << (batches.empty() ? "none" : "");
    bool first = true;
    for (const auto& b : batches) {
      std::cout << (first ? "" : ", ") << b;
      first = false;
    }
    std::cout << "\n  note: " << kAuditNote << "\n";
    return 0;
  });
}

int batch_show(const Common& c, std::int64_t seq) {
  return with_spool(c, "batch show", [&](spool::SpoolReader& r, const config::Config&) {
    const auto b = r.batch_with_seq(seq);
    if (!b) {
      std::cerr << "sennen-edgectl batch show: this site sealed no batch with sequence " << seq
                << " (the numbers are the manifests' `sequence`, as sennen-restore reports a gap)\n";
      return 2;
    }
    const auto records = r.delivered_records(seq);
    const bool delivered = b->state == spool::BatchState::delivered;
    // Before schema 6 the spool kept nothing of a delivered batch's records.
    const bool unknown = delivered && records.empty() && b->record_count > 0;
    if (c.json) {
      json out = {{"sequence", b->seq},
                  {"batch_id", b->batch_id},
                  {"state", spool::to_string(b->state)},
                  {"created_at", when(b->created_at)},
                  {"delivered_at", b->delivered_at ? json(when(b->delivered_at)) : json(nullptr)},
                  {"record_count", b->record_count},
                  {"withdrawal_count", b->withdrawal_count},
                  {"records_known", !unknown},
                  {"records", json::array()}};
      for (const auto& d : records) {
        json row = {{"source", d.source}, {"event", d.event}, {"size", d.size}, {"sha256", d.sha256}};
        util::put_name(row, "kind", d.kind);
        util::put_name(row, "path", d.path);
        util::put_name(row, "record_key", d.record_key);
        out["records"].push_back(std::move(row));
      }
      print_json(out);
      return 0;
    }
    std::cout << "batch " << b->batch_id << " (sequence " << b->seq << "): " << spool::to_string(b->state)
              << ", sealed " << when(b->created_at);
    if (b->delivered_at) std::cout << ", delivered " << when(b->delivered_at);
    std::cout << "; " << b->record_count << " records, " << b->withdrawal_count << " withdrawals\n";
    if (!delivered) {
      std::cout << "  not delivered: its records are still in the spool (sennen-edgectl queue)\n";
    } else if (unknown) {
      std::cout << "  delivered before this spool kept what delivered batches held (schema 6): its records "
                   "are not known here\n";
    } else {
      for (const auto& d : records)
        std::cout << "  " << d.event << " " << d.source << " " << shown(d.kind) << " " << shown(d.path) << " " << d.size
                  << " " << d.sha256 << "\n";
    }
    return 0;
  });
}

}  // namespace sennen::edgectl
