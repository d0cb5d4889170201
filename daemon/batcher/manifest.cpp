#include "daemon/batcher/manifest.hpp"

#include <nlohmann/json.hpp>


#include "daemon/util/time_format.hpp"
#include "daemon/util/utf8.hpp"
#include "sennen/version.hpp"

namespace sennen::batcher {
using nlohmann::json;
using util::iso8601_utc;
namespace {

json record_json(const PlannedRecord& p) {
  const auto& r = p.record;
  json j = {{"source", r.source},
            {"kind", r.kind},
            {"patient_id", r.patient_id},
            {"patient_key", r.patient_key},
            {"key", r.key},
            {"path", r.path},
            {"sha256", r.sha256},
            {"size", r.size},
            {"event", r.event == Event::upsert ? "upsert" : "delete"},
            {"ingested_at", iso8601_utc(r.ingested_at)}};
  if (r.event == Event::upsert) {
    j["archive_path"] = p.archive_path;
    bool single = r.parts.size() == 1 && r.parts[0].name.empty();
    if (!single) {
      json parts = json::array();
      for (std::size_t i = 0; i < r.parts.size(); ++i)
        parts.push_back({{"name", r.parts[i].name},
                         {"size", r.parts[i].size},
                         {"sha256", r.parts[i].sha256},
                         {"archive_path", p.part_paths[i]}});
      j["parts"] = std::move(parts);
    }
  }
  json attrs = json::parse(r.attributes_json.empty() ? "{}" : r.attributes_json, nullptr, false);
  if (!attrs.is_discarded() && !attrs.empty()) j["attributes"] = std::move(attrs);
  return j;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
}  // namespace


std::string archive_path_for(const spool::StoredRecord& r) {
  // Paths in the source tree are bytes; the manifest is JSON (UTF-8). A path that is not UTF-8
  // is replaced in the manifest, and its bytes are addressed in the tar by the spool id only.
  if (!util::valid_utf8(r.source + r.path)) return "records/_id/" + std::to_string(r.id);
  return "records/" + r.source + "/" + r.path;
}

std::string manifest_record_json(const PlannedRecord& r) { return dump(record_json(r)); }

std::string build_manifest(const ManifestHeader& h, const std::vector<PlannedRecord>& records,
                           const std::vector<spool::Withdrawal>& withdrawals) {
  // Built record by record: a DOM of a whole batch's manifest would cost ~10x its text in memory.
  json head = {{"format", kFormat},
               {"site_id", h.site_id},
               {"batch_id", h.batch_id},
               {"created_at", iso8601_utc(h.created_at)},
               {"producer", {{"name", "sennen-edged"}, {"version", kVersion}}},
               {"stop_list_sha256", h.stop_list_sha256},
               {"record_count", records.size()},
               {"withdrawal_count", withdrawals.size()}};
  std::string out = dump(head);
  out.pop_back();  // reopen the object: records and withdrawals follow
  out += ",\"records\":[";
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i) out += ',';
    out += dump(record_json(records[i]));
  }
  out += "],\"withdrawals\":[";
  for (std::size_t i = 0; i < withdrawals.size(); ++i) {
    if (i) out += ',';
    const auto& w = withdrawals[i];
    out += dump({{"patient_id", w.patient_key}, {"patient_key", w.patient_key},
                 {"effective_at", iso8601_utc(w.effective_at)}});
  }
  out += "]}";
  return out;
}

std::string build_marker(const ManifestHeader& h, std::size_t records, std::size_t withdrawals, std::uint64_t size,
                         const std::string& sha256) {
  json m = {{"format", kFormat},           {"batch_id", h.batch_id},       {"site_id", h.site_id},
            {"created_at", iso8601_utc(h.created_at)}, {"record_count", records}, {"withdrawal_count", withdrawals},
            {"size", size},                {"sha256", sha256}};
  return dump(m);
}

}  // namespace sennen::batcher
