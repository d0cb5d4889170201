// sennen-edgectl verify-batch: for the central side. Runs the same openssl | zstd | tar pipeline
// as sennen-verify-batches (by calling that tool, so the two cannot disagree) and lists the
// manifest.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/common.hpp"

namespace sennen::edgectl {
namespace {

namespace fs = std::filesystem;

// SENNEN_VERIFY_BATCHES, else next to this binary (installed: /usr/bin; in the build tree a link
// made by tools/edgectl/CMakeLists.txt), else on PATH.
std::string verifier() {
  if (const char* env = std::getenv("SENNEN_VERIFY_BATCHES"); env && *env) return env;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path sibling = self.parent_path() / "sennen-verify-batches";
    if (::access(sibling.c_str(), X_OK) == 0) return sibling.string();
  }
  return "sennen-verify-batches";
}

// Runs argv, returns {exit status, stdout}; stderr passes through to ours.
std::pair<int, std::string> run_capture(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe(fds) != 0) return {127, ""};
  pid_t pid = ::fork();
  if (pid < 0) return {127, ""};
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::perror(("cannot run " + argv[0]).c_str());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128, out};
}

}  // namespace

int verify_batch(const VerifyArgs& a) {
  if (a.ca.empty()) {
    std::cerr << "sennen-edgectl verify-batch: --ca is needed: the signature is only worth checking against the CA "
                 "that issued the site certificates\n";
    return 2;
  }
  const std::string tool = verifier();
  auto [rc, out] = run_capture(
      {tool, "--json", "--key", a.key.string(), "--cert", a.cert.string(), "--ca", a.ca.string(), a.file.string()});
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
