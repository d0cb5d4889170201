#include <doctest/doctest.h>

#include <vector>

#include "daemon/util/error.hpp"
#include "daemon/spool/spool.hpp"
#include "daemon/spool/spool_reader.hpp"
#include "daemon/spool/sqlite.hpp"
#include "daemon/util/sha256.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
namespace fs = std::filesystem;

namespace {
RecordDraft draft(const fs::path& file, const std::string& version, const std::string& patient = "0001") {
  RecordDraft d;
  d.source = "emr";
  d.key = "k-" + version;
  d.version = version;
  d.patient_id = patient;
  d.kind = "OMP-01";
  d.path = file.filename().string();
  d.parts = {ContentPart{"", file, fs::file_size(file)}};
  d.attributes = {{"date", "20250101"}};
  return d;
}

std::string read_all(spool::Spool& s, std::int64_t part_id) {
  auto r = s.open_part(part_id);
  std::string out;
  std::byte buf[7];  // small on purpose: many chunks
  while (std::size_t n = r->read(buf)) out.append(reinterpret_cast<const char*>(buf), n);
  return out;
}
}  // namespace

TEST_CASE("spool: schema is created and migrated to the current version") {
  test::TempDir t;
  spool::Spool s(t.path());
  CHECK(s.schema_version() == spool::Spool::kSchemaVersion);
  spool::Spool again(t.path());  // reopening does not re-run migrations
  CHECK(again.schema_version() == spool::Spool::kSchemaVersion);
}

TEST_CASE("spool: batch states are stored as words and a word it never writes is refused") {
  using spool::BatchState;
  for (auto s : {BatchState::sealing, BatchState::sealed, BatchState::delivered, BatchState::void_})
    CHECK(spool::batch_state_named(spool::to_string(s)) == s);
  CHECK(spool::to_string(BatchState::void_) == "void");  // the word schema 001 and old spools hold
  CHECK_THROWS_WITH_AS(spool::batch_state_named("shipped"), doctest::Contains("edited by hand"), Error);
}

TEST_CASE("spool: attribute values that are not UTF-8 are stored, never an exception") {
  // An order number from a CP932 file name, a DICOM Modality with stray bytes.
  test::TempDir t;
  test::write_file(t / "f1", "MSH|^~\\&|");
  spool::Spool s(t / "state");
  auto d = draft(t / "f1", "v1");
  d.attributes = {{"order_no", "\x83\x65\x83\x58\x83\x67"}, {"modality", "C\xffT"}, {"date", "20250101"}};
  spool::Spool::Transaction tx(s);
  CHECK(s.put(d, "1", spool::Hold::none, 100));
  tx.commit();
  auto ready = s.ready_records(0, 10);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].attributes_json ==
        "{\"date\":\"20250101\",\"modality\":\"C\\\\xffT\",\"modality_b64\":\"Q/9U\","
        "\"order_no\":\"テスト\",\"order_no_b64\":\"g2WDWINn\"}");
}

TEST_CASE("spool: a ready record keeps its bytes exactly, with their sha256") {
  test::TempDir t;
  std::string content = "MSH|^~\\&|\x1b$B4A;z\x1b(B\rPID|||0001";
  test::write_file(t / "f1", content);
  spool::Spool s(t / "state");
  spool::Spool::Transaction tx2(s);
  CHECK(s.put(draft(t / "f1", "v1"), "1", spool::Hold::none, 100));
  tx2.commit();
  auto ready = s.ready_records(0, 10);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].sha256 == util::sha256_hex(content));
  CHECK(ready[0].size == content.size());
  CHECK(ready[0].patient_key == "1");
  REQUIRE(ready[0].parts.size() == 1);
  CHECK(read_all(s, ready[0].parts[0].part_id) == content);
}

TEST_CASE("spool: the same version is taken in once") {
  test::TempDir t;
  test::write_file(t / "f1", "abc");
  spool::Spool s(t / "state");
  spool::Spool::Transaction tx3(s);
  CHECK(s.put(draft(t / "f1", "v1"), "1", spool::Hold::none, 1));
  CHECK_FALSE(s.put(draft(t / "f1", "v1"), "1", spool::Hold::none, 2));
  tx3.commit();
  CHECK(s.ready_records(0, 10).size() == 1);
}

TEST_CASE("spool: a file that changed size while being read leaves nothing behind") {
  test::TempDir t;
  test::write_file(t / "f1", "abcdef");
  spool::Spool s(t / "state");
  auto d = draft(t / "f1", "v1");
  d.parts[0].size = 3;  // what the poller saw before the writer appended
  spool::Spool::Transaction tx4(s);
  CHECK_THROWS_AS(s.put(d, "1", spool::Hold::none, 1), Error);
  CHECK(s.put(draft(t / "f1", "v2"), "1", spool::Hold::none, 1));  // the transaction is still usable
  tx4.commit();
  auto ready = s.ready_records(0, 10);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].version == "v2");
}

TEST_CASE("spool: an uncommitted chunk is lost as a whole on a crash, never half") {
  test::TempDir t;
  test::write_file(t / "f1", "abc");
  {
    spool::Spool s(t / "state");
    spool::Spool::Transaction tx5(s);
    s.put(draft(t / "f1", "v1"), "1", spool::Hold::none, 1);
    // destroyed without commit, as if killed
  }
  spool::Spool s(t / "state");
  CHECK(s.ready_records(0, 10).empty());
}

TEST_CASE("spool: held records keep only their hash, and are released from the source when eligible") {
  test::TempDir t;
  test::write_file(t / "f1", "held content");
  spool::Spool s(t / "state");
  spool::Spool::Transaction tx6(s);
  s.put(draft(t / "f1", "v1", "0042"), "42", spool::Hold::not_notified, 1);
  tx6.commit();
  CHECK(s.ready_records(0, 10).empty());
  CHECK(s.depth().held_not_notified == 1);
  CHECK(s.held_patients(std::nullopt) == std::vector<std::string>{"42"});

  SUBCASE("released when the bytes are still as they were") {
    auto [released, stale] = s.release_patient("42", [&](const spool::StoredRecord&) {
      return std::optional<std::vector<ContentPart>>({ContentPart{"", t / "f1", 12}});
    });
    CHECK(released == 1);
    CHECK(stale == 0);
    auto ready = s.ready_records(0, 10);
    REQUIRE(ready.size() == 1);
    CHECK(read_all(s, ready[0].parts[0].part_id) == "held content");
  }
  SUBCASE("dropped when the source bytes changed (a newer version supersedes it)") {
    test::write_file(t / "f1", "HELD CONTENT");
    auto [released, stale] = s.release_patient("42", [&](const spool::StoredRecord&) {
      return std::optional<std::vector<ContentPart>>({ContentPart{"", t / "f1", 12}});
    });
    CHECK(released == 0);
    CHECK(stale == 1);
    CHECK(s.ready_records(0, 10).empty());
    CHECK(s.depth().held_not_notified == 0);
  }
}

TEST_CASE("spool: holding a stopped patient drops pending content") {
  test::TempDir t;
  test::write_file(t / "f1", "a");
  test::write_file(t / "f2", "b");
  spool::Spool s(t / "state");
  spool::Spool::Transaction tx7(s);
  s.put(draft(t / "f1", "v1", "7"), "7", spool::Hold::none, 1);
  s.put(draft(t / "f2", "v2", "8"), "8", spool::Hold::none, 1);
  tx7.commit();
  CHECK(s.hold_patient("7", spool::Hold::stopped) == 1);
  auto ready = s.ready_records(0, 10);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].patient_key == "8");
  CHECK(s.depth().held_stopped == 1);
}

TEST_CASE("spool: batch lifecycle: records leave only when delivered; a voided batch gives them back") {
  test::TempDir t;
  test::write_file(t / "f1", "a");
  test::write_file(t / "f2", "b");
  spool::Spool s(t / "state");
  spool::Spool::Transaction tx8(s);
  s.put(draft(t / "f1", "v1"), "1", spool::Hold::none, 1);
  s.put(draft(t / "f2", "v2"), "1", spool::Hold::none, 1);
  tx8.commit();
  s.apply_stop_list({"99"}, 5);  // queues a withdrawal for 99
  auto ready = s.ready_records(0, 10);
  auto w = s.pending_withdrawals();
  REQUIRE(w.size() == 1);
  auto seq = s.next_batch_seq();
  s.create_batch("B1", seq, {ready[0].id, ready[1].id}, {w[0].id}, 2, "sha", 10);
  CHECK(s.ready_records(0, 10).empty());
  CHECK(s.pending_withdrawals().empty());
  CHECK(s.batch_patients("B1") == std::set<std::string>{"1"});

  SUBCASE("void") {
    s.void_batch("B1", "test");
    CHECK(s.ready_records(0, 10).size() == 2);
    CHECK(s.pending_withdrawals().size() == 1);
    CHECK(s.next_batch_seq() == seq + 1);  // a voided id is never reused
  }
  SUBCASE("deliver") {
    CHECK_THROWS_AS(s.mark_delivered("B1", 11), Error);  // not sealed yet
    s.mark_sealed("B1", 123, "abc");
    s.mark_delivered("B1", 11);
    CHECK(s.batch_records("B1").empty());
    CHECK(s.ready_records(0, 10).empty());
    auto last = s.last_delivered_batch();
    REQUIRE(last);
    CHECK(last->batch_id == "B1");
    CHECK(last->record_count == 2);
    CHECK(s.depth().withdrawals_pending == 0);
    // What it held stays known (content does not), and its withdrawal can be queued again.
    {
      spool::SpoolReader r(t / "state");
      const auto held = r.delivered_records(seq);
      REQUIRE(held.size() == 2);
      CHECK(held[0].version == "v1");
      CHECK(held[1].version == "v2");
      CHECK(held[0].event == "upsert");
      CHECK(r.delivered_records(seq + 1).empty());
      CHECK(r.batch_with_seq(seq)->batch_id == "B1");
    }
    spool::Spool::Transaction tx(s);
    CHECK(s.requeue_withdrawals(seq) == 1);
    tx.commit();
    REQUIRE(s.pending_withdrawals().size() == 1);
    CHECK(s.pending_withdrawals()[0].patient_key == "99");
  }
}

TEST_CASE("spool: delivered records are counted per day, kind and form; deletes are not; old days are pruned") {
  test::TempDir t;
  test::write_file(t / "f1", "a");
  test::write_file(t / "f2", "b");
  test::write_file(t / "doc.hl7", "c");
  test::write_file(t / "scan.PDF", "d");
  spool::Spool s(t / "state");
  const std::int64_t day = 20000, now = day * 86400 + 3600;
  auto deliver = [&](const std::string& batch, std::vector<RecordDraft> drafts, std::int64_t at) {
    spool::Spool::Transaction tx(s);
    for (auto& d : drafts) s.put(d, "1", spool::Hold::none, at);
    tx.commit();
    std::vector<std::int64_t> ids;
    for (const auto& r : s.ready_records(0, 100)) ids.push_back(r.id);
    s.create_batch(batch, s.next_batch_seq(), ids, {}, 2, "sha", at);
    s.mark_sealed(batch, 1, "abc");
    s.mark_delivered(batch, at);
  };
  RecordDraft ext = draft(t / "doc.hl7", "e1");
  ext.kind = "L-PROGRESS^経過記録^99ZL01^11506-3^経過記録^LN";
  ext.parts = {ContentPart{"main_document.hl7", t / "doc.hl7", 1}, ContentPart{"scan.PDF", t / "scan.PDF", 1}};
  RecordDraft gone = draft(t / "f2", "d1");
  gone.event = Event::remove;
  gone.parts.clear();
  deliver("B1", {draft(t / "f1", "v1"), ext, gone}, now);
  deliver("B2", {draft(t / "f2", "v2")}, now + 86400);
  auto got = s.delivered_kinds(day);
  REQUIRE(got.size() == 2);
  CHECK(got[0].kind == ext.kind);
  CHECK(got[0].form == "pdf_jpeg");
  CHECK(got[0].records == 1);
  CHECK(got[1].kind == "OMP-01");
  CHECK(got[1].form == "structured");
  CHECK(got[1].records == 2);                     // one per day, summed; the delete is not counted
  CHECK(s.delivered_kinds(day + 1).size() == 1);  // only the second day's
  test::write_file(t / "f3", "e");
  deliver("B3", {draft(t / "f3", "v3")}, now + spool::Spool::kDeliveredKindsKeptDays * 86400 + 86400);
  CHECK(s.delivered_kinds(0).size() == 1);  // the first two days are pruned
}

// Batch format /2: the central side tells a voided batch from one lost on the way only if every
// voided number is announced by a batch that is sealed (and delivered) after it.
TEST_CASE("spool: every voided batch number is announced once by a later batch, again if that one is voided") {
  test::TempDir t;
  test::write_file(t / "f1", "a");
  spool::Spool s(t / "state");
  spool::Spool::Transaction tx(s);
  s.put(draft(t / "f1", "v1"), "1", spool::Hold::none, 1);
  tx.commit();
  auto id = s.ready_records(0, 10).at(0).id;
  CHECK(s.create_batch("B1", 1, {id}, {}, 1, "sha", 2).empty());
  s.void_batch("B1", "test");
  CHECK(s.create_batch("B2", 2, {id}, {}, 1, "sha", 3) == std::vector<std::int64_t>{1});
  s.void_batch("B2", "test");  // B2 never leaves: its number and B1's go with the next
  CHECK(s.create_batch("B3", 3, {id}, {}, 1, "sha", 4) == std::vector<std::int64_t>{1, 2});
  s.mark_sealed("B3", 10, "abc");
  s.mark_delivered("B3", 5);
  CHECK(s.create_batch("B4", 4, {}, {}, 0, "sha", 6).empty());  // announced once only
  CHECK(s.next_batch_seq() == 5);
}

// Found by the fault campaign (crash part, long run): a patient stopped while their record was
// cancelled in the EMR had the delete held with them; at the release the delete, which has no
// content to read back, was taken for a version gone from the tree and dropped, and the central
// side kept the cancelled record for good.
TEST_CASE("spool: a held delete is released as it is (it has no content to read back)") {
  test::TempDir t;
  spool::Spool s(t / "state");
  RecordDraft del;
  del.source = "emr";
  del.key = "k";
  del.version = "0:k#deleted#stem";
  del.patient_id = "0042";
  del.kind = "ADT-12";
  del.path = "gone_0";
  del.event = Event::remove;
  {
    spool::Spool::Transaction tx(s);
    s.put(del, "42", spool::Hold::stopped, 1);
    tx.commit();
  }
  REQUIRE(s.ready_records(0, 10).empty());
  auto [released, stale] =
      s.release_patient("42", [](const spool::StoredRecord&) { return std::optional<std::vector<ContentPart>>(); });
  CHECK(released == 1);
  CHECK(stale == 0);
  auto ready = s.ready_records(0, 10);
  REQUIRE(ready.size() == 1);
  CHECK(ready[0].event == Event::remove);
}

TEST_CASE("spool: a voided batch drops a record a newer version of its key has superseded") {
  test::TempDir t;
  test::write_file(t / "f1", "a");
  test::write_file(t / "f2", "b");
  test::write_file(t / "f3", "c");
  spool::Spool s(t / "state");
  auto same_key = [](RecordDraft d) {
    d.key = "k";
    return d;
  };
  {
    spool::Spool::Transaction tx(s);
    s.put(same_key(draft(t / "f1", "v1")), "1", spool::Hold::none, 1);
    s.put(draft(t / "f3", "other"), "1", spool::Hold::none, 1);
    tx.commit();
  }
  auto first = s.ready_records(0, 10);
  s.create_batch("B1", s.next_batch_seq(), {first[0].id, first[1].id}, {}, 2, "sha", 10);
  {
    spool::Spool::Transaction tx(s);
    s.put(same_key(draft(t / "f2", "v2")), "1", spool::Hold::none, 2);  // the newer version, queued behind B1
    tx.commit();
  }
  s.void_batch("B1", "test");
  auto ready = s.ready_records(0, 10);
  REQUIRE(ready.size() == 2);
  CHECK(ready[0].version == "other");  // B1's other record is pending again
  CHECK(ready[1].version == "v2");     // v1 is gone: only v2 goes out for key k
}

TEST_CASE("spool: an ID stays stopped when it leaves the stop-list file, until an operator releases it") {
  test::TempDir t;
  spool::Spool s(t.path());
  auto u = s.apply_stop_list({"1", "2"}, 1);
  CHECK(u.added == std::vector<std::string>{"1", "2"});
  CHECK(s.pending_withdrawals().size() == 2);

  u = s.apply_stop_list({"2", "3"}, 2);  // 1 left the file: retained, not released
  CHECK(u.added == std::vector<std::string>{"3"});
  CHECK(u.went_missing == std::vector<std::string>{"1"});
  CHECK(u.stopped == std::set<std::string>{"1", "2", "3"});
  CHECK(u.retained == 1);
  CHECK(u.in_file_before == 2);
  REQUIRE(s.retained_stops().size() == 1);
  CHECK(s.retained_stops()[0].patient_key == "1");
  CHECK(s.retained_stops()[0].since == 1);
  CHECK(s.retained_stops()[0].missing_since == 2);

  u = s.apply_stop_list({}, 3);  // an emptied file releases nobody
  CHECK(u.added.empty());
  CHECK(u.stopped == std::set<std::string>{"1", "2", "3"});
  CHECK(u.retained == 3);

  u = s.apply_stop_list({"1", "2", "3"}, 4);  // the file restored: no new addition, no second withdrawal
  CHECK(u.added.empty());
  CHECK(u.came_back.size() == 3);
  CHECK(u.retained == 0);
  CHECK(s.pending_withdrawals().size() == 3);
  CHECK(s.counter("withdrawals_total") == 3);
}

TEST_CASE("spool: releasing a stopped ID is recorded; added again later, it is a new stop") {
  test::TempDir t;
  spool::Spool s(t.path());
  s.apply_stop_list({"7", "8"}, 10);
  s.apply_stop_list({"8"}, 20);
  CHECK_FALSE(s.release_stop("9", "root", "never stopped", 25));
  CHECK(s.release_stop("7", "alice", "patient withdrew the opt-out (form 2026-12-01)", 30));
  CHECK(s.stopped_keys() == std::set<std::string>{"8"});
  CHECK(s.retained_stops().empty());
  auto r = s.releases();
  REQUIRE(r.size() == 1);
  CHECK(r[0].patient_key == "7");
  CHECK(r[0].stopped_since == 10);
  CHECK(r[0].missing_since == 20);
  CHECK(r[0].released_at == 30);
  CHECK(r[0].released_by == "alice");
  CHECK(r[0].reason == "patient withdrew the opt-out (form 2026-12-01)");
  CHECK(s.releases(std::string_view("8")).empty());

  auto u = s.apply_stop_list({"7", "8"}, 40);  // opted out again: a new stop and a new withdrawal
  CHECK(u.added == std::vector<std::string>{"7"});
  CHECK(s.pending_withdrawals().size() == 3);
}

TEST_CASE("spool: a new stop, its withheld records and its withdrawal are one transaction") {
  test::TempDir t;
  test::write_file(t / "f1", "a");
  spool::Spool s(t / "state");
  spool::Spool::Transaction tx9(s);
  s.put(draft(t / "f1", "v1", "7"), "7", spool::Hold::none, 1);
  tx9.commit();
  {
    // Make queuing the withdrawal fail, as a crash at that moment would end it.
    sqlite::Connection other(t / "state" / "spool.db");
    other.exec("CREATE TRIGGER fail_withdrawal BEFORE INSERT ON gate_withdrawals BEGIN SELECT RAISE(ABORT, 'x'); END");
  }
  CHECK_THROWS_AS(s.apply_stop_list({"7"}, 2), Error);
  CHECK(s.stopped_keys().empty());            // not recorded without its withdrawal ...
  CHECK(s.ready_records(0, 10).size() == 1);  // ... nor its records withheld: all or nothing
  {
    sqlite::Connection other(t / "state" / "spool.db");
    other.exec("DROP TRIGGER fail_withdrawal");
  }
  auto u = s.apply_stop_list({"7"}, 3);  // next time it is new, and all of it happens
  CHECK(u.added == std::vector<std::string>{"7"});
  CHECK(u.purged == 1);
  CHECK(s.ready_records(0, 10).empty());
  CHECK(s.pending_withdrawals().size() == 1);
}

TEST_CASE("spool: a new stop marks every undelivered batch of claims files for a recheck, in its transaction") {
  test::TempDir t;
  for (const char* f : {"f1", "f2", "f3", "f4", "f5"}) test::write_file(t / f, f);
  spool::Spool s(t / "state");
  spool::Spool::Transaction tx(s);
  s.put(draft(t / "f1", "v1", "*uke"), "*uke", spool::Hold::none, 1);  // a claims file: many patients
  s.put(draft(t / "f2", "v2", "5"), "5", spool::Hold::none, 1);
  s.put(draft(t / "f3", "v3", "*uke"), "*uke", spool::Hold::none, 1);
  s.put(draft(t / "f4", "v4", "*uke"), "*uke", spool::Hold::none, 1);
  s.put(draft(t / "f5", "v5", "6"), "6", spool::Hold::none, 1);
  tx.commit();
  CHECK(s.apply_stop_list({"8"}, 1).rechecks == 0);  // stopped before anything was sealed
  const auto r = s.ready_records(0, 10);
  REQUIRE(r.size() == 5);
  s.create_batch("CLAIMS", s.next_batch_seq(), {r[0].id, r[1].id}, {}, 2, "sha", 2);
  s.mark_sealed("CLAIMS", 10, "abc");
  s.create_batch("PLAIN", s.next_batch_seq(), {r[4].id}, {}, 1, "sha", 2);
  s.mark_sealed("PLAIN", 10, "abc");
  s.create_batch("GONE", s.next_batch_seq(), {r[2].id}, {}, 1, "sha", 2);
  s.mark_sealed("GONE", 10, "abc");
  s.mark_delivered("GONE", 3);
  s.create_batch("HALF", s.next_batch_seq(), {r[3].id}, {}, 1, "sha", 2);  // still being sealed
  auto recheck = [&](const std::string& id) {
    for (auto st : {spool::BatchState::sealing, spool::BatchState::sealed, spool::BatchState::delivered})
      for (const auto& b : s.batches_in_state(st))
        if (b.batch_id == id) return b.recheck;
    FAIL("no batch " << id);
    return false;
  };
  CHECK_FALSE(recheck("CLAIMS"));

  SUBCASE("an ID already stopped, or one coming back, marks nothing") {
    CHECK(s.apply_stop_list({"8"}, 3).rechecks == 0);
    CHECK(s.apply_stop_list({}, 4).rechecks == 0);  // 8 left the file (still stopped)
    CHECK(s.apply_stop_list({"8"}, 5).rechecks == 0);
    CHECK_FALSE(recheck("CLAIMS"));
  }
  SUBCASE("a new ID marks the undelivered batches holding a claims file") {
    CHECK(s.apply_stop_list({"7", "8"}, 3).rechecks == 2);
    CHECK(recheck("CLAIMS"));
    CHECK(recheck("HALF"));
    CHECK_FALSE(recheck("PLAIN"));  // one patient each: the stop list decides for it
    CHECK_FALSE(recheck("GONE"));   // delivered: nothing to hold back
  }
  SUBCASE("not without the stop: a failed apply marks nothing") {
    {
      sqlite::Connection other(t / "state" / "spool.db");
      other.exec(
          "CREATE TRIGGER fail_withdrawal BEFORE INSERT ON gate_withdrawals BEGIN SELECT RAISE(ABORT, 'x'); END");
    }
    CHECK_THROWS_AS(s.apply_stop_list({"7", "8"}, 3), Error);
    CHECK_FALSE(recheck("CLAIMS"));
    CHECK_FALSE(recheck("HALF"));
  }
}

TEST_CASE("spool: visits give the first visit on or after a day, and go away with their record") {
  test::TempDir t;
  spool::Spool s(t.path());
  s.put_visit("emr", "kA", "5", 100);
  s.put_visit("emr", "kB", "5", 120);
  s.put_visit("emr", "kC", "5", 90);
  CHECK(s.first_visit_since("5", 95) == 100);
  s.remove_visit("emr", "kA");
  CHECK(s.first_visit_since("5", 95) == 120);
  CHECK_FALSE(s.first_visit_since("6", 0).has_value());
}

TEST_CASE("spool: source state removes a whole subtree, and only it") {
  test::TempDir t;
  spool::Spool s(t.path());
  auto st = s.source_state("emr");
  st->put_dir("", {"0", 1, 1, true, true, 0});
  st->put_dir("0", {"0/000", 1, 1, true, true, 0});
  st->put_dir("0/000", {"0/000/001", 1, 1, true, false, 0});
  st->put_dir("0", {"0/0000", 1, 1, true, false, 0});
  st->put_unit("0/000/001", {"f", 1, 1, 1, "ingested"});
  st->put_unit("0/0000", {"g", 1, 1, 1, "ingested"});
  st->erase_dir_tree("0/000");
  CHECK(st->child_dirs("0").size() == 1);
  CHECK(st->units("0/000/001").empty());
  CHECK(st->units("0/0000").size() == 1);
  CHECK(s.source_state("other")->child_dirs("0").empty());
}

TEST_CASE("spool: bytes a source already read whole are used without opening the file again") {
  test::TempDir t;
  test::write_file(t / "f1", "on disk");
  spool::Spool s(t / "state");
  auto d = draft(t / "f1", "v1");
  d.parts[0].file = t / "gone";  // would fail to open
  d.parts[0].size = 9;
  d.parts[0].bytes = std::make_shared<const std::string>("in memory");
  spool::Spool::Transaction tx10(s);
  CHECK(s.put(d, "1", spool::Hold::none, 1));
  auto wrong = draft(t / "f1", "v2");
  wrong.parts[0].bytes = std::make_shared<const std::string>("wrong size");  // not trusted: read from disk
  CHECK(s.put(wrong, "1", spool::Hold::none, 1));
  tx10.commit();
  auto ready = s.ready_records(0, 10);
  REQUIRE(ready.size() == 2);
  CHECK(read_all(s, ready[0].parts[0].part_id) == "in memory");
  CHECK(ready[0].sha256 == util::sha256_hex("in memory"));
  CHECK(read_all(s, ready[1].parts[0].part_id) == "on disk");
}

TEST_CASE("spool: content bytes count ready and sealed records until delivery, never held ones") {
  test::TempDir t;
  test::write_file(t / "f1", "aaaa");
  test::write_file(t / "f2", "bbbbbb");
  test::write_file(t / "f3", "held-content");
  spool::Spool s(t / "state");
  spool::Spool::Transaction tx11(s);
  s.put(draft(t / "f1", "v1"), "1", spool::Hold::none, 1);
  s.put(draft(t / "f2", "v2"), "1", spool::Hold::none, 1);
  s.put(draft(t / "f3", "v3", "0002"), "2", spool::Hold::not_notified, 1);
  tx11.commit();
  CHECK(s.depth().content_bytes() == 10);
  auto ready = s.ready_records(0, 10);
  REQUIRE(ready.size() == 2);
  s.create_batch("B1", s.next_batch_seq(), {ready[0].id}, {}, 4, "sha", 2);
  s.mark_sealed("B1", 100, "abc");
  auto d = s.depth();
  CHECK(d.ready_bytes == 6);
  CHECK(d.batched_bytes == 4);
  CHECK(d.content_bytes() == 10);  // sealed but not delivered: still here
  s.mark_delivered("B1", 3);
  CHECK(s.depth().content_bytes() == 6);
}
