// sennen-edgectl status: one screen (or one JSON object) on sources, gate, spool, outbox,
// destination and heartbeat. Reads the spool read-only and the heartbeat file; never writes.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>

#include "daemon/util/instance_lock.hpp"
#include "daemon/util/error.hpp"
#include "daemon/gate/stop_list.hpp"
#include "daemon/spool/spool_reader.hpp"
#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/common.hpp"

namespace sennen::edgectl {
namespace {

using nlohmann::json;

// The heartbeat the daemon last wrote, or an object saying why there is none.
json read_heartbeat(const config::Config& cfg) {
  const auto path = last_heartbeat(cfg);
  std::ifstream in(path);
  if (!in) return {{"available", false}, {"path", path.string()}, {"why", "not written yet (or not readable)"}};
  json hb = json::parse(in, nullptr, false);
  if (hb.is_discarded() || !hb.is_object())
    return {{"available", false}, {"path", path.string()}, {"why", "not valid JSON"}};
  hb["available"] = true;
  hb["path"] = path.string();
  return hb;
}

json stop_list_file(const config::Config& cfg) {
  json j = {{"path", cfg.optout.stop_list.string()}};
  try {
    gate::StopList sl = gate::load_stop_list(cfg.optout.stop_list);
    j["entries"] = sl.ids.size();
    j["unreadable_lines"] = sl.problem_lines;
    j["encoding"] = sl.encoding;
    j["sha256"] = sl.sha256;
  } catch (const std::exception& e) {
    j["error"] = e.what();
  }
  return j;
}

json batch_json(const spool::BatchInfo& b) {
  return {{"batch_id", b.batch_id},
          {"state", spool::to_string(b.state)},
          {"created_at", when(b.created_at)},
          {"records", b.record_count},
          {"withdrawals", b.withdrawal_count},
          {"size", b.file_size},
          {"delivered_at", b.delivered_at ? json(when(b.delivered_at)) : json(nullptr)}};
}

json collect(const config::Config& cfg, spool::SpoolReader& r) {
  const std::int64_t now = now_unix();
  json hb = read_heartbeat(cfg);
  r.begin();
  const spool::Depth d = r.depth();
  std::map<std::string, json> units;
  for (const auto& u : r.units_by_status()) units[u.source][u.status] = u.count;
  const auto counters = r.counters();
  auto counter = [&](const char* name) {
    auto it = counters.find(name);
    return it == counters.end() ? std::int64_t{0} : it->second;
  };
  json sealed = json::array();
  for (const auto& b : r.batches_in_state(spool::BatchState::sealed)) sealed.push_back(batch_json(b));
  for (const auto& b : r.batches_in_state(spool::BatchState::sealing)) sealed.push_back(batch_json(b));
  auto last = r.last_delivered_batch();
  const std::int64_t stops = r.stop_list_entries();
  r.end();

  json j;
  j["config"] = cfg.file.string();
  j["site_id"] = cfg.site.id;
  j["spool_file"] = r.file().string();
  j["time"] = when(now);
  const auto pid = util::lock_holder(cfg.state_dir);
  j["service"] = {
      {"running", pid.has_value()},
      {"pid", pid ? json(*pid) : json(nullptr)},
      {"metrics",
       cfg.metrics.port ? json("http://127.0.0.1:" + std::to_string(cfg.metrics.port) + "/metrics") : json(nullptr)}};
  j["sources"] = json::array();
  for (const auto& s : cfg.sources) {
    json src = {{"name", s.name}, {"type", s.type}, {"units_by_status", json::object()}};
    if (units.count(s.name)) src["units_by_status"] = units[s.name];
    if (hb.value("available", false) && hb.contains("sources") && hb["sources"].is_array())
      for (const auto& h : hb["sources"])
        if (h.value("name", "") == s.name)
          for (const char* k : {"last_poll", "last_success", "last_error", "waiting_to_be_stable", "unreadable",
                                "unreadable_paths", "skipped", "events", "months", "recovery_point"})
            if (h.contains(k)) src[k] = h[k];
    j["sources"].push_back(src);
  }
  j["gate"] = {{"stop_list_file", stop_list_file(cfg)},
               {"stop_list_applied_entries", stops},
               {"withheld_stopped", d.held_stopped},
               {"withheld_not_notified", d.held_not_notified},
               {"withdrawals_pending", d.withdrawals_pending},
               {"purged_total", counter("purged_total")},
               {"withdrawals_total", counter("withdrawals_total")}};
  if (hb.value("available", false) && hb.contains("gate") && hb["gate"].contains("sealing_paused"))
    j["gate"]["sealing_paused"] = hb["gate"]["sealing_paused"];
  j["spool"] = {{"ready", d.ready},
                {"ready_bytes", d.ready_bytes},
                {"in_batches", d.batched},
                {"oldest_pending_age_seconds", d.oldest_pending_at ? json(now - d.oldest_pending_at) : json(nullptr)}};
  j["outbox"] = {{"batches_pending", d.batches_pending}, {"batches", sealed}};
  j["last_batch"] = last ? batch_json(*last) : json(nullptr);
  j["quarantined"] = d.quarantined;
  if (hb.value("available", false)) {
    j["heartbeat"] = {{"path", hb["path"]},
                      {"time", hb.value("time", "")},
                      {"status", hb.value("status", "")},
                      {"problems", hb.value("problems", json::array())}};
    if (hb.contains("destination")) j["destination"] = hb["destination"];
    if (hb.contains("recovery_point")) j["recovery_point"] = hb["recovery_point"];
  } else {
    j["heartbeat"] = hb;
  }
  return j;
}

std::string str(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// "a restore today would have everything up to T" (docs/heartbeat-format.md, recovery_point).
void print_recovery_point(const std::string& indent, const json& rp) {
  std::cout << indent << "recovery point "
            << (rp["time"].is_null() ? std::string("not known yet (no successful poll since the start)")
                                     : str(rp["time"]) + " (" + age(rp["age_seconds"].get<std::int64_t>()) + " ago)")
            << ": " << str(rp["pending"])
            << " records waiting to be delivered; withheld by law, not a gap: " << str(rp["withheld_stopped"])
            << " stopped, " << str(rp["withheld_not_notified"]) << " not yet notified\n";
}

// A drop folder's care months (heartbeat sources[].months): one row per expected kind, one column
// per care month of the last 12, oldest first.
void print_calendar(const json& months) {
  constexpr std::size_t kKindWidth = 13, kCellWidth = 9;
  // Left-aligned in `width` columns, at least one space after.
  auto cell = [](std::string text, std::size_t width) {
    text.resize(std::max(text.size() + 1, width), ' ');
    return text;
  };
  std::cout << "    care months (arrived; MISSING: its deadline has passed; not due: not yet; -: before the source "
               "started)\n      "
            << cell("", kKindWidth);
  for (const auto& m : months.begin().value().items()) std::cout << cell(m.key(), kCellWidth);
  std::cout << "\n";
  for (const auto& [kind, calendar] : months.items()) {
    std::cout << "      " << cell(kind, kKindWidth);
    for (const auto& m : calendar.items()) {
      const std::string st = str(m.value());
      std::cout << cell(st == "missing" ? "MISSING" : st == "before start" ? "-" : st, kCellWidth);
    }
    std::cout << "\n";
  }
}

void print_text(const json& j) {
  std::cout << "site " << str(j["site_id"]) << "   (" << str(j["time"]) << ", config " << str(j["config"]) << ")\n";
  const json& svc = j["service"];
  std::cout << "service: " << (svc["running"].get<bool>() ? "running (pid " + str(svc["pid"]) + ")" : "not running")
            << (svc["metrics"].is_null() ? "" : ", metrics " + str(svc["metrics"])) << "\n";
  std::cout << "\nsources\n";
  for (const auto& s : j["sources"]) {
    std::cout << "  " << str(s["name"]) << " (" << str(s["type"]) << "): ";
    if (s["units_by_status"].empty()) std::cout << "no files seen yet";
    bool first = true;
    for (const auto& [status, n] : s["units_by_status"].items()) {
      std::cout << (first ? "" : ", ") << status << " " << n.get<std::int64_t>();
      first = false;
    }
    std::cout << "\n";
    if (s.contains("last_poll"))
      std::cout << "    last poll " << str(s["last_poll"]) << ", last success " << str(s.value("last_success", json()))
                << "\n";
    if (s.contains("last_error") && !s["last_error"].is_null())
      std::cout << "    last error: " << str(s["last_error"]) << "\n";
    if (s.value("unreadable", 0) > 0) {
      std::cout << "    cannot read " << str(s["unreadable"])
                << " path(s) (grant the service user read, and execute on "
                << "folders; tried again every poll):\n";
      for (const auto& p : s.value("unreadable_paths", json::array())) std::cout << "      " << str(p) << "\n";
    }
    if (s.contains("recovery_point")) print_recovery_point("    ", s["recovery_point"]);
    const json events = s.value("events", json::object());  // named: items() of a temporary would dangle
    for (const auto& [event, by_peer] : events.items())
      for (const auto& [peer, n] : by_peer.items())
        std::cout << "    " << event << " '" << peer << "': " << str(n.value("total", json()))
                  << " since the daemon started, " << str(n.value("last_poll", json())) << " in the last poll\n";
    if (s.contains("months") && !s["months"].empty()) print_calendar(s["months"]);
  }
  const json& g = j["gate"];
  const json& f = g["stop_list_file"];
  std::cout << "\ngate\n  stop list " << str(f["path"]) << ": ";
  if (f.contains("error"))
    std::cout << "cannot be read: " << str(f["error"]) << "\n";
  else
    std::cout << str(f["entries"]) << " IDs, " << str(f["unreadable_lines"]) << " unreadable lines ("
              << str(f["encoding"]) << ")\n";
  std::cout << "  applied in the spool: " << str(g["stop_list_applied_entries"]) << " IDs";
  if (g.contains("sealing_paused") && !g["sealing_paused"].is_null())
    std::cout << "; SEALING PAUSED: " << str(g["sealing_paused"]);
  std::cout << "\n  withheld: " << str(g["withheld_stopped"]) << " stopped, " << str(g["withheld_not_notified"])
            << " not yet notified; withdrawals pending " << str(g["withdrawals_pending"]) << " (total "
            << str(g["withdrawals_total"]) << "), records purged " << str(g["purged_total"]) << "\n";
  const json& sp = j["spool"];
  std::cout << "\nspool\n  ready " << str(sp["ready"]) << " (" << bytes(sp["ready_bytes"].get<std::uint64_t>())
            << "), in batches " << str(sp["in_batches"]) << ", oldest pending "
            << (sp["oldest_pending_age_seconds"].is_null()
                    ? std::string("-")
                    : age(sp["oldest_pending_age_seconds"].get<std::int64_t>()) + " old")
            << "\n";
  std::cout << "\noutbox\n  sealed batches waiting for delivery: " << str(j["outbox"]["batches_pending"]) << "\n";
  for (const auto& b : j["outbox"]["batches"])
    std::cout << "    " << str(b["batch_id"]) << " (" << str(b["state"]) << ", " << str(b["records"]) << " records)\n";
  std::cout << "\nlast delivered batch\n  ";
  if (j["last_batch"].is_null())
    std::cout << "none yet\n";
  else
    std::cout << str(j["last_batch"]["batch_id"]) << " delivered " << str(j["last_batch"]["delivered_at"]) << ", "
              << str(j["last_batch"]["records"]) << " records, " << str(j["last_batch"]["withdrawals"])
              << " withdrawals\n";
  if (j.contains("recovery_point")) {
    std::cout << "\nrecovery point (as of the last heartbeat)\n";
    print_recovery_point("  ", j["recovery_point"]);
  }
  std::cout << "\nquarantine\n  " << str(j["quarantined"]) << " files (sennen-edgectl quarantine list)\n";
  std::cout << "\nheartbeat\n  ";
  const json& hb = j["heartbeat"];
  if (hb.contains("why"))
    std::cout << "none: " << str(hb["why"]) << (hb.contains("path") ? " (" + str(hb["path"]) + ")" : "") << "\n";
  else
    std::cout << str(hb["path"]) << ": written " << str(hb["time"]) << ", status " << str(hb["status"]) << "\n";
  if (hb.contains("problems"))
    for (const auto& p : hb["problems"]) std::cout << "  problem: " << str(p.value("message", json())) << "\n";
  if (j.contains("destination")) {
    const json& d = j["destination"];
    std::cout << "\ndestination\n  " << str(d.value("describe", json())) << ": last success "
              << str(d.value("last_success", json()));
    if (d.contains("last_error") && !d["last_error"].is_null()) std::cout << ", last error: " << str(d["last_error"]);
    std::cout << "\n";
  }
}

}  // namespace

int status(const Common& c) {
  auto cfg = load_config(c.config);
  if (!cfg) return 2;
  try {
    spool::SpoolReader r(cfg->state_dir);
    json j = collect(*cfg, r);
    if (c.json)
      print_json(j);
    else
      print_text(j);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sennen-edgectl status: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace sennen::edgectl
