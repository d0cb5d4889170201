// sennen-edgectl quarantine list | show ID | retry ID|--all.
//
// list and show read the spool read-only. retry makes the next poll read the file again: it
// forgets the file's polling state and marks its folder as not settled (so the unchanged-folder
// shortcut does not skip it), and removes the quarantine entry and its copy, in one transaction
// that waits for the daemon's (see spool_writer.hpp). A file that is still bad comes back into
// quarantine with a fresh reason. DICOM instances cannot be re-read this way: they were pushed
// or fetched once, so the sender has to send them again.
#include <fstream>
#include <iostream>

#include "daemon/spool/spool.hpp"
#include "daemon/spool/spool_reader.hpp"
#include "daemon/util/name_text.hpp"
#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/common.hpp"
#include "tools/edgectl/reread.hpp"
#include "tools/edgectl/spool_access.hpp"

namespace sennen::edgectl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using Entry = spool::QuarantineRow;

// Paths are bytes from the source tree (util::put_name: "_b64" when not UTF-8).
json to_json(const Entry& e) {
  json j = {{"id", e.id},     {"source", e.source}, {"reason", util::one_line(e.reason)},
            {"size", e.size}, {"at", when(e.at)},   {"copy_path", nullptr}};
  util::put_name(j, "path", e.path);
  if (!e.copy_path.empty()) util::put_name(j, "copy_path", e.copy_path);
  return j;
}

}  // namespace

int quarantine_list(const Common& c) {
  return with_config(c, "quarantine list", [&](const config::Config& cfg) {
    spool::SpoolReader reader(cfg.state_dir);
    const auto rows = reader.quarantine();
    if (c.json) {
      json out = json::array();
      for (const auto& e : rows) out.push_back(to_json(e));
      print_json(out);
      return 0;
    }
    if (rows.empty()) {
      std::cout << "nothing in quarantine\n";
      return 0;
    }
    for (const auto& e : rows)
      std::cout << "#" << e.id << "  " << when(e.at) << "  " << e.source << "  " << shown(e.path)
                << "\n    reason: " << util::one_line(e.reason)
                << "\n    copy:   " << (e.copy_path.empty() ? "-" : shown(e.copy_path)) << "\n";
    std::cout << rows.size() << " quarantined file(s); details: sennen-edgectl quarantine show ID\n";
    return 0;
  });
}

int quarantine_show(const Common& c, std::int64_t id, bool content) {
  return with_config(c, "quarantine show", [&](const config::Config& cfg) {
    spool::SpoolReader reader(cfg.state_dir);
    const auto rows = reader.quarantine(id);
    if (rows.empty()) {
      std::cerr << "sennen-edgectl quarantine show: no quarantine entry #" << id << " (see quarantine list)\n";
      return 2;
    }
    const Entry& e = rows[0];
    if (content) {  // the file as it was set aside: may hold patient data, so only on request
      std::ifstream in(e.copy_path, std::ios::binary);
      if (e.copy_path.empty() || !in) {
        std::cerr << "sennen-edgectl quarantine show: no copy of #" << id << " to show"
                  << (e.copy_path.empty() ? "" : " (" + shown(e.copy_path) + " cannot be read)") << "\n";
        return 2;
      }
      std::cout << in.rdbuf();
      return 0;
    }
    if (c.json) {
      json j = to_json(e);
      const std::string why = cannot_reread(cfg, e.source);
      j["retry"] = why.empty() ? json("possible") : json(why);
      print_json(j);
      return 0;
    }
    const std::string why = cannot_reread(cfg, e.source);
    std::cout << "quarantine entry #" << e.id << "\n"
              << "  source: " << e.source << "\n"
              << "  path:   " << shown(e.path) << "\n"
              << "  size:   " << bytes(e.size) << " (" << e.size << " bytes)\n"
              << "  when:   " << when(e.at) << "\n"
              << "  reason: " << util::one_line(e.reason) << "\n"
              << "  copy:   " << (e.copy_path.empty() ? "-" : shown(e.copy_path)) << "\n"
              << "  retry:  " << (why.empty() ? "sennen-edgectl quarantine retry " + std::to_string(e.id) : why) << "\n"
              << "  (the file's content is not shown; add --content to print the copy, which may hold patient data)\n";
    return 0;
  });
}

int quarantine_retry(const Common& c, std::optional<std::int64_t> id) {
  return with_config(c, "quarantine retry", [&](const config::Config& cfg) {
    become_spool_owner(cfg.state_dir);
    { spool::SpoolReader check(cfg.state_dir); }  // exists, this schema; never created here
    spool::Spool spool(cfg.state_dir);
    std::vector<Entry> done;
    int skipped = 0;
    {
      spool::Spool::Transaction tx(spool);  // BEGIN IMMEDIATE: waits for the daemon's current write
      const auto rows = spool.quarantine(id);
      if (rows.empty()) {
        std::cerr << "sennen-edgectl quarantine retry: "
                  << (id ? "no quarantine entry #" + std::to_string(*id) : std::string("nothing in quarantine"))
                  << "\n";
        return id ? 2 : 0;
      }
      for (const auto& e : rows) {
        if (auto why = cannot_reread(cfg, e.source); !why.empty()) {
          std::cerr << "#" << e.id << " " << e.source << ":" << shown(e.path) << ": not retried: " << why << "\n";
          ++skipped;
          continue;
        }
        spool.requeue_quarantined(e, folder_keys(cfg, e.source, e.path));
        done.push_back(e);
      }
      tx.commit();
    }
    for (const auto& e : done) {
      std::error_code ec;
      if (!e.copy_path.empty()) fs::remove(e.copy_path, ec);  // a stale copy of patient data helps nobody
    }
    if (c.json) {
      json out = {{"requeued", json::array()}, {"skipped", skipped}};
      for (const auto& e : done) {
        json r = {{"id", e.id}, {"source", e.source}};
        util::put_name(r, "path", e.path);
        out["requeued"].push_back(std::move(r));
      }
      print_json(out);
    } else {
      for (const auto& e : done) std::cout << "#" << e.id << " " << e.source << ":" << shown(e.path) << ": re-queued\n";
      std::cout << done.size() << " file(s) will be read again at the next poll of their source"
                << (skipped ? "; " + std::to_string(skipped) + " could not be retried (above)" : "") << "\n";
    }
    return skipped && done.empty() ? 1 : 0;
  });
}

}  // namespace sennen::edgectl
