#include "adapters/sources/dicom_common/qr_scu.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcostrmf.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/dul.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdlib>
#include <vector>

#include "daemon/core/error.hpp"
#include "daemon/util/log.hpp"

namespace sennen::dicom {
namespace {

struct NetworkDeleter {
  void operator()(T_ASC_Network* net) const { ASC_dropNetwork(&net); }
};
using Network = std::unique_ptr<T_ASC_Network, NetworkDeleter>;
struct DatasetDeleter {
  void operator()(DcmDataset* d) const { delete d; }
};
using Dataset = std::unique_ptr<DcmDataset, DatasetDeleter>;

// One presentation context per (class, transfer syntax): the PACS then sends each instance in the
// syntax it stores it in, instead of transcoding it into the one syntax a shared context got.
// 14 image classes x 8 syntaxes + 6 other classes x 2 + FIND + GET = 126 of the 128 contexts DICOM allows.
const char* const kImageClasses[] = {
    UID_CTImageStorage, UID_EnhancedCTImageStorage, UID_MRImageStorage, UID_EnhancedMRImageStorage,
    UID_ComputedRadiographyImageStorage, UID_DigitalXRayImageStorageForPresentation,
    UID_DigitalMammographyXRayImageStorageForPresentation, UID_UltrasoundImageStorage,
    UID_UltrasoundMultiframeImageStorage, UID_SecondaryCaptureImageStorage, UID_XRayAngiographicImageStorage,
    UID_XRayRadiofluoroscopicImageStorage, UID_NuclearMedicineImageStorage, UID_PositronEmissionTomographyImageStorage,
};
const char* const kImageSyntaxes[] = {
    UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
    UID_JPEGProcess1TransferSyntax,         UID_JPEGProcess14SV1TransferSyntax,
    UID_JPEGLSLosslessTransferSyntax,       UID_JPEG2000LosslessOnlyTransferSyntax,
    UID_JPEG2000TransferSyntax,             UID_RLELosslessTransferSyntax,
};
const char* const kOtherClasses[] = {
    UID_EncapsulatedPDFStorage, UID_BasicTextSRStorage, UID_EnhancedSRStorage, UID_ComprehensiveSRStorage,
    UID_GrayscaleSoftcopyPresentationStateStorage, UID_KeyObjectSelectionDocumentStorage,
};

std::string trim(const OFString& s) {
  std::string out(s.c_str());
  while (!out.empty() && (out.back() == ' ' || out.back() == '\0')) out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(out.begin());
  return out;
}

std::string text(const OFCondition& c) { return c.text(); }

}  // namespace

struct QrAssociation::Impl {
  PeerOptions peer;
  Network net;
  T_ASC_Association* assoc = nullptr;

  std::string where() const {
    return "DICOM peer " + peer.ae_title + " at " + peer.host + ":" + std::to_string(peer.port);
  }
  int timeout() const { return static_cast<int>(peer.dimse_timeout.count()); }

  ~Impl() {
    if (!assoc) return;
    if (ASC_releaseAssociation(assoc).bad()) ASC_abortAssociation(assoc);
    ASC_destroyAssociation(&assoc);
  }

  T_ASC_PresentationContextID context(const char* abstract) const {
    T_ASC_PresentationContextID id = ASC_findAcceptedPresentationContextID(assoc, abstract);
    if (id == 0)
      throw Error(where() + " did not accept " + std::string(dcmFindNameOfUID(abstract, abstract)) +
                  "; allow our AE title to query and retrieve (C-FIND, C-GET) in the PACS");
    return id;
  }
};

QrAssociation::QrAssociation(const PeerOptions& peer) : impl_(std::make_unique<Impl>()) {
  impl_->peer = peer;
  // Debian's DCMTK leaves Nagle on unless asked at run time (about 40 ms per sub-operation).
  ::setenv("TCP_NODELAY", "1", 1);
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  const int acse = static_cast<int>(peer.acse_timeout.count());
  T_ASC_Network* raw_net = nullptr;
  OFCondition cond = ASC_initializeNetwork(NET_REQUESTOR, 0, acse, &raw_net);
  impl_->net.reset(raw_net);
  if (cond.bad()) throw Error(impl_->where() + ": cannot set up networking: " + text(cond));
  T_ASC_Parameters* params = nullptr;
  dcmConnectionTimeout.set(acse);  // TCP connect, which the ACSE timeout does not cover
  cond = ASC_createAssociationParameters(&params, ASC_DEFAULTMAXPDU);
  if (cond.bad()) throw Error(impl_->where() + ": " + text(cond));
  ASC_setAPTitles(params, peer.local_ae_title.c_str(), peer.ae_title.c_str(), nullptr);
  const std::string address = peer.host + ":" + std::to_string(peer.port);
  ASC_setPresentationAddresses(params, "localhost", address.c_str());

  T_ASC_PresentationContextID id = 1;
  const char* query_syntaxes[] = {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax};
  auto add = [&](const char* abstract, const char** syntaxes, int n, T_ASC_SC_ROLE role) {
    if (cond.good()) cond = ASC_addPresentationContext(params, id, abstract, syntaxes, n, role);
    id = static_cast<T_ASC_PresentationContextID>(id + 2);
  };
  add(UID_FINDStudyRootQueryRetrieveInformationModel, query_syntaxes, 2, ASC_SC_ROLE_DEFAULT);
  add(UID_GETStudyRootQueryRetrieveInformationModel, query_syntaxes, 2, ASC_SC_ROLE_DEFAULT);
  for (const char* cls : kImageClasses)
    for (const char* ts : kImageSyntaxes) {
      const char* one[] = {ts};
      add(cls, one, 1, ASC_SC_ROLE_SCP);  // we are the storage SCP of the C-GET sub-operations
    }
  for (const char* cls : kOtherClasses)
    for (const char* ts : query_syntaxes) {
      const char* one[] = {ts};
      add(cls, one, 1, ASC_SC_ROLE_SCP);
    }
  if (cond.bad()) {
    ASC_destroyAssociationParameters(&params);
    throw Error(impl_->where() + ": cannot propose presentation contexts: " + text(cond));
  }
  cond = ASC_requestAssociation(impl_->net.get(), params, &impl_->assoc);
  if (!impl_->assoc) ASC_destroyAssociationParameters(&params);
  if (cond.bad()) {
    if (impl_->assoc) ASC_destroyAssociation(&impl_->assoc);
    impl_->assoc = nullptr;
    throw Error(impl_->where() + ": association failed: " + text(cond) +
                "; check host, port and AE titles, and that the PACS knows our AE title '" + peer.local_ae_title + "'");
  }
}

QrAssociation::~QrAssociation() = default;

namespace {
struct FindState {
  std::vector<StudyMatch>* out;
};
void on_find_response(void* data, T_DIMSE_C_FindRQ*, int, T_DIMSE_C_FindRSP*, DcmDataset* ids) {
  if (!ids) return;
  auto* st = static_cast<FindState*>(data);
  StudyMatch m;
  OFString v;
  if (ids->findAndGetOFString(DCM_StudyInstanceUID, v).good()) m.study_uid = trim(v);
  if (ids->findAndGetOFString(DCM_PatientID, v).good()) m.patient_id = trim(v);
  if (ids->findAndGetOFString(DCM_StudyDate, v).good()) m.study_date = trim(v);
  if (ids->findAndGetOFString(DCM_NumberOfStudyRelatedInstances, v).good()) {
    std::string n = trim(v);
    if (!n.empty() && n.find_first_not_of("0123456789") == std::string::npos) m.instances = std::stoull(n);
  }
  st->out->push_back(std::move(m));
}
}  // namespace

std::vector<StudyMatch> QrAssociation::find_studies(std::string_view range) {
  T_ASC_PresentationContextID pres = impl_->context(UID_FINDStudyRootQueryRetrieveInformationModel);
  DcmDataset query;
  query.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
  query.putAndInsertString(DCM_StudyDate, std::string(range).c_str());
  query.putAndInsertString(DCM_StudyInstanceUID, "");
  query.putAndInsertString(DCM_PatientID, "");
  query.putAndInsertString(DCM_NumberOfStudyRelatedInstances, "");
  T_DIMSE_C_FindRQ req{};
  req.MessageID = impl_->assoc->nextMsgID++;
  OFStandard::strlcpy(req.AffectedSOPClassUID, UID_FINDStudyRootQueryRetrieveInformationModel,
                      sizeof req.AffectedSOPClassUID);
  req.Priority = DIMSE_PRIORITY_MEDIUM;
  req.DataSetType = DIMSE_DATASET_PRESENT;
  std::vector<StudyMatch> out;
  FindState st{&out};
  int count = 0;
  T_DIMSE_C_FindRSP rsp{};
  DcmDataset* detail_raw = nullptr;
  OFCondition cond = DIMSE_findUser(impl_->assoc, pres, &req, &query, count, on_find_response, &st, DIMSE_NONBLOCKING,
                                    impl_->timeout(), &rsp, &detail_raw);
  Dataset detail(detail_raw);
  if (cond.bad()) throw Error(impl_->where() + ": C-FIND failed: " + text(cond));
  if (rsp.DimseStatus != STATUS_Success)
    throw Error(impl_->where() + ": C-FIND answered status 0x" + std::to_string(rsp.DimseStatus) +
                "; check that our AE title may query the PACS");
  return out;
}

GetResult QrAssociation::get_study(std::string_view study_uid, StoreHandler& handler) {
  T_ASC_PresentationContextID pres = impl_->context(UID_GETStudyRootQueryRetrieveInformationModel);
  T_ASC_Association* assoc = impl_->assoc;
  DcmDataset query;
  query.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
  query.putAndInsertString(DCM_StudyInstanceUID, std::string(study_uid).c_str());
  T_DIMSE_Message msg{};
  msg.CommandField = DIMSE_C_GET_RQ;
  T_DIMSE_C_GetRQ& req = msg.msg.CGetRQ;
  req.MessageID = assoc->nextMsgID++;
  OFStandard::strlcpy(req.AffectedSOPClassUID, UID_GETStudyRootQueryRetrieveInformationModel,
                      sizeof req.AffectedSOPClassUID);
  req.Priority = DIMSE_PRIORITY_MEDIUM;
  req.DataSetType = DIMSE_DATASET_PRESENT;
  OFCondition cond = DIMSE_sendMessageUsingMemoryData(assoc, pres, &msg, nullptr, &query, nullptr, nullptr);
  if (cond.bad()) throw Error(impl_->where() + ": cannot send C-GET: " + text(cond));

  GetResult result;
  for (;;) {
    T_DIMSE_Message in{};
    T_ASC_PresentationContextID in_pres = 0;
    DcmDataset* detail_raw = nullptr;
    cond = DIMSE_receiveCommand(assoc, DIMSE_NONBLOCKING, impl_->timeout(), &in_pres, &in, &detail_raw);
    Dataset detail(detail_raw);
    if (cond.bad()) throw Error(impl_->where() + ": C-GET broke off: " + text(cond));
    if (in.CommandField == DIMSE_C_GET_RSP) {
      const T_DIMSE_C_GetRSP& rsp = in.msg.CGetRSP;
      if (rsp.DataSetType != DIMSE_DATASET_NULL) {  // the list of failed instances: not needed
        DIC_UL bytes = 0, pdvs = 0;
        cond = DIMSE_ignoreDataSet(assoc, DIMSE_NONBLOCKING, impl_->timeout(), &bytes, &pdvs);
        if (cond.bad()) throw Error(impl_->where() + ": C-GET broke off: " + text(cond));
      }
      if (rsp.opts & O_GET_NUMBEROFCOMPLETEDSUBOPERATIONS) result.completed = rsp.NumberOfCompletedSubOperations;
      if (rsp.opts & O_GET_NUMBEROFFAILEDSUBOPERATIONS) result.failed = rsp.NumberOfFailedSubOperations;
      if (rsp.opts & O_GET_NUMBEROFWARNINGSUBOPERATIONS) result.warning = rsp.NumberOfWarningSubOperations;
      if (rsp.DimseStatus == STATUS_Pending || rsp.DimseStatus == STATUS_GET_Pending_SubOperationsAreContinuing)
        continue;
      result.status = rsp.DimseStatus;
      return result;
    }
    if (in.CommandField != DIMSE_C_STORE_RQ)
      throw Error(impl_->where() + ": unexpected DIMSE command 0x" + std::to_string(in.CommandField) + " during C-GET");
    // A C-STORE sub-operation: streamed into the handler's file with the file meta information
    // of the context it travels on, so the data set stays exactly as the PACS sent it.
    T_DIMSE_C_StoreRQ& sreq = in.msg.CStoreRQ;
    T_DIMSE_C_StoreRSP srsp{};
    srsp.MessageIDBeingRespondedTo = sreq.MessageID;
    srsp.DataSetType = DIMSE_DATASET_NULL;
    OFStandard::strlcpy(srsp.AffectedSOPClassUID, sreq.AffectedSOPClassUID, sizeof srsp.AffectedSOPClassUID);
    OFStandard::strlcpy(srsp.AffectedSOPInstanceUID, sreq.AffectedSOPInstanceUID, sizeof srsp.AffectedSOPInstanceUID);
    srsp.opts = O_STORE_AFFECTEDSOPCLASSUID | O_STORE_AFFECTEDSOPINSTANCEUID;
    const std::string sop = trim(sreq.AffectedSOPInstanceUID);
    StoreHandler::Begin begin = handler.begin_store(impl_->peer.ae_title, sop);
    DcmOutputFileStream* raw_stream = nullptr;
    if (begin.status == status::success &&
        DIMSE_createFilestream(OFFilename(begin.file.c_str()), &sreq, assoc, in_pres, 1, &raw_stream).bad())
      begin.status = status::out_of_resources;
    std::unique_ptr<DcmOutputFileStream> stream(raw_stream);
    if (begin.status != status::success) {
      DIC_UL bytes = 0, pdvs = 0;
      cond = DIMSE_ignoreDataSet(assoc, DIMSE_NONBLOCKING, impl_->timeout(), &bytes, &pdvs);
      if (cond.bad()) throw Error(impl_->where() + ": C-GET broke off: " + text(cond));
      srsp.DimseStatus = begin.status;
    } else {
      T_ASC_PresentationContextID data_pres = in_pres;
      cond = DIMSE_receiveDataSetInFile(assoc, DIMSE_NONBLOCKING, impl_->timeout(), &data_pres, stream.get(), nullptr,
                                        nullptr);
      const bool write_ok = stream->status().good();
      stream.reset();
      if (cond.bad()) {
        handler.end_store(begin.file, false, sop, text(cond));
        throw Error(impl_->where() + ": C-GET broke off: " + text(cond));
      }
      srsp.DimseStatus = write_ok ? handler.end_store(begin.file, true, sop, "")
                                  : (handler.end_store(begin.file, false, sop, "cannot write the file"),
                                     status::out_of_resources);
    }
    cond = DIMSE_sendStoreResponse(assoc, in_pres, &sreq, &srsp, nullptr);
    if (cond.bad()) throw Error(impl_->where() + ": C-GET broke off: " + text(cond));
  }
}

}  // namespace sennen::dicom
