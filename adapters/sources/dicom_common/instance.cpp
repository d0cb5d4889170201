#include "adapters/sources/dicom_common/instance.hpp"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include "daemon/util/name_text.hpp"

namespace sennen::dicom {
namespace {

std::string trimmed(const OFString& s) {
  std::string out(s.c_str(), s.length());
  while (!out.empty() && (out.back() == ' ' || out.back() == '\0')) out.pop_back();
  std::size_t start = out.find_first_not_of(' ');
  return start == std::string::npos ? std::string() : out.substr(start);
}

// A data set written by a sender that did not know the VRs may hold these elements as UN
// (unknown): the value's bytes are still the text (a UID, an ID), which DCMTK would show as hex.
std::string get(DcmItem& item, const DcmTagKey& tag) {
  DcmElement* e = nullptr;
  if (item.findAndGetElement(tag, e).bad() || !e) return {};
  if (e->ident() == EVR_UN) {
    Uint8* bytes = nullptr;
    if (e->getUint8Array(bytes).bad() || !bytes) return {};
    return trimmed(OFString(reinterpret_cast<const char*>(bytes), e->getLength()));
  }
  OFString value;
  if (e->getOFStringArray(value).bad()) return {};
  return trimmed(value);
}

}  // namespace

bool is_safe_uid(std::string_view uid) {
  if (uid.empty() || uid.size() > 64 || uid.front() == '.' || uid.back() == '.') return false;
  char prev = '.';
  for (char c : uid) {
    if (c == '.' && prev == '.') return false;
    if (c != '.' && (c < '0' || c > '9')) return false;
    prev = c;
  }
  return true;
}

ReadResult read_instance(const std::filesystem::path& file) {
  ReadResult r;
  DcmFileFormat ff;
  // Values longer than 4 KiB (pixel data) are left on disk: memory does not grow with the object.
  OFCondition cond = ff.loadFile(OFFilename(file.c_str()), EXS_Unknown, EGL_noChange, 4096, ERM_fileOnly);
  if (cond.bad()) {
    r.error = std::string("not a readable DICOM Part-10 file: ") + cond.text();
    return r;
  }
  DcmDataset& ds = *ff.getDataset();
  Instance in;
  in.sop_class_uid = get(ds, DCM_SOPClassUID);
  in.sop_instance_uid = get(ds, DCM_SOPInstanceUID);
  in.study_uid = get(ds, DCM_StudyInstanceUID);
  in.series_uid = get(ds, DCM_SeriesInstanceUID);
  in.patient_id = get(ds, DCM_PatientID);
  in.modality = get(ds, DCM_Modality);
  in.study_date = get(ds, DCM_StudyDate);
  in.transfer_syntax = get(*ff.getMetaInfo(), DCM_TransferSyntaxUID);
  const std::pair<const char*, const std::string*> uids[] = {{"SOPClassUID (0008,0016)", &in.sop_class_uid},
                                                             {"SOPInstanceUID (0008,0018)", &in.sop_instance_uid},
                                                             {"StudyInstanceUID (0020,000D)", &in.study_uid},
                                                             {"SeriesInstanceUID (0020,000E)", &in.series_uid}};
  for (const auto& [what, value] : uids) {
    if (!is_safe_uid(*value)) {
      r.error = std::string(what) + (value->empty() ? " is missing"
                                                    : " '" + util::display_name(*value) +
                                                          "' is not a valid UID (digits and dots, at most 64)");
      return r;
    }
  }
  if (!in.study_date.empty() &&
      (in.study_date.size() != 8 || in.study_date.find_first_not_of("0123456789") != std::string::npos))
    in.study_date.clear();  // a malformed date is dropped from the manifest, not a reason to refuse
  r.instance = std::move(in);
  return r;
}

}  // namespace sennen::dicom
