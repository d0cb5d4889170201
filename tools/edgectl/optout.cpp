// sennen-edgectl optout check FILE: what the daemon would read from a staff stop-list file,
// before it is installed. Unreadable lines are reported by number and reason only: a line may
// hold a patient's name, so its content is never printed.
#include <iostream>

#include "daemon/gate/stop_list.hpp"
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
    nlohmann::json j = {{"file", file.string()},           {"encoding", sl.encoding},
                        {"sha256", sl.sha256},             {"lines", sl.lines},
                        {"ids", sl.ids.size()},            {"unreadable_lines", sl.problem_lines},
                        {"problems", nlohmann::json::array()}, {"ok", ok}};
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

}  // namespace sennen::edgectl
