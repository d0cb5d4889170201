#pragma once
// Direct access to the spool for what SpoolReader does not offer: quarantine entries by id, and
// the few writes sennen-edgectl makes (quarantine retry), safe while sennen-edged runs:
// one BEGIN IMMEDIATE transaction that waits (SQLite busy timeout) for the daemon's current one,
// so the daemon sees the change at its next poll. Run as root, it first becomes the spool's owner,
// so no file of the spool (-wal, -shm) ends up owned by root where the service cannot open it.
#include <filesystem>
#include <memory>

namespace sennen::sqlite {
class Connection;
}

namespace sennen::edgectl {

// When running as root and state_dir/spool.db belongs to another user (the service user), drops
// this process to that user and group for good. Throws sennen::Error when that fails.
void become_spool_owner(const std::filesystem::path& state_dir);

// Opens state_dir/spool.db after checking (read-only) that it exists and has the schema this
// build knows; never creates it. Throws sennen::Error otherwise.
enum class Access { read_only, read_write };
std::unique_ptr<sqlite::Connection> open_spool(const std::filesystem::path& state_dir, Access access);

}  // namespace sennen::edgectl
