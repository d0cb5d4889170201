// sennen-edgectl drill: proves on this box that what sennen-edged sends can be restored.
//
// Everything happens in a fresh temporary folder; the site's configuration, spool, stop list and
// destination are never read or touched. sennen-synth-hospital makes a synthetic hospital there
// (SS-MIX2 trees, stop list, configuration with a local destination, and a throwaway CA, site and
// central key pair: a site never holds the central private key, so its batches cannot be restored
// here; the drill's own batches can). This box's sennen-edged then runs cycles over it with
// updates, cancels and a patient added to the stop list late, sennen-restore rebuilds the trees
// from the delivered batches alone, and the result is compared file for file (sha256) with the
// eligible current state the generator recorded in expected.json. The same programs are run the
// same way as for real (sibling.hpp), so the drill cannot pass on a path the product does not take.
#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/util/fd.hpp"
#include "daemon/util/sha256.hpp"
#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/common.hpp"
#include "tools/edgectl/sibling.hpp"

namespace sennen::edgectl {
namespace {

namespace fs = std::filesystem;

// Where the sennen-central package installs the synthetic hospital generator (with make-test-pki).
constexpr const char* kDrillToolsDir = SENNEN_DRILL_TOOLS_DIR;
constexpr int kMaxListed = 20;  // differences printed per kind; the count is always given

using Files = std::map<std::string, std::string>;  // "<source>/<relative path>" -> sha256

nlohmann::json read_json(const fs::path& file) {
  std::ifstream in(file);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("cannot read " + file.string() + " as JSON");
  return j;
}

// The current files of eligible patients (less `left_out`), as expected.json records them: an
// extended content folder is one entry whose parts are files below it (tools/README.md).
Files eligible_current(const nlohmann::json& exp, const std::string& left_out) {
  Files want;
  for (const auto& f : exp.at("files")) {
    const std::string pid = f.at("patient_id");
    if (f.at("status") != "current" || pid == left_out || exp.at("patients").at(pid).at("group") != "eligible")
      continue;
    const std::string base = f.at("source").get<std::string>() + "/" + f.at("path").get<std::string>();
    if (f.contains("parts"))
      for (const auto& p : f.at("parts")) want[base + "/" + p.at("name").get<std::string>()] = p.at("sha256");
    else
      want[base] = f.at("sha256");
  }
  return want;
}

// Every file sennen-restore wrote below out (its own bookkeeping folder left out).
Files restored_files(const fs::path& out) {
  Files got;
  for (const auto& source : fs::directory_iterator(out)) {
    if (!source.is_directory() || source.path().filename() == ".sennen-restore") continue;
    for (const auto& e : fs::recursive_directory_iterator(source.path()))
      if (e.is_regular_file()) got[fs::relative(e.path(), out).string()] = util::sha256_file_hex(e.path());
  }
  return got;
}

// An eligible patient with current files: added to the stop list after their records went out.
std::string late_stop_victim(const nlohmann::json& exp) {
  for (const auto& f : exp.at("files"))
    if (f.at("status") == "current" &&
        exp.at("patients").at(f.at("patient_id").get<std::string>()).at("group") == "eligible")
      return f.at("patient_id");
  throw std::runtime_error("the synthetic hospital has no eligible patient with current files (more --patients)");
}

// The drill's temporary folder: removed at the end unless kept.
class WorkDir {
 public:
  explicit WorkDir(const fs::path& parent) {
    std::string templ = (parent / "sennen-drill-XXXXXX").string();
    if (!::mkdtemp(templ.data()))
      throw std::runtime_error("cannot make a folder in " + parent.string() + ": " + util::errno_text(errno) +
                               " (give --work DIR on a writable file system)");
    path_ = templ;
  }
  ~WorkDir() {
    std::error_code ec;
    if (!keep_) fs::remove_all(path_, ec);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  const fs::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  fs::path path_;
  bool keep_ = false;
};

struct Tools {
  std::string synth = sibling_program("sennen-synth-hospital", "SENNEN_SYNTH_HOSPITAL", kDrillToolsDir);
  std::string edged = sibling_program("sennen-edged", "SENNEN_EDGED");
  std::string restore = sibling_program("sennen-restore", "SENNEN_RESTORE");
};

// Runs one step; its stderr goes to the drill's log. Throws with what to look at when it fails.
void step(const std::vector<std::string>& argv, const fs::path& log, const std::string& what,
          std::string* out = nullptr) {
  std::string discard;
  const int rc = run_program(argv, out ? out : &discard, log.c_str());
  if (rc == 127)
    throw std::runtime_error("could not run " + argv[0] + " for " + what +
                             " (install sennen-edge and sennen-central, or set SENNEN_EDGED, SENNEN_SYNTH_HOSPITAL, "
                             "SENNEN_RESTORE to the programs)");
  if (rc != 0)
    throw std::runtime_error(what + ": " + argv[0] + " exited with status " + std::to_string(rc) +
                             " (its log: " + log.string() + ")");
}

void list_some(const char* label, const std::vector<std::string>& paths) {
  if (paths.empty()) return;
  std::cout << "  " << label << ": " << paths.size() << "\n";
  for (std::size_t i = 0; i < paths.size() && i < kMaxListed; ++i) std::cout << "    " << shown(paths[i]) << "\n";
}

}  // namespace

int drill(const DrillArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();
  const Tools tools;
  std::unique_ptr<WorkDir> kept_on_error;
  try {
    kept_on_error = std::make_unique<WorkDir>(a.work.empty() ? fs::temp_directory_path() : a.work);
    WorkDir& work = *kept_on_error;
    const fs::path hospital = work.path() / "hospital", log = work.path() / "drill.log";
    const fs::path config = hospital / "sennen-edge.yaml", out = work.path() / "restored";
    if (a.keep) work.keep();
    std::cout << "drill in " << work.path().string() << " (synthetic data, throwaway CA and keys; this site's "
              << "configuration, spool and destination are not touched)\n";

    step({tools.synth, "create", hospital.string(), "--patients", std::to_string(a.patients), "--seed", "drill"}, log,
         "making the synthetic hospital");
    const auto cycle = [&](int n) {
      std::cout << "cycle " << n << ": sennen-edged --once\n" << std::flush;
      step({tools.edged, "--config", config.string(), "--once"}, log, "cycle " + std::to_string(n));
    };
    cycle(1);
    step({tools.synth, "mutate", hospital.string(), "--seed", "2"}, log, "updates and cancels");
    cycle(2);
    // A patient whose records already went out is added to the stop list (as the staff append to it):
    // the next cycle sends their withdrawal, and the restore must not give them back.
    const std::string victim = late_stop_victim(read_json(hospital / "expected.json"));
    {
      std::ofstream stop(hospital / "optout.csv", std::ios::app | std::ios::binary);
      stop << "\r\n" << victim << "\r\n";
      if (!stop.flush()) throw std::runtime_error("cannot append to " + (hospital / "optout.csv").string());
    }
    step({tools.synth, "mutate", hospital.string(), "--seed", "3"}, log, "more updates and cancels");
    cycle(3);

    const nlohmann::json exp = read_json(hospital / "expected.json");
    const fs::path batches = hospital / "export" / exp.at("site_id").get<std::string>();
    std::cout << "restore: sennen-restore from " << batches.string() << "\n" << std::flush;
    const auto r0 = std::chrono::steady_clock::now();
    std::string report_text;
    const int rrc = run_program({tools.restore, "--json", "--key", (hospital / "pki/central.key").string(), "--cert",
                                 (hospital / "pki/central.crt").string(), "--ca", (hospital / "pki/ca.crt").string(),
                                 batches.string(), out.string()},
                                &report_text, log.c_str());
    const double restore_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
    if (rrc == 127)
      throw std::runtime_error("could not run " + tools.restore +
                               " (install sennen-central, or set SENNEN_RESTORE to its path)");
    const nlohmann::json report = nlohmann::json::parse(report_text, nullptr, false);
    if (report.is_discarded() || !report.is_object())
      throw std::runtime_error(tools.restore + " gave no report (exit status " + std::to_string(rrc) +
                               "; its log: " + log.string() + ")");

    const Files want = eligible_current(exp, victim), got = restored_files(out);
    std::vector<std::string> missing, extra, differ;
    for (const auto& [path, hash] : want) {
      const auto it = got.find(path);
      if (it == got.end())
        missing.push_back(path);
      else if (it->second != hash)
        differ.push_back(path);
    }
    for (const auto& [path, hash] : got)
      if (!want.contains(path)) extra.push_back(path);
    const bool pass = rrc == 0 && missing.empty() && extra.empty() && differ.empty();
    const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    if (!pass) work.keep();  // what failed stays to be looked at
    if (a.json) {
      print_json({{"result", pass ? "PASS" : "FAIL"},
                  {"files_expected", want.size()},
                  {"files_restored", got.size()},
                  {"missing", missing},
                  {"extra", extra},
                  {"different", differ},
                  {"late_stopped_patients", 1},
                  {"restore", report},
                  {"restore_exit_status", rrc},
                  {"restore_seconds", restore_s},
                  {"seconds", total_s},
                  {"work_dir", pass && !a.keep ? nlohmann::json() : nlohmann::json(work.path().string())}});
      return pass ? 0 : 1;
    }
    char figures[256];
    std::snprintf(figures, sizeof figures,
                  "%zu of %zu files byte-exact (sha256) from %d batches (%d records written, %d deleted, %d "
                  "withdrawals); restore %.1f s, drill %.1f s",
                  want.size() - missing.size() - differ.size(), want.size(), report.value("batches", 0),
                  report.value("written", 0), report.value("deleted", 0), report.value("withdrawn", 0), restore_s,
                  total_s);
    std::cout << (pass ? "PASS: " : "FAIL: ") << figures << "\n";
    if (rrc != 0) std::cout << "  sennen-restore exited with status " << rrc << ": " << report.dump() << "\n";
    list_some("missing from the restore", missing);
    list_some("restored but not current and eligible (a stopped or cancelled record came back)", extra);
    list_some("restored with other bytes", differ);
    if (!pass || a.keep) std::cout << "kept for inspection: " << work.path().string() << "\n";
    return pass ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "sennen-edgectl drill: " << e.what() << "\n";
    std::cout << "FAIL: the drill could not run to its end (see above)\n";
    if (kept_on_error) {
      kept_on_error->keep();
      std::cout << "kept for inspection: " << kept_on_error->path().string() << "\n";
    }
    return 2;
  }
}

}  // namespace sennen::edgectl
