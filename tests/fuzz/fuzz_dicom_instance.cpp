// A DICOM Part-10 file as our code reads it: dicom::read_instance (DCMTK parses the file; we pick
// the attributes, trim them and check the UIDs that later name files), then the PatientID mapping
// and the gate's canonical form, as the dicom-scp receiver and the dicom-qr poll do.
// DCMTK is Debian's uninstrumented library: the fuzzer is guided by our code only.
// Properties: a usable instance has four safe UIDs (1..64 digits and dots, no empty component:
// nothing else may become a file name), a trimmed PatientID (empty when missing: the receiver
// holds such an instance as unattributable) and a StudyDate that is empty or 8 digits; an
// unusable one says why; the PatientID mapping never changes the canonical patient key of an
// all-digit ID, and an empty PatientID is never a usable one.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "adapters/sources/dicom_common/instance.hpp"
#include "adapters/sources/dicom_common/options.hpp"
#include "daemon/core/patient_id.hpp"
#include "tests/fuzz/property.hpp"

using namespace sennen;

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // One in-memory file for the whole run, rewritten for each input; DCMTK opens it by name.
  static const int fd = ::memfd_create("fuzz-instance.dcm", MFD_CLOEXEC);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  fuzz::require(fd >= 0, "memfd_create failed");
  fuzz::require(::ftruncate(fd, 0) == 0 && ::pwrite(fd, data, size, 0) == static_cast<ssize_t>(size),
                "cannot write the input to the in-memory file");

  const dicom::ReadResult r = dicom::read_instance(path);
  fuzz::require(r.instance.has_value() == r.error.empty(), "exactly one of instance and error");
  if (!r.instance) return 0;
  const dicom::Instance& in = *r.instance;
  for (const std::string* uid : {&in.sop_class_uid, &in.sop_instance_uid, &in.study_uid, &in.series_uid})
    fuzz::require(dicom::is_safe_uid(*uid) && uid->find_first_not_of("0123456789.") == std::string::npos &&
                      uid->size() <= 64 && uid->find("..") == std::string::npos,
                  "an instance with a UID that is not safe to name a file");
  fuzz::require(in.patient_id.empty() || (in.patient_id.front() != ' ' && in.patient_id.back() != ' '),
                "PatientID not trimmed");
  fuzz::require(in.study_date.empty() || (in.study_date.size() == 8 && all_digits(in.study_date)),
                "StudyDate is neither empty nor 8 digits");

  for (const dicom::PatientIdMapping mapping : {dicom::PatientIdMapping{false, 0}, dicom::PatientIdMapping{true, 0},
                                                dicom::PatientIdMapping{true, 10}, dicom::PatientIdMapping{false, 8}}) {
    const std::string mapped = dicom::map_patient_id(in.patient_id, mapping);
    fuzz::require(!in.patient_id.empty() || !canonical_patient_id(mapped), "an empty PatientID judged usable");
    fuzz::require(canonical_patient_id(mapped).has_value() == patient_id_problem(mapped).empty(),
                  "the gate's two judgements of a PatientID disagree");
    if (!all_digits(in.patient_id)) {
      fuzz::require(mapped == in.patient_id, "the mapping changed a PatientID that is not all digits");
    } else if (std::max(in.patient_id.size(), mapping.pad_to) <= 64) {
      fuzz::require(canonical_patient_id(mapped) == canonical_patient_id(in.patient_id),
                    "the PatientID mapping changed the patient's canonical key");
    }
  }
  return 0;
}
