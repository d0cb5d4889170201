#pragma once
// Records that hold many patients (a month's claim file): the gate cannot decide for the record
// as a whole, so the sealer streams it through its content filter when it is sealed, asking the
// gate then, patient by patient, and sends only what is left. Filtering when sealing (not when
// ingesting) means a patient stopped after the file was spooled is still removed; the spool keeps
// the original bytes.
//
// Such a record's patient key is kMultiPatient followed by its filter's name (e.g. "*uke"). No
// canonical patient ID starts with '*' (daemon/core/patient_id.hpp), so the stop list can never
// name it, and a record whose filter the sealer does not know is never sent.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "daemon/util/error.hpp"

namespace sennen {

inline constexpr char kMultiPatient = '*';

// Why a part of the content is removed; none: it may leave.
enum class Withhold { none, stopped, not_notified, unattributed };

struct FilterCounts {
  std::uint64_t kept = 0;                                         // units (claims, rows) left in
  std::uint64_t stopped = 0, not_notified = 0, unattributed = 0;  // units removed, by reason
  std::uint64_t bytes_in = 0, bytes_out = 0;
};

// Reads the record's bytes in order; 0 at the end.
using ContentReader = std::function<std::size_t(std::span<std::byte>)>;
// The gate for one patient (canonical ID), or for a unit that names none (nullopt).
using PatientGate = std::function<Withhold(const std::optional<std::string>& patient)>;
using ContentWriter = std::function<void(std::string_view)>;
using ContentFilter = std::function<FilterCounts(const ContentReader&, const PatientGate&, const ContentWriter&)>;
using ContentFilters = std::map<std::string, ContentFilter, std::less<>>;

// Thrown by a filter that cannot run now for a reason outside the record (a file it needs cannot
// be read): the record stays in the spool, ready, and is tried again at the next sealing. Any
// other error of a filter is the record's own: it is set aside, never sent.
class FilterUnavailable : public Error {
 public:
  using Error::Error;
};

// The filter a patient key names ("*uke" -> "uke"), or "" for an ordinary patient key.
inline std::string_view content_filter_of(std::string_view patient_key) {
  return !patient_key.empty() && patient_key[0] == kMultiPatient ? patient_key.substr(1) : std::string_view();
}

}  // namespace sennen
