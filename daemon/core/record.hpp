#pragma once
// The vocabulary every stage shares: what a source hands to the pipeline.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sennen {

enum class Event { upsert, remove };

inline const char* to_string(Event e) { return e == Event::upsert ? "upsert" : "delete"; }

// One file of a record's content, where it lies in the source tree right now.
struct ContentPart {
  std::string name;            // name inside the record: "" for single-file records, the file name
                               // inside an extended-storage content folder otherwise
  std::filesystem::path file;  // absolute path to read the bytes from
  std::uint64_t size = 0;      // as observed when the file was found stable
  // The whole content when the source already read all of it (a small file whose header it
  // parsed): the spool then does not open the file again. Exactly `size` bytes.
  std::shared_ptr<const std::string> bytes = nullptr;
};

// A record as a source found it. The spool streams the parts' bytes (hashing them as it reads);
// the source never reads more than it needs to parse the few fields below.
struct RecordDraft {
  std::string source;      // configured source name
  std::string key;         // logical key inside the source; all versions of a record share it
  std::string version;     // this version of the key (stable across renames of the same file)
  std::string patient_id;  // as written by the source (not yet canonical)
  std::string kind;        // data type, e.g. "OMP-01"
  std::string path;        // relative to the source root, '/'-separated, UTF-8
  Event event = Event::upsert;
  std::vector<ContentPart> parts;                               // empty for deletes
  std::vector<std::pair<std::string, std::string>> attributes;  // extra manifest fields
};

}  // namespace sennen
