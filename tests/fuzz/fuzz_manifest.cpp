// manifest.json round trip: records and withdrawals as the spool hands them to the sealer (names
// are bytes from the EMR's share; IDs, attributes and times as stored), through
// assign_archive_paths and build_manifest, then parsed back as the central side parses it.
// Properties: the manifest is always valid JSON; every value comes back: equal when it is UTF-8,
// else in display form with "<field>_b64" holding the exact bytes; counts, sizes, times and
// attributes match; manifest_record_json is exactly the record's text in the manifest (the sealer
// plans batch sizes with it); the tar member paths are unique in the batch, none is another's
// folder, they start with "records/" and consist of portable components only (no "..", no empty
// component).
#include <fuzzer/FuzzedDataProvider.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "daemon/batcher/manifest.hpp"
#include "daemon/util/name_text.hpp"
#include "daemon/util/time_format.hpp"
#include "daemon/util/utf8.hpp"
#include "tests/fuzz/property.hpp"
#include "tests/support/base64.hpp"

using namespace sennen;
using nlohmann::json;

namespace {

// Names from a small alphabet collide often (same path twice, "a" and "a~3"); others are any bytes.
std::string name(FuzzedDataProvider& in, std::size_t max) {
  if (!in.ConsumeBool()) return in.ConsumeRandomLengthString(max);
  std::string out = in.ConsumeRandomLengthString(max);
  for (char& c : out) c = "ab/~1."[static_cast<unsigned char>(c) % 6];
  return out;
}

void same_text(const json& j, const std::string& field, const std::string& raw) {
  if (!j.contains(field) || !j[field].is_string()) fuzz::broken("manifest lacks the string " + field);
  if (util::valid_utf8(raw)) fuzz::require(j[field].get<std::string>() == raw, "a UTF-8 value changed in the manifest");
}

// util::put_name's contract, as a reader of the manifest relies on it.
void same_name(const json& j, const std::string& field, const std::string& raw) {
  same_text(j, field, raw);
  if (util::valid_utf8(raw)) {
    fuzz::require(!j.contains(field + "_b64"), "a UTF-8 name has a _b64 twin");
    return;
  }
  fuzz::require(j[field].get<std::string>() == util::display_name(raw), "a name is not in display form");
  if (!j.contains(field + "_b64") || test::unbase64(j[field + "_b64"].get<std::string>()) != raw)
    fuzz::broken(field + "_b64 does not give back the name's bytes");
}

void portable_member(const std::string& path, std::set<std::string>& members) {
  fuzz::require(path.starts_with("records/"), "a tar member outside records/");
  for (std::size_t start = 0; start <= path.size();) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (!batcher::portable_member_component(std::string_view(path).substr(start, end - start)))
      fuzz::broken("a tar member path with a component that is not portable: " + util::display_name(path));
    start = end + 1;
  }
  if (!members.insert(path).second) fuzz::broken("two tar members of one batch have the same path: " + path);
  // tar x makes each member's folders: none of them may be a member, and the member may not be
  // another's folder.
  for (std::size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
    if (members.count(path.substr(0, slash)))
      fuzz::broken("a tar member lies below another member: " + util::display_name(path));
  if (auto below = members.lower_bound(path + '/'); below != members.end() && below->starts_with(path + '/'))
    fuzz::broken("a tar member is another member's folder: " + util::display_name(path));
}

spool::StoredRecord record(FuzzedDataProvider& in) {
  spool::StoredRecord r;
  r.id = in.ConsumeIntegralInRange<std::int64_t>(1, 40);
  r.source = in.ConsumeBool() ? std::string(in.PickValueInArray({"emr", "ext", "dicom"})) : name(in, 12);
  r.path = name(in, 64);
  r.key = name(in, 32);
  r.kind = name(in, 16);
  r.version = in.ConsumeRandomLengthString(16);
  r.patient_id = in.ConsumeRandomLengthString(16);
  r.patient_key = in.ConsumeRandomLengthString(16);
  r.sha256 = in.ConsumeRandomLengthString(64);
  r.size = in.ConsumeIntegral<std::uint64_t>();
  r.ingested_at = in.ConsumeIntegralInRange<std::int64_t>(-1LL << 40, 1LL << 40);
  r.event = in.ConsumeBool() ? Event::upsert : Event::remove;
  const std::size_t parts = in.ConsumeIntegralInRange<std::size_t>(1, 4);
  const bool single = parts == 1 && in.ConsumeBool();
  std::set<std::string> part_names;
  for (std::size_t i = 0; i < parts; ++i) {
    std::string part = single ? std::string() : name(in, 24);
    // The parts of a record are the files of one folder: their names differ.
    while (!single && !part_names.insert(part).second) part += '#';
    r.parts.push_back(
        {static_cast<std::int64_t>(i), part, in.ConsumeIntegral<std::uint32_t>(), in.ConsumeRandomLengthString(64)});
  }
  if (in.ConsumeBool()) {  // as the spool stores them
    json attrs = json::object();
    for (int i = in.ConsumeIntegralInRange(0, 3); i > 0; --i) util::put_name(attrs, name(in, 8), name(in, 16));
    r.attributes_json = attrs.dump(-1, ' ', false, json::error_handler_t::replace);
  } else {
    r.attributes_json = in.ConsumeRandomLengthString(32);
  }
  return r;
}

void check_record(const json& j, const batcher::PlannedRecord& p, std::set<std::string>& members) {
  const spool::StoredRecord& r = p.record;
  for (const auto& [field, raw] : {std::pair{"source", &r.source},
                                   {"patient_id", &r.patient_id},
                                   {"patient_key", &r.patient_key},
                                   {"sha256", &r.sha256}})
    same_text(j, field, *raw);
  same_name(j, "kind", r.kind);
  same_name(j, "key", r.key);
  same_name(j, "path", r.path);
  fuzz::require(j["size"].get<std::uint64_t>() == r.size, "a record's size changed");
  fuzz::require(j["ingested_at"].get<std::string>() == util::iso8601_utc(r.ingested_at), "ingested_at changed");
  fuzz::require(j["event"] == (r.event == Event::upsert ? "upsert" : "delete"), "a record's event changed");
  const json attrs = json::parse(r.attributes_json.empty() ? "{}" : r.attributes_json, nullptr, false);
  if (!attrs.is_discarded() && !attrs.empty())
    fuzz::require(j.contains("attributes") && j["attributes"] == attrs, "a record's attributes changed");
  else
    fuzz::require(!j.contains("attributes"), "attributes appeared from nowhere");
  if (r.event != Event::upsert) {
    fuzz::require(!j.contains("archive_path") && !j.contains("parts"), "a delete carries content");
    return;
  }
  fuzz::require(j["archive_path"] == p.archive_path, "archive_path changed");
  fuzz::require(p.part_paths.size() == r.parts.size(), "not one archive path per part");
  const bool single = r.parts.size() == 1 && r.parts[0].name.empty();
  if (single) {
    fuzz::require(!j.contains("parts") && p.part_paths[0] == p.archive_path, "a single-part record's path");
  } else {
    fuzz::require(j["parts"].size() == r.parts.size(), "parts lost");
    for (std::size_t i = 0; i < r.parts.size(); ++i) {
      const json& part = j["parts"][i];
      same_name(part, "name", r.parts[i].name);
      fuzz::require(part["size"].get<std::uint64_t>() == r.parts[i].size, "a part's size changed");
      same_text(part, "sha256", r.parts[i].sha256);
      fuzz::require(part["archive_path"] == p.part_paths[i], "a part's archive path changed");
      fuzz::require(p.part_paths[i].starts_with(p.archive_path + "/"), "a part is not inside its record's folder");
    }
  }
  for (const auto& path : p.part_paths) portable_member(path, members);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  batcher::ManifestHeader h;
  h.site_id = in.ConsumeRandomLengthString(16);
  h.batch_id = in.ConsumeRandomLengthString(40);
  h.created_at = in.ConsumeIntegralInRange<std::int64_t>(-1LL << 40, 1LL << 40);
  h.stop_list_sha256 = in.ConsumeRandomLengthString(64);
  std::vector<spool::Withdrawal> withdrawals(in.ConsumeIntegralInRange(0, 3));
  for (auto& w : withdrawals) {
    w.patient_key = in.ConsumeRandomLengthString(16);
    w.effective_at = in.ConsumeIntegralInRange<std::int64_t>(-1LL << 40, 1LL << 40);
  }
  std::vector<batcher::PlannedRecord> records;
  std::set<std::string> used;
  while (records.size() < 8 && in.remaining_bytes() > 0) {
    batcher::PlannedRecord p;
    p.record = record(in);
    batcher::assign_archive_paths(p, used);
    records.push_back(std::move(p));
  }

  const std::string text = batcher::build_manifest(h, records, withdrawals);
  const json m = json::parse(text, nullptr, false);
  fuzz::require(!m.is_discarded(), "the manifest is not valid JSON");
  fuzz::require(m["format"] == batcher::kFormat, "format changed");
  same_text(m, "site_id", h.site_id);
  same_text(m, "batch_id", h.batch_id);
  same_text(m, "stop_list_sha256", h.stop_list_sha256);
  fuzz::require(m["created_at"] == util::iso8601_utc(h.created_at), "created_at changed");
  fuzz::require(m["record_count"] == records.size() && m["records"].size() == records.size(), "records lost");
  fuzz::require(m["withdrawal_count"] == withdrawals.size() && m["withdrawals"].size() == withdrawals.size(),
                "withdrawals lost");
  std::set<std::string> members;
  std::size_t at = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    check_record(m["records"][i], records[i], members);
    const std::string planned = batcher::manifest_record_json(records[i]);
    const std::size_t found = text.find(planned, at);
    fuzz::require(found != std::string::npos, "manifest_record_json is not the record's text in the manifest");
    at = found + planned.size();
  }
  for (std::size_t i = 0; i < withdrawals.size(); ++i) {
    const json& w = m["withdrawals"][i];
    same_text(w, "patient_key", withdrawals[i].patient_key);
    same_text(w, "patient_id", withdrawals[i].patient_key);
    fuzz::require(w["effective_at"] == util::iso8601_utc(withdrawals[i].effective_at), "effective_at changed");
  }

  const std::string marker = batcher::build_marker(h, records.size(), withdrawals.size(), 123, "ab");
  const json k = json::parse(marker, nullptr, false);
  fuzz::require(!k.is_discarded() && k["record_count"] == records.size() && k["size"] == 123, "the marker");
  return 0;
}
