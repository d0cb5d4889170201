#pragma once
// The keys both DICOM source types read the same way: AE titles, how much may wait on disk, and
// how a DICOM PatientID becomes the EMR's (config/sennen-edge.yaml documents each).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/reader.hpp"

namespace sennen::dicom {

// How a DICOM PatientID (0010,0020) becomes the EMR's patient ID.
struct PatientIdMapping {
  bool strip_leading_zeros = false;
  std::size_t pad_to = 0;  // left-pad an all-digit ID with zeros to this many digits; 0: never
};
std::string map_patient_id(std::string_view dicom_patient_id, const PatientIdMapping& mapping);

// Where received instances wait on disk before the spool takes them in.
struct Storage {
  std::uint64_t min_free = 1ull << 30;       // refuse (A700) below this much free space under state_dir
  std::uint64_t max_incoming = 10ull << 30;  // ... or when incoming/ holds more than this
  PatientIdMapping patient_id;
};

extern const std::vector<std::string_view> kStorageKeys;  // min_free, max_incoming, patient_id
Storage read_storage(const config::Section& s);

// 1 to 16 characters of DICOM's default repertoire, no backslash or control character; spaces
// around it are not significant.
std::optional<std::string> read_ae_title(const config::Node& n);

}  // namespace sennen::dicom
