// The sealer with names that are data, not text: member names every tar reader extracts where
// they belong, manifests that carry the original bytes, and a record that cannot be written set
// aside so that it never blocks the batch for the others.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <set>

#include "daemon/batcher/manifest.hpp"
#include "daemon/batcher/sealer.hpp"
#include "daemon/util/error.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/spool/sqlite.hpp"
#include "daemon/util/name_text.hpp"
#include "daemon/util/sha256.hpp"
#include "tests/daemon/batcher/fixtures.hpp"
#include "tests/support/manual_clock.hpp"
#include "tests/support/base64.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
using namespace sennen::batcher;
using namespace sennen::batcher::testing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kNow = 1795608000;

struct Fixture {
  test::TempDir dir;
  spool::Spool spool{dir / "state"};
  test::ManualClock clock{TimePoint(std::chrono::seconds(kNow))};
  SealingKeys keys = SealingKeys::load(pki() / "site.crt", pki() / "site.key", {pki() / "central.crt"});
  // "lines": a content filter for records of many patients: each line "<patient>:<text>" leaves
  // only if the gate lets its patient go; a line without ':' names nobody.
  Sealer sealer{spool,
                keys,
                {"1312345678",
                 64ull << 20,
                 3,
                 dir / "state" / "outbox",
                 {{"lines", line_filter},
                  {"away",
                   [](const ContentReader&, const PatientGate&, const ContentWriter&) -> FilterCounts {
                     throw FilterUnavailable("map unreadable");
                   }}}},
                clock};

  static FilterCounts line_filter(const ContentReader& in, const PatientGate& gate, const ContentWriter& out) {
    std::string all, line;
    std::byte buf[7];
    for (std::size_t n; (n = in(buf)) > 0;) all.append(reinterpret_cast<const char*>(buf), n);
    FilterCounts c;
    c.bytes_in = all.size();
    for (std::size_t start = 0; start < all.size();) {
      const auto end = all.find('\n', start) + 1;
      line = all.substr(start, end - start);
      start = end;
      const auto colon = line.find(':');
      const auto why = gate(colon == std::string::npos ? std::nullopt : std::optional(line.substr(0, colon)));
      if (why == Withhold::none) {
        out(line);
        c.bytes_out += line.size();
        ++c.kept;
      } else if (why == Withhold::stopped) {
        ++c.stopped;
      } else {
        ++c.unattributed;
      }
    }
    return c;
  }
  int next = 0;

  // A record whose parts are {name, content}; one part with an empty name is a single file.
  std::int64_t put(const std::string& path, const std::vector<std::pair<std::string, std::string>>& parts,
                   const std::string& attribute = "x", const std::string& patient_key = "1") {
    RecordDraft d;
    d.source = "emr-ext";
    d.key = "key-" + std::to_string(++next);
    d.version = d.key;
    d.patient_id = "0001";
    d.kind = "OMP-01";
    d.path = path;
    for (const auto& [name, content] : parts)
      d.parts.push_back({name, dir / "unused", content.size(), std::make_shared<const std::string>(content)});
    d.attributes = {{"order_no", attribute}};
    spool::Spool::Transaction tx(spool);
    REQUIRE(spool.put(d, patient_key, spool::Hold::none, kNow));
    tx.commit();
    return spool.ready_records(0, 1000).back().id;
  }

  std::vector<std::string> seal(const PatientGate& patients = {}) {
    std::atomic<bool> stop{false};
    SealProgress progress;
    return sealer.seal_all(
        "stop-sha", [](const std::string&) { return true; }, stop, progress, patients);
  }

  // The batch's tar members (name -> content) and its manifest.
  std::pair<std::map<std::string, std::string>, json> open(const std::string& batch_id) {
    const fs::path out = dir / ("x-" + batch_id);
    fs::create_directories(out);
    const fs::path batch = dir / "state" / "outbox" / (batch_id + ".cms");
    REQUIRE(run_pipeline(unseal_command(batch, "central") + " | tar x -C " + shell_quote(out.string())) == 0);
    std::map<std::string, std::string> members;
    for (const auto& e : fs::recursive_directory_iterator(out))
      if (e.is_regular_file()) members[fs::relative(e.path(), out).string()] = test::read_file(e.path());
    return {members, json::parse(members.at("manifest.json"))};
  }
};

// The bytes a manifest field stands for: `<field>_b64` when present, else the text.
std::string raw(const json& obj, const std::string& field) {
  return obj.contains(field + "_b64") ? test::unbase64(obj.at(field + "_b64").get<std::string>())
                                      : obj.at(field).get<std::string>();
}

}  // namespace

TEST_CASE("portable member names: what Linux and Windows readers both extract as themselves") {
  CHECK(portable_member_component("0000012345_20261125_OMP-01_1_20261125101010_01_1"));
  CHECK(portable_member_component("L-OBSERVATIONS^検査結果"));
  // "a/" and "/": found by fuzz_manifest, a source name holding '/' gave a member path with an empty
  // component ("records/a//x"); the configuration allows no such name, the sealer relies on this check.
  for (std::string bad : {"", ".", "..", "a\\b", "a:b", "a<b", "a>b", "a\"b", "a|b", "a?b", "a*b", "a\nb", "a\x7f",
                          "a/", "/", "\x83\x65\x83\x58\x83\x67", "a\xc2\x85"})
    CHECK_MESSAGE(!portable_member_component(bad), util::display_name(bad));
}

TEST_CASE("odd names: safe generated members, the original bytes in the manifest") {
  Fixture f;
  const std::string cp932 = "\x83\x65\x83\x58\x83\x67";  // テスト in CP932
  const auto plain = f.put("001/000/0010001/20261125/OMP-01/plain_1", {{"", "plain"}});
  const auto dotdot = f.put("..\\..\\x", {{"", "backslashes"}});
  const auto up = f.put("a/../b", {{"", "dot-dot component"}});
  const auto colon = f.put("001/x:y", {{"", "colon"}});
  const auto newline = f.put("001/x\n<0>emergency", {{"", "newline"}});
  const auto sjis = f.put("001/" + cp932 + "/f", {{"", "cp932 folder"}}, cp932);
  const auto parts = f.put("001/000/0010001/-/ext/folder_1",
                           {{"ok.txt", "ok"}, {cp932 + ".pdf", "cp932 part"}, {"sub/..\\y", "backslash part"}});
  const auto ids = f.seal();
  REQUIRE(ids.size() == 1);
  auto [members, manifest] = f.open(ids[0]);
  std::map<std::string, json> by_path;
  for (const auto& r : manifest["records"]) by_path[raw(r, "path")] = r;
  REQUIRE(by_path.size() == 7);

  CHECK(by_path.at("001/000/0010001/20261125/OMP-01/plain_1")["archive_path"] ==
        "records/emr-ext/001/000/0010001/20261125/OMP-01/plain_1");
  const std::map<std::string, std::int64_t> generated = {{"..\\..\\x", dotdot},
                                                         {"a/../b", up},
                                                         {"001/x:y", colon},
                                                         {"001/x\n<0>emergency", newline},
                                                         {"001/" + cp932 + "/f", sjis}};
  for (const auto& [path, id] : generated) {
    const json& r = by_path.at(path);
    CHECK(r["archive_path"] == "records/_id/" + std::to_string(id));
    CHECK(members.count("records/_id/" + std::to_string(id)) == 1);
  }
  // Valid UTF-8 is kept as text (JSON escapes the newline); other bytes: display form plus _b64.
  CHECK(by_path.at("001/x\n<0>emergency")["path"] == "001/x\n<0>emergency");
  CHECK_FALSE(by_path.at("001/x\n<0>emergency").contains("path_b64"));
  const json& s = by_path.at("001/" + cp932 + "/f");
  CHECK(s["path"] == "001/テスト/f");
  CHECK(test::unbase64(s["path_b64"].get<std::string>()) == "001/" + cp932 + "/f");
  CHECK(s["attributes"]["order_no"] == "テスト");
  CHECK(test::unbase64(s["attributes"]["order_no_b64"].get<std::string>()) == cp932);
  CHECK(members.at("records/_id/" + std::to_string(sjis)) == "cp932 folder");

  // A content folder with one odd part name: every part under the record's id, by index.
  const json& p = by_path.at("001/000/0010001/-/ext/folder_1");
  CHECK(p["archive_path"] == "records/_id/" + std::to_string(parts));
  REQUIRE(p["parts"].size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    const json& part = p["parts"][i];
    CHECK(part["archive_path"] == "records/_id/" + std::to_string(parts) + "/" + std::to_string(i));
    CHECK(members.at(part["archive_path"].get<std::string>()).size() == part["size"].get<std::size_t>());
  }
  CHECK(raw(p["parts"][0], "name") == "ok.txt");
  CHECK(raw(p["parts"][1], "name") == cp932 + ".pdf");
  CHECK(p["parts"][1]["name"] == "テスト.pdf");
  CHECK(raw(p["parts"][2], "name") == "sub/..\\y");
  CHECK(members.at("records/_id/" + std::to_string(parts) + "/1") == "cp932 part");
  (void)plain;

  // Nothing outside records/ and manifest.json; no member name a reader could misplace.
  for (const auto& [name, content] : members) {
    CHECK((name == "manifest.json" || name.rfind("records/", 0) == 0));
    for (const auto& c : fs::path(name)) CHECK(portable_member_component(c.string()));
  }
}

TEST_CASE("versions of one path in a batch: every record extracts as itself with tar x") {
  // A file changed twice before a seal, a file named like the second version's member, and a file
  // that became a folder: members that shared a path, or a file where tar x needs a folder, made
  // one record overwrite another's bytes or the extraction fail.
  Fixture f;
  const auto first = f.put("001/a", {{"", "a, first version"}});
  const auto second = f.put("001/a", {{"", "a, second version"}});
  const auto named = f.put("001/a~" + std::to_string(second), {{"", "a file named like a member"}});
  const auto file = f.put("001/d", {{"", "d when it was a file"}});
  const auto folder = f.put("001/d", {{"x", "x in the folder d"}, {"y", "y in the folder d"}});
  const auto ids = f.seal();
  REQUIRE(ids.size() == 1);
  auto [members, manifest] = f.open(ids[0]);  // tar x exits non-zero on a file where a folder must be
  REQUIRE(manifest["records"].size() == 5);
  std::map<std::string, std::string> sent;  // archive path -> the record's bytes
  std::set<std::string> archive_paths;
  for (const auto& r : manifest["records"]) {
    CHECK(archive_paths.insert(r["archive_path"].get<std::string>()).second);
    if (!r.contains("parts")) {
      sent[r["archive_path"]] = members.at(r["archive_path"].get<std::string>());
      continue;
    }
    for (const auto& part : r["parts"])
      sent[part["archive_path"]] = members.at(part["archive_path"].get<std::string>());
  }
  CHECK(sent.size() == 6);
  CHECK(sent.at("records/emr-ext/001/a") == "a, first version");
  CHECK(sent.at("records/emr-ext/001/a~" + std::to_string(second)) == "a, second version");
  CHECK(sent.at("records/emr-ext/001/a~" + std::to_string(second) + "~" + std::to_string(named)) ==
        "a file named like a member");
  CHECK(sent.at("records/emr-ext/001/d") == "d when it was a file");
  CHECK(sent.at("records/emr-ext/001/d~" + std::to_string(folder) + "/x") == "x in the folder d");
  CHECK(sent.at("records/emr-ext/001/d~" + std::to_string(folder) + "/y") == "y in the folder d");
  (void)first;
  (void)file;
}

TEST_CASE("assign_archive_paths: a member never lies below another, nor is another's folder") {
  auto planned = [](std::int64_t id, const std::string& path, std::vector<std::string> parts) {
    PlannedRecord p;
    p.record.id = id;
    p.record.source = "src";
    p.record.path = path;
    for (auto& name : parts) p.record.parts.push_back({0, name, 1, "sha"});
    return p;
  };
  std::set<std::string> used;
  auto folder = planned(1, "d", {"x", "x/y"});  // two parts of one record that would clash
  assign_archive_paths(folder, used);
  CHECK(folder.archive_path == "records/_id/1");
  CHECK(folder.part_paths == std::vector<std::string>{"records/_id/1/0", "records/_id/1/1"});
  auto file = planned(2, "e/f", {""});
  assign_archive_paths(file, used);
  CHECK(file.part_paths == std::vector<std::string>{"records/src/e/f"});
  auto where_folder = planned(3, "e", {""});  // a file where the folder of 2 is
  assign_archive_paths(where_folder, used);
  CHECK(where_folder.part_paths == std::vector<std::string>{"records/src/e~3"});
  auto below_file = planned(4, "e/f/g", {""});  // below the file of 2, and so is "e/f/g~4"
  assign_archive_paths(below_file, used);
  CHECK(below_file.part_paths == std::vector<std::string>{"records/_id/4"});
  // Not a member at all: a delete takes nothing, so a later upsert of its path keeps the name.
  auto gone = planned(5, "h", {""});
  gone.record.event = Event::remove;
  assign_archive_paths(gone, used);
  CHECK(gone.part_paths.empty());
  auto back = planned(6, "h", {""});
  assign_archive_paths(back, used);
  CHECK(back.part_paths == std::vector<std::string>{"records/src/h"});
  // Every place by name and by id taken: a counter after the id.
  for (const std::string taken : {"records/src/k", "records/src/k~7", "records/_id/7"}) {
    auto other = planned(100, taken.substr(taken.find('/', 8) + 1), {""});
    other.record.source = taken.substr(8, taken.find('/', 8) - 8);
    assign_archive_paths(other, used);
    REQUIRE(other.part_paths == std::vector<std::string>{taken});
  }
  auto last = planned(7, "k", {""});
  assign_archive_paths(last, used);
  CHECK(last.part_paths == std::vector<std::string>{"records/_id/7~1"});
}

TEST_CASE("a record that cannot be written is set aside; the others are sealed in the same run") {
  Fixture f;
  const auto a = f.put("001/a_1", {{"", "first"}});
  const auto bad = f.put("001/../../bad_1", {{"", "this part is damaged in the spool"}});
  const auto c = f.put("001/c_1", {{"", "third"}});
  // The stored bytes no longer have the size the record says: writing the entry fails.
  sqlite::Statement damage(f.spool.connection(), "UPDATE spool_parts SET content = zeroblob(4) WHERE record_id = ?1");
  damage.bind(1, bad).run();

  const auto ids = f.seal();
  CHECK_FALSE(f.spool.in_transaction());
  REQUIRE(ids.size() == 1);
  auto [members, manifest] = f.open(ids[0]);
  REQUIRE(manifest["records"].size() == 2);
  CHECK(manifest["records"][0]["path"] == "001/a_1");
  CHECK(manifest["records"][1]["path"] == "001/c_1");
  CHECK(f.spool.ready_records(0, 100).empty());
  (void)a, (void)c;

  // Out of the spool, into quarantine, inside state_dir/quarantine whatever the path held.
  const fs::path copy = f.dir / "state" / "quarantine" / "emr-ext" / "001" / "%2E%2E" / "%2E%2E" / "bad_1";
  CHECK(test::read_file(copy) == std::string(4, '\0'));
  const std::string why = test::read_file(fs::path(copy) += ".reason.txt");
  CHECK(why.find("could not be sealed") != std::string::npos);
  CHECK(why.find("4 of its 33 bytes") != std::string::npos);
  sqlite::Statement q(f.spool.connection(), "SELECT source, path, reason, copy_path FROM quarantine");
  REQUIRE(q.step());
  CHECK(q.column_text(0) == "emr-ext");
  CHECK(q.column_text(1) == "001/../../bad_1");
  CHECK(q.column_text(2).find("could not be sealed into a batch") == 0);
  CHECK(q.column_text(3) == copy.string());
  CHECK_FALSE(q.step());
  CHECK(f.spool.depth().quarantined == 1);

  // Nothing more to do, and a second run does not find it again.
  CHECK(f.seal().empty());
}

TEST_CASE("a failure that is not a record's abandons the batch and leaves no transaction open") {
  Fixture f;
  f.put("001/a_1", {{"", "first"}});
  // The partial file cannot be created: something is in its place.
  const fs::path partial = f.dir / "state" / "outbox" / "1312345678-20261125T120000Z-00000001.cms.partial";
  fs::create_directories(partial / "in-the-way");
  CHECK_THROWS_AS(f.seal(), Error);
  CHECK_FALSE(f.spool.in_transaction());
  CHECK(f.spool.ready_records(0, 10).size() == 1);  // the record is ready again, not stuck in a batch
  CHECK(f.spool.batches_in_state(spool::BatchState::sealing).empty());
  CHECK(f.spool.depth().quarantined == 0);
  fs::remove_all(partial);
  CHECK(f.seal().size() == 1);
}

// Format /2: the central side finds a lost batch by its sequence; a batch that was voided must be
// announced, or its number would look lost (docs/batch-format.md, "Sequence and gaps").
TEST_CASE("manifest and marker carry the batch's sequence; the next batch announces a voided one") {
  Fixture f;
  f.put("001/a_1", {{"", "first"}});
  const auto first = f.seal();
  REQUIRE(first.size() == 1);
  auto [members, m1] = f.open(first[0]);
  CHECK(m1.at("format") == "sennen-edge-batch/2");
  CHECK(m1.at("sequence") == 1);
  CHECK(m1.at("voided_sequences") == json::array());
  f.spool.void_batch(first[0], "test: the patient was stopped before delivery");
  const auto second = f.seal();
  REQUIRE(second.size() == 1);
  auto [members2, m2] = f.open(second[0]);
  CHECK(m2.at("sequence") == 2);
  CHECK(m2.at("voided_sequences") == json::array({1}));
  CHECK(second[0].ends_with("-00000002"));
  ManifestHeader h{"1312345678", second[0], kNow, "stop-sha", 2, {}};
  CHECK(json::parse(build_marker(h, 1, 0, 10, "ab")).at("sequence") == 2);
}

TEST_CASE("a record of many patients leaves only through its content filter, asked per patient when sealed") {
  Fixture f;
  const std::string original = "7:a\nno patient\n8:b\n9:c\n";
  f.put("month.txt", {{"", original}}, "x", "*lines");
  f.put("unknown.txt", {{"", "1:z\n"}}, "x", "*nofilter");  // a filter the sealer does not know
  f.put("later.txt", {{"", "1:z\n"}}, "x", "*away");        // a filter that cannot run now
  CHECK(f.seal().empty());  // without a patient gate, nothing of many patients is sealed
  const auto ids = f.seal([](const std::optional<std::string>& p) {
    if (!p) return Withhold::unattributed;
    return *p == "8" ? Withhold::stopped : Withhold::none;
  });
  REQUIRE(ids.size() == 1);
  auto [members, manifest] = f.open(ids[0]);
  REQUIRE(manifest["records"].size() == 1);
  const auto& r = manifest["records"][0];
  const std::string sent = "7:a\n9:c\n";
  CHECK(members.at(r["archive_path"].get<std::string>()) == sent);
  CHECK(r["sha256"] == util::sha256_hex(sent));
  CHECK(r["size"] == sent.size());
  CHECK(r["attributes"]["original_sha256"] == util::sha256_hex(original));
  CHECK(r["attributes"]["original_size"] == original.size());
  CHECK(r["attributes"]["kept"] == 2);
  CHECK(r["attributes"]["removed"]["stopped"] == 1);
  CHECK(r["attributes"]["removed"]["unattributed"] == 1);
  CHECK(r["attributes"]["order_no"] == "x");
  // Those without a filter that can run now stay ready, not set aside.
  CHECK(f.spool.ready_records(0, 100).size() == 2);
  // The filter's file beside the outbox is gone once the batch is sealed.
  for (const auto& e : fs::directory_iterator(f.dir / "state" / "outbox"))
    CHECK(e.path().filename().string().find("filtered-") == std::string::npos);
}
