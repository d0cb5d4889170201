// type: dicom-qr in sennen-edge.yaml: the keys, their checks (file:line:col), and the registry
// building a source from them.
#include <doctest/doctest.h>

#include "adapters/registry/registry.hpp"
#include "adapters/sources/dicom_qr/qr_source.hpp"
#include "daemon/config/config.hpp"
#include "tests/support/configuration.hpp"

using namespace sennen;
using namespace sennen::config;
using sennen::test::parse;

namespace {

std::string with_sources(const std::string& sources) {
  return "site:\n  id: \"1312345678\"\nstate_dir: /var/lib/sennen-edge\nsources:\n" + sources +
         "optout:\n  stop_list: /etc/sennen-edge/optout.csv\ndestination:\n  type: local\n  path: /x\n"
         "encryption:\n  recipients: [/c.crt]\n  signer_cert: /s.crt\n  signer_key: /s.key\n";
}

std::vector<std::string> problems(const std::string& yaml) {
  try {
    parse(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    std::vector<std::string> out;
    for (const auto& p : e.problems())
      out.push_back(std::to_string(p.line) + ":" + std::to_string(p.column) + ": " + p.key + ": " + p.message);
    return out;
  }
  return {};
}

bool has(const std::vector<std::string>& list, const std::string& prefix, const std::string& part) {
  for (const auto& p : list)
    if (p.rfind(prefix, 0) == 0 && p.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("dicom-qr config: every key read, defaults where absent, registry builds the source") {
  Config c = parse(with_sources("  - name: pacs\n"
                                "    type: dicom-qr\n"
                                "    peer: {host: 10.1.2.3, port: 104, ae_title: PACS}\n"
                                "    local_ae_title: SENNEN\n"
                                "    retrieve: get\n"
                                "    poll_interval: 15m\n"
                                "    lookback: 3d\n"
                                "    since: 2015-01-01\n"
                                "    patient_id: {strip_leading_zeros: true, pad_to: 8}\n"
                                "  - name: pacs2\n"
                                "    type: dicom-qr\n"
                                "    peer: {host: pacs.local, port: 11112, ae_title: ORTHANC}\n"
                                "    local_ae_title: EDGE\n"),
                   "test.yaml");
  REQUIRE(c.sources.size() == 2);
  const auto& d = c.sources[0].options_as<dicom::QrKeys>();
  CHECK(c.sources[0].type == "dicom-qr");
  CHECK(d.peer.host == "10.1.2.3");
  CHECK(d.peer.port == 104);
  CHECK(d.peer.ae_title == "PACS");
  CHECK(d.peer.local_ae_title == "SENNEN");
  CHECK(d.retrieve == dicom::Retrieve::get);
  CHECK(c.sources[0].poll_interval == Seconds(900));
  CHECK(d.lookback == Seconds(3 * 24 * 3600));
  REQUIRE(d.since.has_value());
  CHECK(d.since->iso() == "2015-01-01");
  CHECK(d.storage.patient_id.strip_leading_zeros);
  CHECK(d.storage.patient_id.pad_to == 8);
  const auto& e = c.sources[1].options_as<dicom::QrKeys>();
  CHECK(e.lookback == Seconds(2 * 24 * 3600));
  CHECK(!e.since.has_value());
  CHECK(e.retrieve == dicom::Retrieve::get);
  auto sources = adapters::make_sources(c);
  REQUIRE(sources.size() == 2);
  CHECK(sources[0]->name() == "pacs");
}

TEST_CASE("dicom-qr config: mistakes are reported with line and column") {
  auto p =
      problems(with_sources("  - name: pacs\n"                                       // 5
                            "    type: dicom-qr\n"                                   // 6
                            "    peer: {host: 10.1.2.3, port: 0, ae_title: PACS}\n"  // 7
                            "    retrieve: fetch\n"                                  // 8
                            "    lookback: soon\n"                                   // 9
                            "    since: 2015-02-30\n"                                // 10
                            "    root: /x\n"                                         // 11
                            "    port: 104\n"));                                     // 12
  for (const auto& s : p) MESSAGE(s);
  CHECK(has(p, "5:", "local_ae_title"));
  CHECK(has(p, "7:", "port"));
  CHECK(has(p, "8:", "get = C-GET"));
  CHECK(has(p, "9:", "duration"));
  CHECK(has(p, "10:", "not a real date"));
  CHECK(has(p, "11:", "not used with type: dicom-qr"));
  CHECK(has(p, "12:", "'port' is only used with type: dicom-scp"));
  auto q =
      problems(with_sources("  - name: emr\n"
                            "    type: ssmix2\n"
                            "    root: /srv/x\n"
                            "    lookback: 2d\n"));  // 8
  CHECK(has(q, "8:", "only used with type: dicom-qr"));
}

TEST_CASE("dicom-qr config: retrieve: move needs move_port; move_port and move_address only with it") {
  Config c = parse(with_sources("  - name: pacs\n"
                                "    type: dicom-qr\n"
                                "    peer: {host: 10.1.2.3, port: 104, ae_title: PACS}\n"
                                "    local_ae_title: SENNEN\n"
                                "    retrieve: move\n"
                                "    move_port: 11113\n"
                                "    move_address: 10.1.2.4\n"),
                   "test.yaml");
  const auto& d = c.sources[0].options_as<dicom::QrKeys>();
  CHECK(d.retrieve == dicom::Retrieve::move);
  CHECK(d.move_port == 11113);
  CHECK(d.move_address == "10.1.2.4");
  CHECK(adapters::make_sources(c).size() == 1);

  auto p =
      problems(with_sources("  - name: pacs\n"                                         // 5
                            "    type: dicom-qr\n"                                     // 6
                            "    peer: {host: 10.1.2.3, port: 104, ae_title: PACS}\n"  // 7
                            "    local_ae_title: SENNEN\n"                             // 8
                            "    retrieve: move\n"                                     // 9
                            "    move_address: pacs.local\n"                           // 10
                            "  - name: pacs2\n"                                        // 11
                            "    type: dicom-qr\n"                                     // 12
                            "    peer: {host: 10.1.2.3, port: 104, ae_title: PACS}\n"  // 13
                            "    local_ae_title: SENNEN\n"                             // 14
                            "    move_port: 11113\n"                                   // 15
                            "    max_associations: 2\n"));                             // 16
  for (const auto& s : p) MESSAGE(s);
  CHECK(has(p, "5:", "move_port"));
  CHECK(has(p, "10:", "not an IPv4 address"));
  CHECK(has(p, "15:", "only used with retrieve: move"));
  CHECK(has(p, "16:", "'max_associations' is only used with type: dicom-scp"));
}
