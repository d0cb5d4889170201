// sennen-edgectl verify-batch: for the central side. Runs the same openssl | zstd | tar pipeline
// as sennen-verify-batches (by calling that tool, so the two cannot disagree) and lists the
// manifest.
#include <iostream>
#include <string>

#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/common.hpp"
#include "tools/edgectl/sibling.hpp"

namespace sennen::edgectl {

int verify_batch(const VerifyArgs& a) {
  if (a.ca.empty()) {
    std::cerr << "sennen-edgectl verify-batch: --ca is needed: the signature is only worth checking against the CA "
                 "that issued the site certificates\n";
    return 2;
  }
  const std::string tool = sibling_program("sennen-verify-batches", "SENNEN_VERIFY_BATCHES");
  std::string out;
  const int rc = run_program(
      {tool, "--json", "--key", a.key.string(), "--cert", a.cert.string(), "--ca", a.ca.string(), a.file.string()},
      &out);
  if (rc == 127) {
    std::cerr << "sennen-edgectl verify-batch: could not run " << tool
              << " (install it, or set SENNEN_VERIFY_BATCHES to its path)\n";
    return 2;
  }
  nlohmann::json result = nlohmann::json::parse(out, nullptr, false);
  if (result.is_discarded() || !result.is_array() || result.empty()) {
    std::cerr << "sennen-edgectl verify-batch: " << tool << " gave no result for " << a.file.string() << "\n";
    return rc ? rc : 2;
  }
  const nlohmann::json& b = result[0];
  const bool ok = rc == 0 && b.value("verified", false);
  if (a.json) {
    print_json(b);
    return ok ? 0 : 1;
  }
  std::cout << a.file.string() << ": "
            << (ok ? "decrypted, signature verified, every record matches its manifest" : "NOT VERIFIED") << "\n";
  for (const char* k : {"error", "problems"})
    if (b.contains(k) && !b[k].is_null() && !b[k].empty()) std::cout << "  " << k << ": " << b[k].dump() << "\n";
  if (b.contains("manifest") && b["manifest"].is_object()) {
    const auto& m = b["manifest"];
    for (const auto& [k, v] : m.items())
      if (!v.is_array() && !v.is_object())
        std::cout << "  " << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
    if (m.contains("records"))
      for (const auto& r : m["records"])
        std::cout << "    " << r.value("event", "") << " " << r.value("source", "") << " " << shown(r.value("kind", ""))
                  << " " << shown(r.value("path", "")) << " " << (r.contains("size") ? r["size"].dump() : "") << "\n";
    if (m.contains("withdrawals"))
      for (const auto& w : m["withdrawals"]) std::cout << "    withdrawal " << w.dump() << "\n";
  }
  return ok ? 0 : 1;
}

}  // namespace sennen::edgectl
