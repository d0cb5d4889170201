#include "daemon/metrics/exposition.hpp"

#include <cstdio>
#include <functional>
#include <utility>
#include <vector>

namespace sennen::metrics {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
std::string number(std::uint64_t v) { return std::to_string(v); }
std::string number(std::int64_t v) { return std::to_string(v); }

class Writer {
 public:
  // One metric family: HELP and TYPE once, then its samples.
  Writer& family(const std::string& name, const char* type, const char* help) {
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    name_ = name;
    return *this;
  }
  template <typename T>
  Writer& sample(const Labels& labels, T value, const char* suffix = "") {
    out_ += name_ + suffix;
    if (!labels.empty()) {
      out_ += "{";
      for (std::size_t i = 0; i < labels.size(); ++i)
        out_ += (i ? "," : "") + labels[i].first + "=\"" + escape_label(labels[i].second) + "\"";
      out_ += "}";
    }
    out_ += " " + number(value) + "\n";
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_, name_;
};

std::int64_t age(std::int64_t now, std::int64_t since) { return since > 0 && now > since ? now - since : 0; }

void sources(Writer& w, const Snapshot& s) {
  auto each = [&](const std::string& name, const char* type, const char* help,
                  const std::function<std::uint64_t(const SourceMetrics&)>& value) {
    w.family(name, type, help);
    for (const auto& m : s.sources) w.sample(Labels{{"source", m.name}, {"type", m.type}}, value(m));
  };
  each("sennen_source_polls_total", "counter", "Polls of the source since the service started.",
       [](const SourceMetrics& m) { return m.polls; });
  each("sennen_source_poll_failures_total", "counter", "Polls that failed as a whole (root missing, unreadable).",
       [](const SourceMetrics& m) { return m.poll_failures; });
  each("sennen_source_files", "gauge", "Files (units) in the source's tree at the end of its last successful poll.",
       [](const SourceMetrics& m) { return m.files; });
  each("sennen_source_records_ingested_total", "counter", "Records committed to the spool from this source.",
       [](const SourceMetrics& m) { return m.records_ingested; });
  each("sennen_source_bytes_ingested_total", "counter", "Bytes of the records committed from this source.",
       [](const SourceMetrics& m) { return m.bytes_ingested; });
  each("sennen_source_quarantined_total", "counter", "Files of this source set aside into quarantine.",
       [](const SourceMetrics& m) { return m.quarantined; });
  each("sennen_source_last_poll_timestamp_seconds", "gauge", "Unix time of the last poll (0: never).",
       [](const SourceMetrics& m) { return static_cast<std::uint64_t>(m.last_poll); });
  each("sennen_source_last_success_timestamp_seconds", "gauge", "Unix time of the last successful poll (0: never).",
       [](const SourceMetrics& m) { return static_cast<std::uint64_t>(m.last_success); });
  each("sennen_source_recovery_point_timestamp_seconds", "gauge",
       "Unix time up to which everything of this source that may leave has been confirmed delivered (0: not known "
       "yet; held records do not count).",
       [&](const SourceMetrics& m) {
         return static_cast<std::uint64_t>(telemetry::recovery_point(m.name, m.last_success, s.depth));
       });
  each("sennen_source_up", "gauge", "1 when the source's last poll succeeded, else 0.",
       [](const SourceMetrics& m) { return std::uint64_t{m.last_success > 0 && m.last_error.empty()}; });
  w.family("sennen_source_events_total", "counter",
           "What a source turned away or could not keep as it came, by event and peer (heartbeat sources[].events).");
  for (const auto& m : s.sources)
    for (const auto& [event, by_peer] : m.events)
      for (const auto& [peer, n] : by_peer)
        w.sample(Labels{{"source", m.name}, {"type", m.type}, {"event", event}, {"peer", peer}}, n);
}

void destination(Writer& w, const Snapshot& s) {
  const auto& d = s.destination;
  const Labels l{{"destination", d.name}};
  w.family("sennen_destination_batches_delivered_total", "counter", "Batches the destination confirmed.")
      .sample(l, d.batches_delivered);
  w.family("sennen_destination_bytes_delivered_total", "counter", "Bytes of the batches delivered.")
      .sample(l, d.bytes_delivered);
  w.family("sennen_destination_failures_total", "counter", "Deliveries that failed (retried later, never dropped).")
      .sample(l, d.failures);
  w.family("sennen_destination_consecutive_failures", "gauge", "Failures since the last successful delivery.")
      .sample(l, d.consecutive_failures);
  w.family("sennen_destination_last_success_timestamp_seconds", "gauge",
           "Unix time of the last successful delivery since the service started (0: none yet).")
      .sample(l, d.last_success);
}

void spool_and_outbox(Writer& w, const Snapshot& s, std::int64_t now) {
  const auto& d = s.depth;
  w.family("sennen_spool_records", "gauge", "Records in the spool by state (held: withheld by the opt-out gate).")
      .sample(Labels{{"state", "ready"}}, d.ready)
      .sample(Labels{{"state", "batched"}}, d.batched)
      .sample(Labels{{"state", "held_stopped"}}, d.held_stopped)
      .sample(Labels{{"state", "held_not_notified"}}, d.held_not_notified);
  w.family("sennen_spool_ready_bytes", "gauge", "Bytes of the records ready to be sealed.").sample({}, d.ready_bytes);
  w.family("sennen_spool_oldest_pending_age_seconds", "gauge",
           "Age of the oldest record ready or in an undelivered batch (0: none).")
      .sample({}, age(now, d.oldest_pending_at));
  // The site's recovery point: the oldest of its sources' (unknown while one of them is).
  std::vector<telemetry::SourcePoll> polls;
  for (const auto& m : s.sources) polls.push_back({m.name, m.last_success});
  const std::int64_t rp = telemetry::site_recovery_point(polls, d);
  w.family("sennen_recovery_point_timestamp_seconds", "gauge",
           "Unix time up to which everything of every source that may leave has been confirmed delivered "
           "(0: not known yet).")
      .sample({}, rp);
  w.family("sennen_recovery_point_age_seconds", "gauge",
           "Age of the recovery point: what a restore today would miss (0 when not known yet).")
      .sample({}, age(now, rp));
  w.family("sennen_spool_withdrawals_pending", "gauge", "Withdrawals not yet delivered.")
      .sample({}, d.withdrawals_pending);
  w.family("sennen_outbox_batches", "gauge", "Sealed batches waiting for delivery.").sample({}, d.batches_pending);
  w.family("sennen_outbox_bytes", "gauge", "Bytes of the sealed batches waiting for delivery.")
      .sample({}, s.outbox_bytes);
  w.family("sennen_outbox_oldest_age_seconds", "gauge", "Age of the oldest sealed batch waiting (0: none).")
      .sample({}, age(now, s.outbox_oldest_at));
  w.family("sennen_quarantined_files", "gauge", "Files in quarantine now (see sennen-edgectl quarantine list).")
      .sample({}, d.quarantined);
}

void gate(Writer& w, const Snapshot& s) {
  const auto& g = s.gate;
  // Withheld records stay in the spool (key and hash only) until eligible or purged: the held
  // counts are the gate's standing decisions.
  w.family("sennen_gate_withheld_records", "gauge", "Records withheld by the opt-out gate now, by reason.")
      .sample(Labels{{"reason", "stopped"}}, s.depth.held_stopped)
      .sample(Labels{{"reason", "not_notified"}}, s.depth.held_not_notified);
  w.family("sennen_gate_purged_total", "counter", "Pending records purged when their patient joined the stop list.")
      .sample({}, g.purged_total);
  w.family("sennen_gate_withdrawals_total", "counter", "Withdrawals queued for the central side.")
      .sample({}, g.withdrawals_total);
  w.family("sennen_gate_stop_list_entries", "gauge", "Patient IDs in the applied stop list.")
      .sample({}, static_cast<std::uint64_t>(g.stop_list_entries));
  w.family("sennen_gate_stop_list_unreadable_lines", "gauge", "Lines of the stop list that could not be read.")
      .sample({}, static_cast<std::uint64_t>(g.stop_list_problems));
  w.family("sennen_gate_paused", "gauge", "1 while sealing is paused because the stop list cannot be trusted.")
      .sample({}, std::uint64_t{!g.paused_reason.empty()});
}

void batches(Writer& w, const Snapshot& s) {
  w.family("sennen_batches_sealed_total", "counter", "Batches sealed since the service started.")
      .sample({}, s.batches_sealed);
  w.family("sennen_batch_sealed_bytes_total", "counter", "Bytes of the batches sealed.").sample({}, s.bytes_sealed);
  w.family("sennen_batch_seal_seconds", "summary", "Time spent sealing, over the batches sealed.")
      .sample({}, s.seal_seconds.sum, "_sum")
      .sample({}, s.seal_seconds.count, "_count");
  w.family("sennen_batch_upload_seconds", "summary", "Time spent delivering, over the batches delivered.")
      .sample({}, s.upload_seconds.sum, "_sum")
      .sample({}, s.upload_seconds.count, "_count");
}

}  // namespace

std::string escape_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string exposition(const Snapshot& s, std::int64_t now) {
  Writer w;
  w.family("sennen_start_time_seconds", "gauge", "Unix time the service started.").sample({}, s.started_at);
  w.family("sennen_last_update_timestamp_seconds", "gauge", "Unix time the numbers below were read (0: no cycle yet).")
      .sample({}, s.updated_at);
  w.family("sennen_cycle_running", "gauge", "1 while a cycle (poll, seal, deliver) runs.")
      .sample({}, std::uint64_t{s.cycle_running});
  sources(w, s);
  destination(w, s);
  spool_and_outbox(w, s, now);
  gate(w, s);
  batches(w, s);
  return w.take();
}

}  // namespace sennen::metrics
