#include "tools/edgectl/spool_access.hpp"

#include <sys/stat.h>
#include <grp.h>
#include <unistd.h>

#include <cerrno>

#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"

namespace sennen::edgectl {

void become_spool_owner(const std::filesystem::path& state_dir) {
  if (::geteuid() != 0) return;
  struct stat st {};
  if (::stat((state_dir / "spool.db").c_str(), &st) != 0 || st.st_uid == 0) return;
  if (::setgroups(0, nullptr) != 0 || ::setresgid(st.st_gid, st.st_gid, st.st_gid) != 0 ||
      ::setresuid(st.st_uid, st.st_uid, st.st_uid) != 0)
    throw Error("cannot become the owner of " + (state_dir / "spool.db").string() + " (uid " +
                std::to_string(st.st_uid) + "): " + util::errno_text(errno));
}

}  // namespace sennen::edgectl
