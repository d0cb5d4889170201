#include "daemon/app/check_files.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "adapters/registry/registry.hpp"
#include "daemon/batcher/batch_writer.hpp"
#include "daemon/gate/stop_list.hpp"
#include "daemon/util/fd.hpp"

namespace sennen::app {
namespace {

namespace fs = std::filesystem;

// Unreadable stop-list lines listed one by one up to this many; the rest are counted.
constexpr std::size_t kStopListLinesShown = 20;

std::string running_user() {
  if (const passwd* pw = ::getpwuid(::geteuid())) return "'" + std::string(pw->pw_name) + "'";
  return "uid " + std::to_string(::geteuid());
}

// Why the file cannot be opened for reading by this process, if it cannot.
std::optional<std::string> access_problem(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return path.string() + " does not exist; check the path, or put the file there";
    return path.string() + " cannot be reached by user " + running_user() + ": " + util::errno_text(err) +
           "; check the folders above it";
  }
  if (S_ISDIR(st.st_mode)) return path.string() + " is a folder; give the path of the file";
  if (!S_ISREG(st.st_mode)) return path.string() + " is not a regular file";
  util::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    // Saved first: running_user() reads the user database, which may set errno, and the operands
    // of '+' are evaluated in an unspecified order (clang evaluates it first and said "Success").
    const int err = errno;
    return path.string() + " cannot be read by user " + running_user() + ": " + util::errno_text(err) +
           "; give that user read access";
  }
  return std::nullopt;
}

// Unreadable lines by number and reason, never their content (a line may hold a patient's name).
void check_stop_list(const config::Config& cfg, const config::NamedFile& f, FileCheck& out) {
  const gate::StopList sl = gate::load_stop_list(f.path);
  if (sl.problem_lines == 0) return;
  const std::string tool = "sennen-edgectl optout check " + f.path.string();
  if (cfg.optout.allow_unreadable_lines) {
    out.warnings.push_back(f.problem(std::to_string(sl.problem_lines) + " unreadable line(s), allowed by " +
                                     "optout.allow_unreadable_lines (" + tool + " lists them)"));
    return;
  }
  for (std::size_t i = 0; i < sl.problems.size() && i < kStopListLinesShown; ++i)
    out.problems.push_back(f.problem("line " + std::to_string(sl.problems[i].line) + " of " + f.path.string() +
                                     " cannot be read (" + sl.problems[i].reason +
                                     "); sealing pauses until it is fixed"));
  if (sl.problem_lines > kStopListLinesShown)
    out.problems.push_back(f.problem("and " + std::to_string(sl.problem_lines - kStopListLinesShown) +
                                     " more unreadable line(s); " + tool + " lists them"));
}

// The checks of the files outside encryption.*, by the key that names them: the destination's by
// its own adapter (adapters/kind.hpp).
void check_file(const config::Config& cfg, const config::NamedFile& f, FileCheck& out) {
  const std::string& key = f.at.key;
  if (key == "optout.stop_list") {
    check_stop_list(cfg, f, out);
    return;
  }
  if (key.rfind("destination.", 0) != 0) return;
  for (const auto* kind : adapters::destination_kinds())
    if (kind->config.name == cfg.destination.type && kind->check_file) kind->check_file(cfg, f);
}

const config::NamedFile* encryption_file(const config::Config& cfg, const fs::path& path) {
  for (const auto& f : cfg.files)
    if (f.path == path && f.at.key.rfind("encryption.", 0) == 0) return &f;
  return nullptr;
}

}  // namespace

FileCheck check_files(const config::Config& cfg, TimePoint now) {
  FileCheck out;
  std::set<fs::path> usable;  // exist and can be read: worth parsing
  for (const auto& f : cfg.files) {
    if (auto why = access_problem(f.path))
      out.problems.push_back(f.problem(*why));
    else
      usable.insert(f.path);
  }
  for (const auto& f : cfg.files) {
    if (!usable.count(f.path)) continue;
    try {
      check_file(cfg, f, out);
    } catch (const std::exception& e) {
      out.problems.push_back(f.problem(e.what()));
    }
  }
  const auto& enc = cfg.encryption;
  for (const auto& p : batcher::SealingKeys::check(enc.signer_cert, enc.signer_key, enc.recipients, now))
    if (usable.count(p.file))  // a missing or unreadable file is reported above
      if (const auto* f = encryption_file(cfg, p.file)) out.problems.push_back(f->problem(p.message));
  std::stable_sort(out.problems.begin(), out.problems.end(), [](const config::Problem& a, const config::Problem& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  return out;
}

}  // namespace sennen::app
