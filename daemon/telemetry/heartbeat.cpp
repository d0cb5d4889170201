#include "daemon/telemetry/heartbeat.hpp"

#include <nlohmann/json.hpp>

#include "daemon/core/coverage.hpp"
#include "daemon/telemetry/health.hpp"
#include "daemon/util/name_text.hpp"
#include "daemon/util/time_format.hpp"
#include "sennen/version.hpp"

namespace sennen::telemetry {
using nlohmann::json;
namespace {
json time_or_null(std::int64_t t) { return t ? json(util::iso8601_utc(t)) : json(nullptr); }
json text_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// "A restore today would have everything up to `time`": records waiting to leave make it older,
// held ones (stop list, notification wait) do not: they are counted apart, as the law, not a gap.
json recovery_point_json(std::int64_t rp, std::int64_t now, const spool::SourceDepth& d) {
  return {{"time", time_or_null(rp)},
          {"age_seconds", rp ? json(now - rp) : json(nullptr)},
          {"pending", d.pending},
          {"withheld_stopped", d.held_stopped},
          {"withheld_not_notified", d.held_not_notified}};
}

json certificates_json(const std::vector<CertificateStatus>& certs) {
  json out = json::object();
  for (const auto& c : certs) {
    if (c.error.empty())
      out[c.role] = {{"path", c.path.string()},
                     {"not_after", time_or_null(c.not_after)},
                     {"expires_in_days", c.expires_in_days},
                     {"error", nullptr}};
    else
      out[c.role] = {
          {"path", c.path.string()}, {"not_after", nullptr}, {"expires_in_days", nullptr}, {"error", c.error}};
  }
  return out;
}
}  // namespace

std::int64_t recovery_point(std::string_view source, std::int64_t last_success, const spool::Depth& depth) {
  const auto it = depth.sources.find(source);
  if (it != depth.sources.end() && it->second.pending > 0) return it->second.oldest_pending_at;
  return last_success;
}

std::int64_t site_recovery_point(const std::vector<SourcePoll>& sources, const spool::Depth& depth) {
  std::int64_t site = 0;
  for (const auto& s : sources) {
    const std::int64_t rp = recovery_point(s.name, s.last_success, depth);
    if (rp == 0) return 0;
    if (site == 0 || rp < site) site = rp;
  }
  return site;
}

namespace {
// The 17 kinds in the slide's order, each with what was delivered in either form and what is expected.
json coverage_json(const CoverageStatus& c) {
  std::map<std::string_view, std::pair<std::int64_t, std::int64_t>> by_kind;  // structured, pdf_jpeg
  std::int64_t other = 0;
  for (const auto& d : c.delivered) {
    const auto kind = coverage_kind(d.kind);
    if (!kind) {
      other += d.records;
      continue;
    }
    auto& n = by_kind[*kind];
    (d.form == kPdfJpeg ? n.second : n.first) += d.records;
  }
  json kinds = json::array();
  for (const auto& k : kCoverageKinds) {
    const auto n = by_kind[k.id];
    const auto e = c.expected.find(std::string(k.id));
    kinds.push_back({{"kind", k.id},
                     {"label", k.label_ja},
                     {"structured", n.first},
                     {"pdf_jpeg", n.second},
                     {"expected", e == c.expected.end() ? json(nullptr) : json(e->second)}});
  }
  return {{"window_days", c.window_days},
          {"vendor_profiles", c.vendor_profiles},
          {"kinds", std::move(kinds)},
          {"other_records", other}};
}
}  // namespace

std::string heartbeat_json(const HeartbeatInput& in, Audience audience) {
  const auto counts = [&](const std::string& source) {
    const auto it = in.depth.sources.find(source);
    return it == in.depth.sources.end() ? spool::SourceDepth{} : it->second;
  };
  std::vector<SourcePoll> polls;
  for (const auto& s : in.sources) polls.push_back({s.name, s.last_success});
  json sources = json::array();
  for (const auto& s : in.sources) {
    json events = json::object();
    for (const auto& [event, by_peer] : s.stats.events)
      for (const auto& [peer, n] : by_peer) events[event][peer] = {{"total", n.total}, {"last_poll", n.last_poll}};
    sources.push_back({{"name", s.name},
                       {"type", s.type},
                       {"last_poll", time_or_null(s.last_poll)},
                       {"last_success", time_or_null(s.last_success)},
                       {"files_seen", s.stats.files_seen},
                       {"ingested_last_poll", s.stats.ingested},
                       {"quarantined_last_poll", s.stats.quarantined},
                       {"waiting_to_be_stable", s.stats.waiting},
                       {"unreadable", s.stats.unreadable},
                       {"unreadable_paths", audience == Audience::box ? json(s.stats.unreadable_paths) : json(nullptr)},
                       {"skipped", s.stats.skipped},
                       {"events", std::move(events)},
                       {"months", s.stats.months},
                       {"last_error", s.last_error.empty() ? json(nullptr) : json(s.last_error)},
                       {"recovery_point", recovery_point_json(recovery_point(s.name, s.last_success, in.depth), in.now,
                                                              counts(s.name))}});
  }
  json problems = json::array();
  for (const auto& p : assess(in)) problems.push_back({{"code", p.code}, {"message", p.message}});
  const bool failing = !problems.empty();
  json last_batch = nullptr;
  if (in.last_batch)
    last_batch = {{"batch_id", in.last_batch->batch_id},
                  {"created_at", time_or_null(in.last_batch->created_at)},
                  {"delivered_at", time_or_null(in.last_batch->delivered_at)},
                  {"records", in.last_batch->record_count},
                  {"withdrawals", in.last_batch->withdrawal_count},
                  {"size", in.last_batch->file_size}};
  json j = {
      {"format", "sennen-edge-heartbeat/1"},
      {"site_id", in.site_id},
      {"site_name", in.site_name},
      {"version", kVersion},
      {"time", util::iso8601_utc(in.now)},
      {"uptime_seconds", in.now - in.started_at},
      {"interval_seconds", in.interval_seconds},
      {"status", failing ? "failing" : "ok"},
      {"problems", std::move(problems)},
      {"config_sha256", in.config_sha256},
      {"sources", std::move(sources)},
      {"spool",
       {{"ready", in.depth.ready},
        {"ready_bytes", in.depth.ready_bytes},
        {"in_batches", in.depth.batched},
        {"batches_pending", in.depth.batches_pending},
        {"oldest_pending_age_seconds", in.depth.oldest_pending_at ? in.now - in.depth.oldest_pending_at : 0},
        {"quarantined_total", in.depth.quarantined},
        {"content_bytes", in.flow.spool_bytes},
        {"max_bytes", in.flow.spool_max_bytes},
        {"intake_paused", text_or_null(in.flow.intake_paused)}}},
      {"outbox",
       {{"bytes", in.flow.outbox_bytes},
        {"max_bytes", in.flow.outbox_max_bytes},
        {"sealing_paused", text_or_null(in.flow.sealing_paused)}}},
      {"gate",
       {{"stop_list_entries", in.gate.stop_list_entries},
        {"stop_list_unreadable_lines", in.gate.stop_list_problems},
        {"stop_list_sha256", in.gate.stop_list_sha256},
        {"sealing_paused", in.gate.paused_reason.empty() ? json(nullptr) : json(in.gate.paused_reason)},
        {"stopped", in.gate.stopped},
        {"stop_list_retained", in.gate.retained},
        {"attention", text_or_null(in.gate.attention)},
        {"releases_total", in.gate.releases_total},
        {"last_release_at", time_or_null(in.gate.last_release_at)},
        {"withheld_stopped", in.depth.held_stopped},
        {"withheld_not_notified", in.depth.held_not_notified},
        {"purged_total", in.gate.purged_total},
        {"withdrawals_pending", in.depth.withdrawals_pending},
        {"withdrawals_total", in.gate.withdrawals_total}}},
      {"recovery_point", recovery_point_json(site_recovery_point(polls, in.depth), in.now,
                                             {in.depth.ready + in.depth.batched, in.depth.oldest_pending_at,
                                              in.depth.held_stopped, in.depth.held_not_notified})},
      {"last_batch", std::move(last_batch)},
      {"destination",
       {{"describe", in.destination},
        {"last_success", time_or_null(in.destination_last_success)},
        {"last_error", in.destination_error.empty() ? json(nullptr) : json(in.destination_error)},
        {"consecutive_failures", in.destination_consecutive_failures},
        {"next_attempt_at", time_or_null(in.destination_next_attempt_at)},
        {"next_window_open", time_or_null(in.next_window_open)},
        {"upload_window", text_or_null(in.upload_window)},
        {"upload_window_open", in.upload_window_open},
        {"bytes_pending", in.bytes_pending},
        {"oldest_pending_age_seconds", in.oldest_batch_at ? in.now - in.oldest_batch_at : 0}}},
      {"certificates", certificates_json(in.certificates)},
      {"disk",
       {{"state_dir_free_bytes", in.state_dir_free_bytes},
        {"state_dir_total_bytes", in.state_dir_total_bytes},
        {"state_dir_free_needed_bytes", in.state_dir_free_needed}}},
      {"sealing", {{"last_error", text_or_null(in.sealing_error)}, {"consecutive_failures", in.sealing_failures}}},
      {"restarts",
       {{"abnormal_in_last_hour", in.abnormal_starts_in_window},
        {"last_abnormal_at", time_or_null(in.last_abnormal_start_at)}}},
      {"progress",
       {{"summary", in.progress_line},
        {"files_scanned", in.files_scanned},
        {"records_ingested", in.records_ingested},
        {"bytes_sealed", in.bytes_sealed},
        {"bytes_delivered", in.bytes_delivered}}},
      {"coverage", coverage_json(in.coverage)},
  };
  // Messages (a source's last error, a pause reason) may quote names from a source tree: one line
  // each, and never an exception for bytes that are not UTF-8.
  util::one_line_strings(j);
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace sennen::telemetry
