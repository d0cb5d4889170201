// sennen-edgectl optout check FILE | list | import FILE: what the daemon would read from a staff
// stop-list file, before it is installed, and installing it. Unreadable lines are reported by
// number and reason only: a line may hold a patient's name, so its content is never printed.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "daemon/util/error.hpp"
#include "daemon/gate/stop_list.hpp"
#include "daemon/util/fd.hpp"
#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/common.hpp"

namespace sennen::edgectl {

int optout_check(const std::filesystem::path& file, bool json, bool show_ids) {
  gate::StopList sl;
  try {
    sl = gate::load_stop_list(file);
  } catch (const std::exception& e) {
    std::cerr << "sennen-edgectl optout check: " << e.what() << "\n";
    return 2;
  }
  const bool ok = sl.problem_lines == 0;
  if (json) {
    nlohmann::json j = {{"file", file.string()},
                        {"encoding", sl.encoding},
                        {"sha256", sl.sha256},
                        {"lines", sl.lines},
                        {"ids", sl.ids.size()},
                        {"unreadable_lines", sl.problem_lines},
                        {"problems", nlohmann::json::array()},
                        {"ok", ok}};
    for (const auto& p : sl.problems) j["problems"].push_back({{"line", p.line}, {"reason", p.reason}});
    if (show_ids) j["canonical_ids"] = sl.ids;
    print_json(j);
    return ok ? 0 : 1;
  }
  std::cout << file.string() << "\n"
            << "  encoding: " << sl.encoding << "\n"
            << "  sha256:   " << sl.sha256 << "\n"
            << "  lines:    " << sl.lines << "\n"
            << "  patient IDs that would be withheld: " << sl.ids.size() << "\n"
            << "  unreadable lines: " << sl.problem_lines << "\n";
  if (show_ids)
    for (const auto& id : sl.ids) std::cout << "    id " << id << "\n";
  for (const auto& p : sl.problems) std::cout << "    line " << p.line << ": " << p.reason << "\n";
  if (sl.problem_lines > sl.problems.size())
    std::cout << "    ... and " << sl.problem_lines - sl.problems.size() << " more\n";
  if (!ok)
    std::cout << "NOT OK: fix these lines (or save the file again as CSV) before installing it; the daemon pauses "
                 "sealing while the stop list has unreadable lines, unless optout.allow_unreadable_lines is set\n";
  else
    std::cout << "OK: every line was read\n";
  return ok ? 0 : 1;
}

int optout_list(const Common& c, bool show_ids) {
  auto cfg = load_config(c.config);
  if (!cfg) return 2;
  return optout_check(cfg->optout.stop_list, c.json, show_ids);
}

int optout_import(const Common& c, const std::filesystem::path& file, bool force) {
  auto cfg = load_config(c.config);
  if (!cfg) return 2;
  const auto& target = cfg->optout.stop_list;
  try {
    // The bytes checked are the bytes installed: copy first, check the copy, then rename it.
    util::AtomicFile out(target, 0640);
    out.write(util::read_small_file(file, 256u << 20));
    struct stat old {};
    if (::stat(target.c_str(), &old) == 0 && ::fchown(out.fd().get(), old.st_uid, old.st_gid) != 0 && ::geteuid() == 0)
      throw Error("cannot give " + out.temp_path().string() + " the owner of " + target.string() + ": " +
                  util::errno_text(errno));
    const gate::StopList sl = gate::load_stop_list(out.temp_path());
    std::cout << file.string() << ": " << sl.ids.size() << " patient IDs, " << sl.problem_lines
              << " unreadable line(s) (" << sl.encoding << ")\n";
    for (const auto& p : sl.problems) std::cout << "    line " << p.line << ": " << p.reason << "\n";
    if (sl.problem_lines && !force) {
      std::cout << "NOT INSTALLED: fix these lines first (or add --force to install it anyway; the daemon then pauses "
                   "sealing unless optout.allow_unreadable_lines is set)\n";
      return 1;
    }
    out.commit();
    std::cout << "installed as " << target.string() << " (sha256 " << sl.sha256
              << "); the daemon applies it at its next cycle\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sennen-edgectl optout import: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace sennen::edgectl
