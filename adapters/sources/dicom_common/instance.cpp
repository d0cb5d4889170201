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

// The elements read here are short (a UID at most 64 bytes, an ID 64 characters, a code string
// 16). A longer one is refused before its value is read: a hostile sender's 2 GiB PatientID would
// otherwise be loaded, and copied, in full.
constexpr std::uint32_t kMaxValueBytes = 1024;

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
  struct Element {
    DcmItem* item;
    DcmTagKey tag;
    const char* what;
  };
  const Element read[] = {{&ds, DCM_SOPClassUID, "SOPClassUID (0008,0016)"},
                          {&ds, DCM_SOPInstanceUID, "SOPInstanceUID (0008,0018)"},
                          {&ds, DCM_StudyInstanceUID, "StudyInstanceUID (0020,000D)"},
                          {&ds, DCM_SeriesInstanceUID, "SeriesInstanceUID (0020,000E)"},
                          {&ds, DCM_PatientID, "PatientID (0010,0020)"},
                          {&ds, DCM_Modality, "Modality (0008,0060)"},
                          {&ds, DCM_StudyDate, "StudyDate (0008,0020)"},
                          {ff.getMetaInfo(), DCM_TransferSyntaxUID, "TransferSyntaxUID (0002,0010)"}};
  for (const auto& [item, tag, what] : read) {
    DcmElement* e = nullptr;
    if (item->findAndGetElement(tag, e).good() && e && e->getLength() > kMaxValueBytes) {
      r.error = std::string(what) + " is " + std::to_string(e->getLength()) + " bytes long, more than the " +
                std::to_string(kMaxValueBytes) + " such an element can need: a malformed or hostile data set";
      return r;
    }
  }
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
