// The exposition text is read back with a strict parser of the format: every sample belongs to a
// family declared once with HELP and TYPE, names are sennen_*, label values are escaped.
#include <doctest/doctest.h>

#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "daemon/metrics/exposition.hpp"

using namespace sennen::metrics;

namespace {

struct Parsed {
  std::map<std::string, std::string> types;    // family -> counter, gauge, summary
  std::map<std::string, std::string> samples;  // "name{labels}" -> value
};

Parsed parse(const std::string& text) {
  static const std::regex help(R"(# HELP (sennen_[a-z_]+) \S.*)");
  static const std::regex type(R"(# TYPE (sennen_[a-z_]+) (counter|gauge|summary))");
  static const std::regex sample(
      R"re((sennen_[a-z_]+)(\{([a-z_]+="(\\.|[^"\\])*")(,[a-z_]+="(\\.|[^"\\])*")*\})? (-?[0-9.e+]+))re");
  Parsed p;
  std::set<std::string> helped;
  std::istringstream in(text);
  std::string line;
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      REQUIRE_MESSAGE(helped.insert(m[1]).second, "HELP twice for " << m[1]);
    } else if (std::regex_match(line, m, type)) {
      REQUIRE_MESSAGE(helped.count(m[1]), "TYPE before HELP for " << m[1]);
      REQUIRE_MESSAGE(p.types.emplace(m[1], m[2]).second, "TYPE twice for " << m[1]);
    } else if (std::regex_match(line, m, sample)) {
      std::string family = m[1];
      for (const char* suffix : {"_sum", "_count"})
        if (!p.types.count(family) && family.ends_with(suffix)) family.resize(family.size() - std::strlen(suffix));
      REQUIRE_MESSAGE(p.types.count(family), "sample without TYPE: " << line);
      const std::string key = line.substr(0, line.rfind(' '));
      REQUIRE_MESSAGE(p.samples.emplace(key, m[7]).second, "duplicate sample " << key);
    } else {
      FAIL("not exposition format: " << line);
    }
  }
  return p;
}

Snapshot example() {
  Snapshot s;
  s.started_at = 1000;
  s.updated_at = 1900;
  SourceMetrics emr;
  emr.name = "emr";
  emr.type = "ssmix2";
  emr.polls = 4;
  emr.records_ingested = 120;
  emr.quarantined = 2;
  emr.last_success = 1890;
  SourceMetrics odd = emr;
  odd.events["associations refused from"]["CT \"1\""] = 3;
  odd.name = "a \"quoted\" \\ name\nwith a newline";
  odd.last_error = "root missing";
  s.sources = {emr, odd};
  s.destination.name = "local /srv/export";
  s.destination.batches_delivered = 3;
  s.destination.failures = 1;
  s.depth.ready = 7;
  s.depth.oldest_pending_at = 1500;
  s.depth.batches_pending = 2;
  s.depth.quarantined = 2;
  s.outbox_bytes = 4096;
  s.outbox_oldest_at = 1800;
  s.depth.held_stopped = 5;
  s.gate.purged_total = 1;
  s.gate.paused_reason = "stop list cannot be read";
  s.seal_seconds = {1.5, 3};
  return s;
}

}  // namespace

TEST_CASE("the exposition parses and carries the snapshot's numbers, ages taken at scrape time") {
  const Parsed p = parse(exposition(example(), 2000));
  CHECK(p.types.at("sennen_source_records_ingested_total") == "counter");
  CHECK(p.types.at("sennen_outbox_batches") == "gauge");
  CHECK(p.types.at("sennen_batch_seal_seconds") == "summary");
  CHECK(p.samples.at(R"(sennen_source_records_ingested_total{source="emr",type="ssmix2"})") == "120");
  CHECK(p.samples.at(R"(sennen_source_up{source="emr",type="ssmix2"})") == "1");
  CHECK(p.samples.at(R"(sennen_destination_batches_delivered_total{destination="local /srv/export"})") == "3");
  CHECK(p.samples.at(R"(sennen_spool_records{state="ready"})") == "7");
  CHECK(p.samples.at("sennen_spool_oldest_pending_age_seconds") == "500");
  CHECK(p.samples.at("sennen_outbox_oldest_age_seconds") == "200");
  CHECK(p.samples.at("sennen_outbox_bytes") == "4096");
  CHECK(p.samples.at(R"(sennen_gate_withheld_records{reason="stopped"})") == "5");
  CHECK(p.samples.at(R"(sennen_spool_records{state="held_stopped"})") == "5");
  CHECK(p.samples.at("sennen_gate_paused") == "1");
  CHECK(p.samples.at("sennen_batch_seal_seconds_sum") == "1.5");
  CHECK(p.samples.at("sennen_batch_seal_seconds_count") == "3");
  CHECK(p.types.at("sennen_source_events_total") == "counter");
  CHECK(p.samples.at(R"(sennen_source_events_total{source="a \"quoted\" \\ name\nwith a newline",type="ssmix2",)"
                     R"(event="associations refused from",peer="CT \"1\""})") == "3");
}

TEST_CASE("label values are escaped, so a source name cannot break the format") {
  const std::string text = exposition(example(), 2000);
  CHECK(text.find(R"(source="a \"quoted\" \\ name\nwith a newline")") != std::string::npos);
  CHECK(parse(text).samples.at(R"(sennen_source_up{source="a \"quoted\" \\ name\nwith a newline",type="ssmix2"})") ==
        "0");
}

TEST_CASE("nothing pending gives ages of 0, not the age of the epoch") {
  Snapshot s;
  const Parsed p = parse(exposition(s, 2000));
  CHECK(p.samples.at("sennen_spool_oldest_pending_age_seconds") == "0");
  CHECK(p.samples.at("sennen_outbox_oldest_age_seconds") == "0");
}

// Issue 15: the recovery point per source and for the site. A source with records waiting is
// only as recent as the oldest of them; one with nothing waiting as its last successful poll; the
// site as its oldest source, unknown while a source has never polled successfully.
TEST_CASE("recovery point: the oldest waiting record, else the last successful poll; the site's is the oldest") {
  Snapshot s = example();
  s.sources.resize(1);                       // emr, last success 1890
  s.depth.sources["emr"] = {3, 1500, 4, 1};  // 3 waiting, the oldest taken in at 1500
  Parsed p = parse(exposition(s, 2000));
  CHECK(p.samples.at(R"(sennen_source_recovery_point_timestamp_seconds{source="emr",type="ssmix2"})") == "1500");
  CHECK(p.samples.at("sennen_recovery_point_timestamp_seconds") == "1500");
  CHECK(p.samples.at("sennen_recovery_point_age_seconds") == "500");
  s.depth.sources["emr"] = {0, 0, 4, 1};  // held records alone: not a gap
  p = parse(exposition(s, 2000));
  CHECK(p.samples.at("sennen_recovery_point_timestamp_seconds") == "1890");
  SourceMetrics never = s.sources[0];
  never.name = "pacs";
  never.last_success = 0;
  s.sources.push_back(never);
  p = parse(exposition(s, 2000));
  CHECK(p.samples.at("sennen_recovery_point_timestamp_seconds") == "0");
  CHECK(p.samples.at("sennen_recovery_point_age_seconds") == "0");
}
