#pragma once
// sennen-edgectl's few writes to the spool (quarantine retry, optout release) go through
// spool::Spool in one BEGIN IMMEDIATE transaction that waits (SQLite busy timeout) for the
// daemon's current one, so they are safe while sennen-edged runs. Run as root, the command first
// becomes the spool's owner, so no file of the spool (-wal, -shm) ends up owned by root where the
// service cannot open it.
#include <filesystem>

namespace sennen::edgectl {

// When running as root and state_dir/spool.db belongs to another user (the service user), drops
// this process to that user and group for good. Throws sennen::Error when that fails.
void become_spool_owner(const std::filesystem::path& state_dir);

}  // namespace sennen::edgectl
