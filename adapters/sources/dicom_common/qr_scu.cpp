#include "adapters/sources/dicom_common/qr_scu.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmnet/dimse.h>
#include <dcmtk/dcmnet/dul.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <vector>

#include "adapters/sources/dicom_common/instance.hpp"
#include "adapters/sources/dicom_common/store_receive.hpp"
#include "daemon/util/error.hpp"
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
// Without a study's own classes: 14 image classes x 8 syntaxes + 6 other classes x 2 + FIND + GET
// + MOVE = 127 of the 128 contexts DICOM allows.
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
                  "; allow our AE title to query and retrieve (C-FIND, C-GET, C-MOVE) in the PACS");
    return id;
  }
};

namespace {

// A study's storage classes (SOPClassesInStudy), each with as many of kImageSyntaxes as the 128
// presentation contexts DICOM allows leave room for (the query models take 3). Uncompressed
// syntaxes come first in the list, so a class always gets them. Without classes: a default set.
std::vector<std::pair<std::string, std::vector<const char*>>> storage_proposal(const std::vector<std::string>& classes) {
  std::vector<std::pair<std::string, std::vector<const char*>>> out;
  const std::vector<const char*> uncompressed = {UID_LittleEndianExplicitTransferSyntax,
                                                 UID_LittleEndianImplicitTransferSyntax};
  if (classes.empty()) {
    for (const char* cls : kImageClasses) out.push_back({cls, {std::begin(kImageSyntaxes), std::end(kImageSyntaxes)}});
    for (const char* cls : kOtherClasses) out.push_back({cls, uncompressed});
    return out;
  }
  constexpr std::size_t kStorageContexts = 128 - 3;
  const std::size_t per_class = std::clamp<std::size_t>(kStorageContexts / classes.size(), 1, std::size(kImageSyntaxes));
  for (const auto& cls : classes) {
    if (!is_safe_uid(cls) || out.size() >= kStorageContexts) continue;
    out.push_back({cls, {std::begin(kImageSyntaxes), std::begin(kImageSyntaxes) + per_class}});
  }
  return out;
}

}  // namespace

QrAssociation::QrAssociation(const PeerOptions& peer, const std::vector<std::string>& storage_classes)
    : impl_(std::make_unique<Impl>()) {
  impl_->peer = peer;
  prepare_dcmtk_networking();
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
  add(UID_MOVEStudyRootQueryRetrieveInformationModel, query_syntaxes, 2, ASC_SC_ROLE_DEFAULT);
  for (const auto& [cls, syntaxes] : storage_proposal(storage_classes))
    for (const char* ts : syntaxes) {
      const char* one[] = {ts};
      add(cls.c_str(), one, 1, ASC_SC_ROLE_SCP);  // we are the storage SCP of the C-GET sub-operations
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
  std::map<std::string, std::size_t> index;  // StudyInstanceUID -> its match in *out
};

// A PACS may answer once per (PatientID, StudyInstanceUID) (Orthanc does, for a study holding
// instances of several patients), and each answer counts only its own part. One match per study,
// so that a poll retrieves it once: the largest count (held instances are compared with it), every
// storage class (the C-GET proposes them), the earliest date (the watermark must not pass it).
void merge_match(StudyMatch& into, StudyMatch&& m) {
  if (m.instances && (!into.instances || *m.instances > *into.instances)) into.instances = m.instances;
  for (auto& c : m.sop_classes)
    if (std::find(into.sop_classes.begin(), into.sop_classes.end(), c) == into.sop_classes.end())
      into.sop_classes.push_back(std::move(c));
  if (!m.study_date.empty() && (into.study_date.empty() || m.study_date < into.study_date))
    into.study_date = std::move(m.study_date);
}

void on_find_response(void* data, T_DIMSE_C_FindRQ*, int, T_DIMSE_C_FindRSP*, DcmDataset* ids) {
  if (!ids) return;
  auto* st = static_cast<FindState*>(data);
  StudyMatch m;
  OFString v;
  if (ids->findAndGetOFString(DCM_StudyInstanceUID, v).good()) m.study_uid = trimmed_field(v.c_str());
  if (ids->findAndGetOFString(DCM_StudyDate, v).good()) m.study_date = trimmed_field(v.c_str());
  if (ids->findAndGetOFStringArray(DCM_SOPClassesInStudy, v).good()) {
    std::string all = trimmed_field(v.c_str());
    for (std::size_t start = 0; start < all.size();) {
      std::size_t end = std::min(all.find('\\', start), all.size());
      if (std::string one = trimmed_field(all.substr(start, end - start).c_str()); !one.empty())
        m.sop_classes.push_back(std::move(one));
      start = end + 1;
    }
  }
  if (ids->findAndGetOFString(DCM_NumberOfStudyRelatedInstances, v).good()) {
    std::string n = trimmed_field(v.c_str());
    if (!n.empty() && n.find_first_not_of("0123456789") == std::string::npos) m.instances = std::stoull(n);
  }
  if (auto [at, added] = st->index.try_emplace(m.study_uid, st->out->size()); !added)
    merge_match((*st->out)[at->second], std::move(m));
  else
    st->out->push_back(std::move(m));
}
}  // namespace

std::vector<StudyMatch> QrAssociation::find_studies(std::string_view range) {
  T_ASC_PresentationContextID pres = impl_->context(UID_FINDStudyRootQueryRetrieveInformationModel);
  DcmDataset query;
  query.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
  query.putAndInsertString(DCM_StudyDate, std::string(range).c_str());
  query.putAndInsertString(DCM_StudyInstanceUID, "");
  query.putAndInsertString(DCM_NumberOfStudyRelatedInstances, "");
  query.putAndInsertString(DCM_SOPClassesInStudy, "");
  T_DIMSE_C_FindRQ req{};
  req.MessageID = impl_->assoc->nextMsgID++;
  OFStandard::strlcpy(req.AffectedSOPClassUID, UID_FINDStudyRootQueryRetrieveInformationModel,
                      sizeof req.AffectedSOPClassUID);
  req.Priority = DIMSE_PRIORITY_MEDIUM;
  req.DataSetType = DIMSE_DATASET_PRESENT;
  std::vector<StudyMatch> out;
  FindState st{&out, {}};
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

namespace {

template <class Request>
void fill_request(Request& req, T_ASC_Association* assoc, const char* model) {
  req.MessageID = assoc->nextMsgID++;
  OFStandard::strlcpy(req.AffectedSOPClassUID, model, sizeof req.AffectedSOPClassUID);
  req.Priority = DIMSE_PRIORITY_MEDIUM;
  req.DataSetType = DIMSE_DATASET_PRESENT;
}

// C-GET and C-MOVE responses carry the same counts under different option flags.
template <class Response>
bool take_response(const Response& rsp, unsigned completed, unsigned failed, unsigned warning, RetrieveResult& out) {
  if (rsp.opts & completed) out.completed = rsp.NumberOfCompletedSubOperations;
  if (rsp.opts & failed) out.failed = rsp.NumberOfFailedSubOperations;
  if (rsp.opts & warning) out.warning = rsp.NumberOfWarningSubOperations;
  if (rsp.DimseStatus == STATUS_Pending || rsp.DimseStatus == STATUS_GET_Pending_SubOperationsAreContinuing)
    return false;
  out.status = rsp.DimseStatus;
  return true;
}

}  // namespace

RetrieveResult QrAssociation::get_study(std::string_view study_uid, StoreHandler& handler) {
  return retrieve(study_uid, &handler, {});
}

RetrieveResult QrAssociation::move_study(std::string_view study_uid, std::string_view destination_ae) {
  return retrieve(study_uid, nullptr, destination_ae);
}

RetrieveResult QrAssociation::retrieve(std::string_view study_uid, StoreHandler* handler,
                                       std::string_view move_destination) {
  const bool move = handler == nullptr;
  const std::string what = move ? "C-MOVE" : "C-GET";
  const char* model =
      move ? UID_MOVEStudyRootQueryRetrieveInformationModel : UID_GETStudyRootQueryRetrieveInformationModel;
  T_ASC_PresentationContextID pres = impl_->context(model);
  T_ASC_Association* assoc = impl_->assoc;
  DcmDataset query;
  query.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
  query.putAndInsertString(DCM_StudyInstanceUID, std::string(study_uid).c_str());
  T_DIMSE_Message msg{};
  if (move) {
    msg.CommandField = DIMSE_C_MOVE_RQ;
    fill_request(msg.msg.CMoveRQ, assoc, model);
    OFStandard::strlcpy(msg.msg.CMoveRQ.MoveDestination, std::string(move_destination).c_str(),
                        sizeof msg.msg.CMoveRQ.MoveDestination);
  } else {
    msg.CommandField = DIMSE_C_GET_RQ;
    fill_request(msg.msg.CGetRQ, assoc, model);
  }
  OFCondition cond = DIMSE_sendMessageUsingMemoryData(assoc, pres, &msg, nullptr, &query, nullptr, nullptr);
  if (cond.bad()) throw Error(impl_->where() + ": cannot send " + what + ": " + text(cond));

  RetrieveResult result;
  for (;;) {
    T_DIMSE_Message in{};
    T_ASC_PresentationContextID in_pres = 0;
    DcmDataset* detail_raw = nullptr;
    cond = DIMSE_receiveCommand(assoc, DIMSE_NONBLOCKING, impl_->timeout(), &in_pres, &in, &detail_raw);
    Dataset detail(detail_raw);
    if (cond.bad()) throw Error(impl_->where() + ": " + what + " broke off: " + text(cond));
    const bool get_rsp = !move && in.CommandField == DIMSE_C_GET_RSP;
    const bool move_rsp = move && in.CommandField == DIMSE_C_MOVE_RSP;
    if (get_rsp || move_rsp) {
      const bool has_data = get_rsp ? in.msg.CGetRSP.DataSetType != DIMSE_DATASET_NULL
                                    : in.msg.CMoveRSP.DataSetType != DIMSE_DATASET_NULL;
      if (has_data) {  // the list of failed instances: not needed
        DIC_UL bytes = 0, pdvs = 0;
        cond = DIMSE_ignoreDataSet(assoc, DIMSE_NONBLOCKING, impl_->timeout(), &bytes, &pdvs);
        if (cond.bad()) throw Error(impl_->where() + ": " + what + " broke off: " + text(cond));
      }
      const bool final = get_rsp ? take_response(in.msg.CGetRSP, O_GET_NUMBEROFCOMPLETEDSUBOPERATIONS,
                                                 O_GET_NUMBEROFFAILEDSUBOPERATIONS,
                                                 O_GET_NUMBEROFWARNINGSUBOPERATIONS, result)
                                 : take_response(in.msg.CMoveRSP, O_MOVE_NUMBEROFCOMPLETEDSUBOPERATIONS,
                                                 O_MOVE_NUMBEROFFAILEDSUBOPERATIONS,
                                                 O_MOVE_NUMBEROFWARNINGSUBOPERATIONS, result);
      if (final) return result;
      continue;
    }
    if (move || in.CommandField != DIMSE_C_STORE_RQ)
      throw Error(impl_->where() + ": unexpected DIMSE command 0x" + std::to_string(in.CommandField) + " during " +
                  what);
    // A C-STORE sub-operation, received by the same code as a push to our SCP.
    cond = receive_store(assoc, in_pres, in.msg.CStoreRQ, impl_->peer.ae_title, *handler, impl_->timeout(),
                         impl_->where());
    if (cond.bad()) throw Error(impl_->where() + ": C-GET broke off: " + text(cond));
  }
}

}  // namespace sennen::dicom
