#pragma once
// type: mml — MML instances (formats.md §3) dropped as files anywhere below the roots. One file
// is one record, carried byte-exact: its patient is MmlHeader/masterId, its key the first
// MmlModuleItem's docInfo/docId/uid; parentId@relation="oldEdition" names the document it
// supersedes (manifest attribute `supersedes`). MML defines no deletion instance that formats.md
// documents, so which instances are deletions is configuration (deletion_purpose); such an
// instance becomes a delete of the document its parentId names. A file whose patient or document
// cannot be determined is quarantined with the reason. Files are never modified; one that
// disappears from the drop tree is simply no longer seen (a drop tree is emptied by others).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "adapters/kind.hpp"

namespace sennen::mml {

inline constexpr std::uint64_t kMaxRecordBytes = 256ull << 20;

struct Options {
  std::string name;
  std::vector<std::filesystem::path> roots;
  std::chrono::seconds stable_after{30};
  std::uint64_t max_record_bytes = kMaxRecordBytes;  // a larger file is quarantined by reference, never read
  bool allow_hard_links = false;
  bool cross_filesystems = false;
  // docInfo/title@generationPurpose of an instance that deletes a document; "" = none is.
  std::string deletion_purpose;
};

std::unique_ptr<Source> make_mml_source(Options options);
const adapters::SourceKind& mml_kind();  // for the registry

}  // namespace sennen::mml
