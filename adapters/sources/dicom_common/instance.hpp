#pragma once
// The few attributes of a DICOM instance the pipeline needs, read from a Part-10 file.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sennen::dicom {

struct Instance {
  std::string sop_class_uid;     // (0008,0016)
  std::string sop_instance_uid;  // (0008,0018)
  std::string study_uid;         // (0020,000D)
  std::string series_uid;        // (0020,000E)
  std::string patient_id;        // (0010,0020), trimmed; empty when missing (the caller decides)
  std::string modality;          // (0008,0060), may be empty
  std::string study_date;        // (0008,0020) YYYYMMDD, may be empty
  std::string transfer_syntax;   // (0002,0010) of the file meta information: the one it travelled in
};

struct ReadResult {
  std::optional<Instance> instance;
  std::string error;  // why the file is not a usable instance, when instance is empty
};

// Parses the whole file (large values are skipped over, not loaded, so memory stays flat) and
// checks the UIDs with is_safe_uid: nothing that fails it ever becomes part of a file name.
ReadResult read_instance(const std::filesystem::path& file);

// A UID as DICOM defines it: 1 to 64 characters, digits and dots, no empty component. Checked
// before a UID from the wire is used in any path.
bool is_safe_uid(std::string_view uid);

}  // namespace sennen::dicom
