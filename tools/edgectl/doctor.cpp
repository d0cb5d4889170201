// sennen-edgectl doctor: every check that finds a misconfiguration before it hurts, as a
// pass / warn / fail list. Exit status 1 if anything failed.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <optional>
#include <sstream>
#include <vector>

#include "adapters/registry/registry.hpp"
#include "daemon/batcher/batch_writer.hpp"
#include "daemon/gate/stop_list.hpp"
#include "daemon/pipeline/flow_control.hpp"
#include "daemon/spool/spool_reader.hpp"
#include "daemon/util/cp932.hpp"
#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/common.hpp"
#include "tools/edgectl/doctor_report.hpp"

namespace sennen::edgectl {
namespace {

namespace fs = std::filesystem;

std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

// The service user, when we are root and it exists: only then can we test access as it.
struct ServiceUser {
  std::string name;
  uid_t uid;
  gid_t gid;
  std::vector<gid_t> groups;  // its own, plus the unit's SupplementaryGroups= (a drop-in)
};

// The unit's SupplementaryGroups= as systemd merges them from the unit and its drop-ins (the
// packaging README's way to let the service read a group-readable export tree). Empty where
// systemd cannot be asked (not running, unit not installed): the user's own groups only.
std::vector<gid_t> unit_supplementary_groups(Report& r) {
  FILE* p = ::popen("systemctl show --property=SupplementaryGroups --value sennen-edged.service 2>/dev/null", "r");
  if (!p) return {};
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  if (::pclose(p) != 0) return {};
  std::vector<gid_t> gids;
  std::istringstream names(out);
  std::string name, shown;
  while (names >> name) {
    if (const group* g = ::getgrnam(name.c_str())) {
      gids.push_back(g->gr_gid);
      shown += (shown.empty() ? "" : " ") + name;
    } else {
      r.add(Level::warn, "service user",
            "the unit's SupplementaryGroups= names '" + name + "', which is not a group on this system");
    }
  }
  if (!gids.empty())
    r.add(Level::info, "service user", "access is checked with the unit's SupplementaryGroups= too: " + shown);
  return gids;
}

std::optional<ServiceUser> service_user(const std::string& name, Report& r) {
  if (::geteuid() != 0) {
    r.add(Level::info, "service user",
          "not root: access by user '" + name + "' not checked (run doctor as root for that)");
    return std::nullopt;
  }
  const passwd* pw = ::getpwnam(name.c_str());
  if (!pw) {
    r.add(Level::warn, "service user",
          "user '" + name + "' does not exist (the package creates it); access as it not checked");
    return std::nullopt;
  }
  const uid_t uid = pw->pw_uid;  // copied: the group lookups below may reuse getpwnam's buffer
  const gid_t gid = pw->pw_gid;
  // Listed here, not in access_as()'s forked child, which should not allocate.
  int n = 0;
  ::getgrouplist(name.c_str(), gid, nullptr, &n);
  std::vector<gid_t> groups(static_cast<std::size_t>(n));
  if (::getgrouplist(name.c_str(), gid, groups.data(), &n) < 0) {
    r.add(Level::warn, "service user", "cannot list the groups of '" + name + "'; access as it not checked");
    return std::nullopt;
  }
  groups.resize(static_cast<std::size_t>(n));
  for (gid_t g : unit_supplementary_groups(r)) groups.push_back(g);
  return ServiceUser{name, uid, gid, std::move(groups)};
}

// access(path, mode) as the service user, in a forked child that drops to its uid, gid and
// groups: its own, plus the unit's SupplementaryGroups= (what the service runs with).
bool access_as(const ServiceUser& u, const fs::path& path, int mode) {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (::setgroups(u.groups.size(), u.groups.data()) != 0 || ::setresgid(u.gid, u.gid, u.gid) != 0 ||
        ::setresuid(u.uid, u.uid, u.uid) != 0)
      ::_exit(2);
    ::_exit(::access(path.c_str(), mode) == 0 ? 0 : 1);
  }
  int st = 0;
  if (::waitpid(pid, &st, 0) != pid) return false;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// Readable (R_OK | extra) by us and, when known, by the service user.
void check_access(Report& r, const std::optional<ServiceUser>& su, const std::string& name, const fs::path& path,
                  bool directory, int mode, const std::string& fix) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    r.add(Level::fail, name, path.string() + " does not exist; " + fix);
    return;
  }
  if (directory && !fs::is_directory(st)) {
    r.add(Level::fail, name, path.string() + " is not a folder");
    return;
  }
  if (!directory && !fs::is_regular_file(st)) {
    r.add(Level::fail, name, path.string() + " is not a regular file");
    return;
  }
  const char* what = (mode & W_OK) ? "writable" : "readable";
  if (::access(path.c_str(), mode) != 0) {
    r.add(Level::fail, name, path.string() + " is not " + what + " by this user: " + std::strerror(errno));
    return;
  }
  if (su && !access_as(*su, path, mode)) {
    r.add(Level::fail, name,
          path.string() + " is not " + what + " by the service user '" + su->name +
              "'; grant it (e.g. a group in SupplementaryGroups=, or setfacl -R -m u:" + su->name + ":rX)");
    return;
  }
  r.add(Level::pass, name, path.string() + " is " + what + (su ? " (also by '" + su->name + "')" : ""));
}

// What an adapter found about itself (adapters/kind.hpp), in the doctor's report.
void add_findings(Report& r, const adapters::Findings& findings) {
  for (const auto& f : findings) {
    const Level level = f.level == adapters::Finding::Level::pass   ? Level::pass
                        : f.level == adapters::Finding::Level::warn ? Level::warn
                        : f.level == adapters::Finding::Level::fail ? Level::fail
                                                                    : Level::info;
    r.add(level, f.name, f.message);
  }
}

void check_sources(Report& r, const config::Config& cfg, const std::optional<ServiceUser>& su) {
  for (const auto& s : cfg.sources) {
    for (const auto& root : s.options->folders())
      check_access(r, su, "source " + s.name, root, true, R_OK | X_OK,
                   "check sources[].root in the config, or mount the export tree");
    for (const auto* kind : adapters::source_kinds())
      if (kind->config.name == s.type && kind->probe) {
        adapters::Findings found;
        kind->probe(s, cfg, found);
        add_findings(r, found);
      }
  }
}

void check_stop_list(Report& r, const config::Config& cfg, const std::optional<ServiceUser>& su) {
  check_access(r, su, "stop list file", cfg.optout.stop_list, false, R_OK,
               "create it (an empty file withholds nobody)");
  try {
    gate::StopList sl = gate::load_stop_list(cfg.optout.stop_list);
    std::string summary = std::to_string(sl.ids.size()) + " IDs (" + sl.encoding + ")";
    if (sl.problem_lines == 0) {
      r.add(Level::pass, "stop list", summary + ", every line readable");
      return;
    }
    std::string lines;
    for (std::size_t i = 0; i < sl.problems.size() && i < 10; ++i)
      lines += (i ? ", " : "") + std::to_string(sl.problems[i].line);
    if (sl.problem_lines > 10) lines += ", ...";
    std::string msg = summary + ", " + std::to_string(sl.problem_lines) + " unreadable line(s) (" + lines +
                      "); see sennen-edgectl optout check " + cfg.optout.stop_list.string();
    if (cfg.optout.allow_unreadable_lines)
      r.add(Level::warn, "stop list", msg + " (allowed by optout.allow_unreadable_lines)");
    else
      r.add(Level::fail, "stop list", msg + "; sealing is paused until they are fixed");
  } catch (const std::exception& e) {
    r.add(Level::fail, "stop list", e.what());
  }
}

void check_keys(Report& r, const config::Config& cfg, const std::optional<ServiceUser>& su) {
  const auto& enc = cfg.encryption;
  // The key's mode on its own line: a leaked key matters even if something else is also wrong.
  struct stat st {};
  if (::stat(enc.signer_key.c_str(), &st) == 0) {
    if (st.st_mode & 077)
      r.add(Level::fail, "signer key mode",
            enc.signer_key.string() + " has mode " + octal_mode(st.st_mode) +
                " (readable or writable by group/others); run: chmod 600 " + enc.signer_key.string());
    else
      r.add(Level::pass, "signer key mode", enc.signer_key.string() + " has mode " + octal_mode(st.st_mode));
    if (su && !access_as(*su, enc.signer_key, R_OK))
      r.add(Level::fail, "signer key owner",
            enc.signer_key.string() + " is not readable by '" + su->name + "'; run: chown " + su->name + ": " +
                enc.signer_key.string());
  }
  try {
    auto keys = batcher::SealingKeys::load(enc.signer_cert, enc.signer_key, enc.recipients);
    r.add(Level::pass, "certificates",
          "signer certificate and key match and can sign; " + std::to_string(enc.recipients.size()) +
              " recipient(s) can receive encrypted batches");
    const auto now = std::chrono::system_clock::now();
    for (const auto& e : keys.expiries()) {
      const auto days = std::chrono::duration_cast<std::chrono::hours>(e.not_after - now).count() / 24;
      const std::string until = when(std::chrono::system_clock::to_time_t(e.not_after));
      if (days < 30)
        r.add(Level::warn, "certificate expiry",
              e.file.string() + " expires in " + std::to_string(days) + " day(s) (" + until + "); renew it now");
      else
        r.add(Level::pass, "certificate expiry", e.file.string() + " valid until " + until);
    }
  } catch (const std::exception& e) {
    r.add(Level::fail, "certificates", e.what());
  }
}

void check_state_dir(Report& r, const config::Config& cfg, const std::optional<ServiceUser>& su) {
  std::error_code ec;
  fs::path dir = cfg.state_dir;
  if (!fs::exists(dir, ec)) {
    // The daemon creates it; the nearest existing parent must then be writable.
    fs::path parent = dir.parent_path();
    while (!parent.empty() && !fs::exists(parent, ec) && parent != parent.parent_path()) parent = parent.parent_path();
    check_access(r, su, "state_dir", parent, true, W_OK | X_OK, "create it");
    r.add(Level::info, "state_dir", dir.string() + " does not exist yet; sennen-edged creates it on first start");
  } else {
    check_access(r, su, "state_dir", dir, true, W_OK | X_OK, "create it, owned by the service user, mode 0700");
  }
  struct statvfs vfs {};
  fs::path probe = dir;
  while (!probe.empty() && !fs::exists(probe, ec) && probe != probe.parent_path()) probe = probe.parent_path();
  if (::statvfs(probe.c_str(), &vfs) == 0) {
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    const pipeline::FreeSpaceNeed need = pipeline::state_dir_free_space_needed(cfg);
    // A warning while there is still room to act: below 5 GiB, or below twice what is needed.
    const std::uint64_t comfortable = std::max<std::uint64_t>(5ull << 30, 2 * need.bytes);
    const std::string free_text = bytes(free_bytes) + " free for " + probe.string();
    if (free_bytes < need.bytes)
      r.add(Level::fail, "disk space",
            free_text + ", less than sennen-edged needs to go on (" + bytes(need.bytes) + ": " + need.why +
                "); free space there, or move state_dir to a larger file system");
    else if (free_bytes < comfortable)
      r.add(Level::warn, "disk space",
            free_text + (comfortable == (5ull << 30)
                             ? " (less than 5 GiB)"
                             : " (less than twice the " + bytes(need.bytes) + " it needs: " + need.why + ")"));
    else
      r.add(Level::pass, "disk space", free_text);
  } else {
    r.add(Level::warn, "disk space", "cannot measure free space at " + probe.string() + ": " + std::strerror(errno));
  }
  if (fs::exists(dir / "spool.db", ec)) {
    try {
      spool::SpoolReader reader(dir);
      r.add(Level::pass, "spool",
            reader.file().string() + " has schema version " + std::to_string(reader.schema_version()));
    } catch (const std::exception& e) {
      r.add(Level::fail, "spool", e.what());
    }
  }
}

// The destination's folders and files as the service user, its files as the destination will use
// them, what its adapter checks itself, and one authenticated request that changes nothing.
void check_destination(Report& r, const config::Config& cfg, const std::optional<ServiceUser>& su) {
  for (const auto& folder : cfg.destination.options->writable_folders()) {
    std::error_code ec;
    if (fs::exists(folder, ec))
      check_access(r, su, "destination", folder, true, W_OK | X_OK, "");
    else
      r.add(Level::info, "destination", folder.string() + " does not exist yet; sennen-edged creates it");
  }
  const adapters::DestinationKind* kind = nullptr;
  for (const auto* k : adapters::destination_kinds())
    if (k->config.name == cfg.destination.type) kind = k;
  for (const auto& f : cfg.files) {
    if (f.at.key.rfind("destination.", 0) != 0) continue;
    check_access(r, su, f.at.key, f.path, false, R_OK, "check " + f.at.key + " in the config");
    // A key or secret readable by others lets them act as this site.
    struct stat st {};
    const bool secret = f.at.key.ends_with(".key") || f.at.key.ends_with("key_file");
    if (secret && ::stat(f.path.c_str(), &st) == 0 && (st.st_mode & 077))
      r.add(Level::fail, f.at.key + " mode",
            f.path.string() + " has mode " + octal_mode(st.st_mode) + "; run: chmod 600 " + f.path.string());
    if (!kind || !kind->check_file) continue;
    try {
      kind->check_file(cfg, f);
      r.add(Level::pass, f.at.key, f.path.string() + " is usable");
    } catch (const std::exception& e) {
      r.add(Level::fail, f.at.key, e.what());
    }
  }
  if (kind && kind->probe) {
    adapters::Findings found;
    kind->probe(cfg, found);
    add_findings(r, found);
  }
  try {
    const auto result = adapters::make_destination(cfg)->check_access();
    if (result.ok())
      r.add(Level::pass, "destination reachability",
            cfg.destination.options->describe() +
                " accepted an authenticated request that changes nothing (HEAD of "
                "this site's heartbeat)");
    else
      r.add(Level::fail, "destination reachability", result.reason);
  } catch (const std::exception& e) {
    r.add(Level::fail, "destination reachability", e.what());
  }
}

// When this binary was configured (CMake, SOURCE_DATE_EPOCH when set): a clock before it is surely wrong.
std::time_t build_time() { return static_cast<std::time_t>(SENNEN_BUILD_EPOCH); }

void check_clock(Report& r) {
  const std::time_t now = std::time(nullptr);
  const std::time_t built = build_time();
  std::tm y2100{};
  y2100.tm_year = 200;
  y2100.tm_mday = 1;
  if (now < built)
    r.add(Level::fail, "clock",
          "system time " + when(now) + " is before this program was built (" + when(built) +
              "); fix the clock (timedatectl, NTP): certificates and batch times depend on it");
  else if (now >= timegm(&y2100))
    r.add(Level::fail, "clock", "system time " + when(now) + " is after 2100; fix the clock (timedatectl, NTP)");
  else
    r.add(Level::pass, "clock", "system time " + when(now) + " is plausible");
}

// Stop lists, claim files and file names saved by Japanese Windows are read through iconv's CP932
// converter, a loadable module some minimal installs leave out.
void check_cp932(Report& r) {
  try {
    util::Cp932ToUtf8 probe;
    r.add(Level::pass, "character sets", "iconv converts CP932 (Shift_JIS), as Windows-made files and names need");
  } catch (const std::exception& e) {
    r.add(Level::fail, "character sets",
          std::string(e.what()) + ". Until then a stop list saved in CP932 cannot be read, claim files wait " +
              "unsent, and CP932 file names are not decoded");
  }
}

}  // namespace

int doctor(const Common& c, const std::string& service_user_name) {
  Report r;
  std::optional<config::Config> cfg;
  try {
    cfg = config::load(c.config, adapters::catalog());
    r.add(Level::pass, "config", c.config.string() + " is valid");
    try {
      config::require_edited(*cfg);
    } catch (const config::ConfigError& e) {
      for (const auto& p : e.problems()) r.add(Level::fail, "config", p.format());
    }
  } catch (const config::ConfigError& e) {
    for (const auto& p : e.problems()) r.add(Level::fail, "config", p.format());
  } catch (const std::exception& e) {
    r.add(Level::fail, "config", e.what());
  }
  check_clock(r);
  check_cp932(r);
  if (cfg) {
    auto su = service_user(service_user_name, r);
    check_sources(r, *cfg, su);
    check_stop_list(r, *cfg, su);
    check_keys(r, *cfg, su);
    check_state_dir(r, *cfg, su);
    check_destination(r, *cfg, su);
  } else {
    r.add(Level::info, "everything else", "not checked: the configuration could not be loaded");
  }
  r.print(c.json);
  return r.failed() ? 1 : 0;
}

}  // namespace sennen::edgectl
