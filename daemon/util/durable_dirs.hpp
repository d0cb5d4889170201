#pragma once
// Folders that must outlive a power cut together with the files written into them. A file's
// AtomicFile::commit syncs the file and its own folder, but not that folder's entry in its parent:
// a folder made and never synced into its parent can be gone after a power cut, with every file in
// it, even though each of those files was synced.
#include <filesystem>

namespace sennen::util {

// Creates `dir` and whatever of its parents is missing, then syncs each folder's entry into its
// parent: every folder below `anchor` each time (a kill between making a folder and syncing it
// leaves one that exists but was never synced, and no later call would find it "made"), and
// `anchor` and the folders above it only when this call made them. Throws sennen::Error naming
// the folder, also when `dir` is neither `anchor` nor inside it.
void create_directories_durably(const std::filesystem::path& dir, const std::filesystem::path& anchor);

}  // namespace sennen::util
