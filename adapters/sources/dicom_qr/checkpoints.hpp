#pragma once
// What a dicom-qr source remembers between polls, as types (daemon/core/checkpoint_table.hpp), and
// how each is stored. The stored forms are those of the first release of this source, so a spool
// written by it reads the same.
#include <cstdint>
#include <optional>
#include <string>

#include "daemon/core/checkpoint_table.hpp"

namespace sennen::dicom {

// A study as the last poll left it.
struct StudyProgress {
  bool complete = false;
  std::uint64_t held = 0;                 // instances taken in or refused
  std::optional<std::uint64_t> expected;  // the PACS's C-FIND count, when it gave one
  std::uint64_t refused = 0;              // of `held`, refused and quarantined (kept when complete)
  // "complete", "complete with 2 refused", "incomplete 3/5" or "incomplete 3/?" (also the log's words).
  std::string text() const;
  friend bool operator==(const StudyProgress&, const StudyProgress&) = default;
};
struct StudyProgressCodec {  // status: text(); size: held
  static void encode(const StudyProgress& p, UnitState& out);
  static std::optional<StudyProgress> decode(const UnitState& stored);
};

// An instance refused once (and quarantined then): the same bytes again are not quarantined again.
struct Refusal {
  std::string hash;   // sha256 of the data set as received
  std::string study;  // its StudyInstanceUID; "" when refused outside a study's retrieve
};
struct RefusalCodec {  // status: "<hash> <study>"
  static void encode(const Refusal& r, UnitState& out);
  static std::optional<Refusal> decode(const UnitState& stored);
};

// A date YYYYMMDD (the StudyDate watermark).
struct DateCodec {
  static void encode(const std::string& yyyymmdd, UnitState& out);
  static std::optional<std::string> decode(const UnitState& stored);
};

// A transfer syntax UID the PACS reported storing an instance in.
struct SyntaxCodec {
  static void encode(const std::string& uid, UnitState& out);
  static std::optional<std::string> decode(const UnitState& stored);
};

using StudyTable = CheckpointTable<StudyProgress, StudyProgressCodec>;
using RefusalTable = CheckpointTable<Refusal, RefusalCodec>;
using DateTable = CheckpointTable<std::string, DateCodec>;
using SyntaxTable = CheckpointTable<std::string, SyntaxCodec>;

bool is_date(const std::string& d);

}  // namespace sennen::dicom
