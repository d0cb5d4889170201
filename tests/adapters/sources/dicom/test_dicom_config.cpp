// type: dicom-scp in sennen-edge.yaml: the keys, their checks (file:line:col), and the registry
// building a working source from them.
#include <doctest/doctest.h>

#include "adapters/registry/registry.hpp"
#include "adapters/sources/dicom_scp/scp_source.hpp"
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

// Every problem of a file that must not load, as "LINE:COL: KEY: MESSAGE".
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

TEST_CASE("dicom-scp config: every key read, defaults where absent") {
  Config c = parse(with_sources("  - name: ct\n"          // 5
                                "    type: dicom-scp\n"   // 6
                                "    port: 11112\n"       // 7
                                "    ae_title: SENNEN\n"  // 8
                                "    allowed_calling_ae_titles: [CT1, \" MR 2 \"]\n"
                                "    allowed_addresses: [10.1.2.3, \"fe80::1\"]\n"
                                "    min_free: 2GiB\n"
                                "    max_incoming: 20GiB\n"
                                "    poll_interval: 15s\n"
                                "    patient_id: {strip_leading_zeros: true, pad_to: 10}\n"
                                "    max_associations: 8\n"
                                "  - name: mr\n"
                                "    type: dicom-scp\n"
                                "    port: 104\n"
                                "    ae_title: EDGE\n"
                                "    allowed_calling_ae_titles: MR1\n"),
                   "test.yaml");
  REQUIRE(c.sources.size() == 2);
  const auto& d = c.sources[0].options_as<dicom::ScpKeys>();
  CHECK(c.sources[0].type == "dicom-scp");
  CHECK(d.scp.port == 11112);
  CHECK(d.scp.ae_title == "SENNEN");
  CHECK(d.scp.allowed_calling_ae_titles == std::vector<std::string>{"CT1", "MR 2"});
  CHECK(d.scp.allowed_addresses == std::vector<std::string>{"10.1.2.3", "fe80::1"});
  CHECK(d.storage.min_free == 2ull << 30);
  CHECK(d.storage.max_incoming == 20ull << 30);
  CHECK(c.sources[0].poll_interval == std::chrono::seconds(15));
  CHECK(d.storage.patient_id.strip_leading_zeros);
  CHECK(d.storage.patient_id.pad_to == 10);
  CHECK(d.scp.max_associations == 8);
  const auto& e = c.sources[1].options_as<dicom::ScpKeys>();
  CHECK(e.scp.allowed_calling_ae_titles == std::vector<std::string>{"MR1"});
  CHECK(e.scp.allowed_addresses.empty());
  CHECK(e.storage.min_free == 1ull << 30);
  CHECK(e.storage.max_incoming == 10ull << 30);
  CHECK(!e.storage.patient_id.strip_leading_zeros);
  CHECK(e.storage.patient_id.pad_to == 0);
  CHECK(e.scp.max_associations == 4);

  auto sources = adapters::make_sources(c);  // built, not started (the SCP opens its port on the first poll)
  REQUIRE(sources.size() == 2);
  CHECK(sources[0]->name() == "ct");
}

TEST_CASE("dicom-scp config: bad values and misplaced keys are reported with their position") {
  auto p =
      problems(with_sources("  - name: ct\n"                               // 5
                            "    type: dicom-scp\n"                        // 6
                            "    port: 70000\n"                            // 7
                            "    ae_title: THIS_IS_FAR_TOO_LONG\n"         // 8
                            "    allowed_calling_ae_titles: []\n"          // 9
                            "    allowed_addresses: [pacs.example.jp]\n"   // 10
                            "    min_free: lots\n"                         // 11
                            "    root: /srv/x\n"                           // 12
                            "    patient_id: {pad_to: 99, strip: true}\n"  // 13
                            "  - name: emr\n"                              // 14
                            "    type: ssmix2\n"                           // 15
                            "    root: /srv/std\n"                         // 16
                            "    ae_title: X\n"                            // 17
                            "    max_associations: 2\n"                    // 18
                            "  - name: ct2\n"                              // 19
                            "    type: dicom-scp\n"                        // 20
                            "    port: 11113\n"                            // 21
                            "    ae_title: SENNEN\n"                       // 22
                            "    allowed_calling_ae_titles: [CT2]\n"       // 23
                            "    max_associations: 0\n"                    // 24
                            "    max_record_bytes: 4GiB\n"));              // 25
  for (const auto& s : p) MESSAGE(s);
  CHECK(has(p, "7:11: sources[0].port:", "is not a whole number from 1 to 65535"));
  CHECK(has(p, "8:15: sources[0].ae_title:", "is not an AE title"));
  CHECK(has(p, "9:32: sources[0].allowed_calling_ae_titles:", "empty list"));
  CHECK(has(p, "10:25: sources[0].allowed_addresses[0]:", "is not an IP address"));
  CHECK(has(p, "11:15: sources[0].min_free:", "is not a size"));
  CHECK(has(p, "12:11: sources[0].root:", "not used with type: dicom-scp"));
  CHECK(has(p, "13:26: sources[0].patient_id.pad_to:", "from 0 to 64"));
  CHECK(has(p, "13:30: sources[0].patient_id.strip:", "unknown key"));
  CHECK(has(p, "17:15: sources[1].ae_title:", "only used with type: dicom-scp"));
  CHECK(has(p, "18:", "only used with type: dicom-scp"));
  CHECK(has(p, "24:", "from 1 to 64"));
  CHECK(has(p, "25:", "'max_record_bytes' is not used with type: dicom-scp"));

  auto missing = problems(with_sources("  - name: ct\n    type: dicom-scp\n"));
  CHECK(has(missing, "5:5: sources[0].port:", "missing required key 'port'"));
  CHECK(has(missing, "5:5: sources[0].ae_title:", "missing required key"));
  CHECK(has(missing, "5:5: sources[0].allowed_calling_ae_titles:", "missing required key"));
  CHECK(!has(missing, "", "'root'"));
}
