#include "daemon/pipeline/stop_list_watch.hpp"

#include <sys/stat.h>

namespace sennen::pipeline {

bool StopListWatch::identify(const std::filesystem::path& file, Identity& out) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return false;
  out = {static_cast<unsigned long long>(st.st_dev), static_cast<unsigned long long>(st.st_ino),
         static_cast<unsigned long long>(st.st_size),
         static_cast<long long>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
         static_cast<long long>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec};
  return true;
}

bool StopListWatch::changed() const {
  Identity now;
  return !read_once_ || !identify(file_, now) || !(now == last_);
}

gate::StopList StopListWatch::read() {
  // Identify before reading: a change during the read is then seen by the next changed().
  Identity before;
  const bool known = identify(file_, before);
  gate::StopList list = gate::load_stop_list(file_);
  read_once_ = known;
  last_ = before;
  return list;
}

std::string stop_list_pause(const gate::StopList& list, const std::filesystem::path& file,
                            bool allow_unreadable_lines) {
  if (list.problem_lines == 0) return {};
  std::string lines;
  for (std::size_t i = 0; i < list.problems.size() && i < 10; ++i)
    lines += (i ? ", " : "") + std::to_string(list.problems[i].line);
  const std::string where = "stop list " + file.string() + " (" + list.encoding + ") has " +
                            std::to_string(list.problem_lines) + " line(s) that cannot be read (line " + lines + ": " +
                            list.problems.front().reason + ")";
  if (list.ids.empty())
    return where +
           " and not one patient ID could be read from it: this looks like the wrong file or a wrong "
           "encoding, so optout.allow_unreadable_lines does not apply; check it with `sennen-edgectl optout "
           "check` and install the right one with `sennen-edgectl optout import`; nothing is sealed or "
           "delivered until then (the IDs applied before stay withheld)";
  if (allow_unreadable_lines) return {};
  return where +
         "; fix them (check with `sennen-edgectl optout check`), or set optout.allow_unreadable_lines: true "
         "to go on with the IDs that can be read (IDs applied before stay withheld either way); nothing is "
         "sealed or delivered until then";
}

std::string retained_attention(std::size_t retained, std::size_t in_file_now, const std::filesystem::path& file) {
  if (retained == 0) return {};
  return std::to_string(retained) + " patient ID(s) are no longer in the stop list " + file.string() + " (it holds " +
         std::to_string(in_file_now) +
         " now) and stay withheld until an operator confirms their removal: list them "
         "with `sennen-edgectl optout pending`; if the file was saved or synced wrongly, put the right one back; if "
         "the patients really withdrew their opt-out, confirm with `sennen-edgectl optout release ID... --reason "
         "TEXT`";
}

}  // namespace sennen::pipeline
