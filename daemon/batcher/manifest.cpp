#include "daemon/batcher/manifest.hpp"

#include <nlohmann/json.hpp>

#include "daemon/util/name_text.hpp"
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
            {"patient_id", r.patient_id},
            {"patient_key", r.patient_key},
            {"sha256", r.sha256},
            {"size", r.size},
            {"event", r.event == Event::upsert ? "upsert" : "delete"},
            {"ingested_at", iso8601_utc(r.ingested_at)}};
  util::put_name(j, "kind", r.kind);
  util::put_name(j, "key", r.key);
  util::put_name(j, "path", r.path);
  if (r.event == Event::upsert) {
    j["archive_path"] = p.archive_path;
    bool single = r.parts.size() == 1 && r.parts[0].name.empty();
    if (!single) {
      json parts = json::array();
      for (std::size_t i = 0; i < r.parts.size(); ++i) {
        json part = {{"size", r.parts[i].size}, {"sha256", r.parts[i].sha256}, {"archive_path", p.part_paths[i]}};
        util::put_name(part, "name", r.parts[i].name);
        parts.push_back(std::move(part));
      }
      j["parts"] = std::move(parts);
    }
  }
  // Stored by the spool with util::put_name already (values that are not UTF-8 have "_b64").
  json attrs = json::parse(r.attributes_json.empty() ? "{}" : r.attributes_json, nullptr, false);
  if (!attrs.is_discarded() && !attrs.empty()) j["attributes"] = std::move(attrs);
  return j;
}

bool portable_path(std::string_view path) {
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (!portable_member_component(path.substr(start, end - start))) return false;
    start = end + 1;
  }
  return true;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
}  // namespace

bool portable_member_component(std::string_view c) {
  if (c.empty() || c == "." || c == ".." || !util::valid_utf8(c)) return false;
  char32_t cp = 0;
  for (std::size_t i = 0, n = 0; i < c.size(); i += n) {
    n = util::utf8_sequence(c, i, cp);
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return false;
    if (cp < 0x80 && std::string_view("/\\<>:\"|?*").find(static_cast<char>(cp)) != std::string_view::npos)
      return false;
  }
  return true;
}

namespace {

// `used` holds every member path taken in the batch and, with a '/' appended, every folder above
// one. A member may not be one already taken, nor a taken folder (tar x cannot make a file where
// a folder is), nor lie below a taken member (nor a folder where a file is).
bool clashes(const std::string& member, const std::set<std::string>& used) {
  if (used.count(member) || used.count(member + '/')) return true;
  for (auto slash = member.find('/'); slash != std::string::npos; slash = member.find('/', slash + 1))
    if (used.count(member.substr(0, slash))) return true;
  return false;
}

// Takes the member and its folders; `added` gets what was not taken before, to give back.
void take(const std::string& member, std::set<std::string>& used, std::vector<std::set<std::string>::iterator>& added) {
  auto add = [&](std::string path) {
    if (auto [it, inserted] = used.insert(std::move(path)); inserted) added.push_back(it);
  };
  for (auto slash = member.find('/'); slash != std::string::npos; slash = member.find('/', slash + 1))
    add(member.substr(0, slash + 1));
  add(member);
}

}  // namespace

void assign_archive_paths(PlannedRecord& p, std::set<std::string>& used) {
  const auto& r = p.record;
  const bool single = r.parts.size() == 1 && r.parts[0].name.empty();
  bool portable = portable_member_component(r.source) && portable_path(r.path);
  if (!single)
    for (const auto& part : r.parts) portable = portable && portable_path(part.name);
  // A name that cannot be a tar member on every reader's disk (not UTF-8, "..", a control
  // character, a character Windows refuses) is addressed by the spool id; the manifest keeps it.
  const std::string by_id = "records/_id/" + std::to_string(r.id);
  const std::string named = portable ? "records/" + r.source + "/" + r.path : by_id;
  p.part_paths.clear();
  // Where this record's members would clash with those taken, the next place is tried: its name
  // with "~<id>" (two versions of one file in a batch), then by its id, then by its id with a
  // counter (a file named like another's "~<id>", a file where another version had a folder).
  for (int attempt = 0;; ++attempt) {
    const bool by_name = portable && attempt < 2;
    p.archive_path = attempt == 0   ? named
                     : attempt == 1 ? named + "~" + std::to_string(r.id)
                     : attempt == 2 ? by_id
                                    : by_id + "~" + std::to_string(attempt - 2);
    if (r.event != Event::upsert) return;  // a delete has no member in the tar
    std::vector<std::string> members;
    for (std::size_t i = 0; i < r.parts.size(); ++i)
      members.push_back(single ? p.archive_path
                               : p.archive_path + "/" + (by_name ? r.parts[i].name : std::to_string(i)));
    // Taken one by one, so that two parts of this record cannot clash either ("x" and "x/y").
    std::vector<std::set<std::string>::iterator> added;
    bool clear = true;
    for (const auto& m : members) {
      if (!(clear = !clashes(m, used))) break;
      take(m, used, added);
    }
    if (clear) {
      p.part_paths = std::move(members);
      return;
    }
    for (auto it : added) used.erase(it);
  }
}

std::string filtered_attributes(const std::string& attributes_json, const std::string& original_sha256,
                                std::uint64_t original_size, const FilterCounts& counts) {
  json attrs = json::parse(attributes_json.empty() ? "{}" : attributes_json, nullptr, false);
  if (attrs.is_discarded() || !attrs.is_object()) attrs = json::object();
  attrs["original_sha256"] = original_sha256;
  attrs["original_size"] = original_size;
  attrs["kept"] = counts.kept;
  attrs["removed"] = {
      {"stopped", counts.stopped}, {"not_notified", counts.not_notified}, {"unattributed", counts.unattributed}};
  return dump(attrs);
}

std::string manifest_record_json(const PlannedRecord& r) { return dump(record_json(r)); }

std::string build_manifest(const ManifestHeader& h, const std::vector<PlannedRecord>& records,
                           const std::vector<spool::Withdrawal>& withdrawals) {
  // Built record by record: a DOM of a whole batch's manifest would cost ~10x its text in memory.
  json head = {{"format", kFormat},
               {"site_id", h.site_id},
               {"batch_id", h.batch_id},
               {"sequence", h.sequence},
               {"voided_sequences", h.voided_sequences},
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
    out += dump(
        {{"patient_id", w.patient_key}, {"patient_key", w.patient_key}, {"effective_at", iso8601_utc(w.effective_at)}});
  }
  out += "]}";
  return out;
}

std::string build_marker(const ManifestHeader& h, std::size_t records, std::size_t withdrawals, std::uint64_t size,
                         const std::string& sha256) {
  json m = {{"format", kFormat},
            {"batch_id", h.batch_id},
            {"site_id", h.site_id},
            {"sequence", h.sequence},
            {"created_at", iso8601_utc(h.created_at)},
            {"record_count", records},
            {"withdrawal_count", withdrawals},
            {"size", size},
            {"sha256", sha256}};
  return dump(m);
}

}  // namespace sennen::batcher
