// dicom-qr's typed checkpoints: each reads back what it wrote, reads the forms the first release
// stored, and takes what it cannot decode as absent (the source then does the work again).
#include <doctest/doctest.h>

#include "adapters/sources/dicom_qr/checkpoints.hpp"
#include "daemon/spool/spool.hpp"
#include "tests/support/temp_dir.hpp"

using namespace sennen;
using namespace sennen::dicom;

namespace {
UnitState stored(std::string status, std::uint64_t size = 0) { return {"x", size, 0, 0, std::move(status)}; }
}  // namespace

TEST_CASE("qr checkpoints: a study's progress in every form it takes, and the first release's forms") {
  const StudyProgress forms[] = {
      {true, 5, 5, 0}, {true, 5, std::nullopt, 2}, {false, 3, 5, 0}, {false, 0, std::nullopt, 0}};
  for (const auto& p : forms) {
    UnitState u;
    StudyProgressCodec::encode(p, u);
    CAPTURE(u.status);
    const auto back = StudyProgressCodec::decode(u);
    REQUIRE(back);
    // The C-FIND count is kept only while a study is incomplete.
    CHECK(back->text() == p.text());
    CHECK(back->held == p.held);
    CHECK(back->complete == p.complete);
    CHECK(back->refused == p.refused);
  }
  CHECK(StudyProgressCodec::decode(stored("incomplete 3/7", 3))->expected == 7u);
  CHECK_FALSE(StudyProgressCodec::decode(stored("incomplete 3/?", 3))->expected);
  CHECK(StudyProgressCodec::decode(stored("complete with 2 refused", 9))->refused == 2);
  for (const char* bad : {"", "done", "incomplete", "incomplete 3", "incomplete 3/x", "incomplete 4/7",
                          "complete with refused", "complete with -1 refused", "completed"})
    CHECK_FALSE(StudyProgressCodec::decode(stored(bad, 3)));
}

TEST_CASE("qr checkpoints: refusals, dates and syntaxes") {
  UnitState u;
  RefusalCodec::encode({"ab12", "1.2.3"}, u);
  CHECK(u.status == "ab12 1.2.3");
  CHECK(RefusalCodec::decode(u)->study == "1.2.3");
  CHECK(RefusalCodec::decode(stored("ab12 "))->study.empty());  // refused outside a study's retrieve
  CHECK_FALSE(RefusalCodec::decode(stored("ab12")));
  CHECK_FALSE(RefusalCodec::decode(stored(" 1.2.3")));
  CHECK(DateCodec::decode(stored("20261204")) == "20261204");
  CHECK_FALSE(DateCodec::decode(stored("2026-12-04")));
  CHECK_FALSE(SyntaxCodec::decode(stored("")));
}

TEST_CASE("checkpoint table: typed items through the spool's source state, undecodable ones absent") {
  test::TempDir t;
  spool::Spool spool(t.path());
  auto state = spool.source_state("pacs");
  StudyTable studies(*state, "qr/studies");
  studies.put("1.2", {false, 1, 4, 0});
  studies.put("1.3", {true, 2, 2, 0});
  state->put_unit("qr/studies", stored("not a progress"));
  CHECK(studies.size() == 3);
  const auto all = studies.all();
  CHECK(all.size() == 2);
  CHECK(all.at("1.2").text() == "incomplete 1/4");
  CHECK_FALSE(studies.get("x"));
  CHECK(studies.get("1.3")->complete);
  studies.erase("1.2");
  CHECK_FALSE(studies.get("1.2"));
  studies.clear();
  CHECK(studies.size() == 0);
}
