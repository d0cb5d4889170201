#include "adapters/sources/dicom_common/qr_scu.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
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

// Without an IMAGE-level answer or the study's own classes: 14 image classes x 8 syntaxes + 6
// other classes x 2 = 124 of the kStorageContexts.
const char* const kImageClasses[] = {
    UID_CTImageStorage,
    UID_EnhancedCTImageStorage,
    UID_MRImageStorage,
    UID_EnhancedMRImageStorage,
    UID_ComputedRadiographyImageStorage,
    UID_DigitalXRayImageStorageForPresentation,
    UID_DigitalMammographyXRayImageStorageForPresentation,
    UID_UltrasoundImageStorage,
    UID_UltrasoundMultiframeImageStorage,
    UID_SecondaryCaptureImageStorage,
    UID_XRayAngiographicImageStorage,
    UID_XRayRadiofluoroscopicImageStorage,
    UID_NuclearMedicineImageStorage,
    UID_PositronEmissionTomographyImageStorage,
};
const char* const kImageSyntaxes[] = {
    UID_LittleEndianExplicitTransferSyntax,
    UID_LittleEndianImplicitTransferSyntax,
    UID_JPEGProcess1TransferSyntax,
    UID_JPEGProcess14SV1TransferSyntax,
    UID_JPEGLSLosslessTransferSyntax,
    UID_JPEG2000LosslessOnlyTransferSyntax,
    UID_JPEG2000TransferSyntax,
    UID_RLELosslessTransferSyntax,
};
const char* const kOtherClasses[] = {
    UID_EncapsulatedPDFStorage,
    UID_BasicTextSRStorage,
    UID_EnhancedSRStorage,
    UID_ComprehensiveSRStorage,
    UID_GrayscaleSoftcopyPresentationStateStorage,
    UID_KeyObjectSelectionDocumentStorage,
};
const std::vector<std::string> kUncompressed = {UID_LittleEndianExplicitTransferSyntax,
                                                UID_LittleEndianImplicitTransferSyntax};

std::string text(const OFCondition& c) { return c.text(); }

std::string answer_to_another(DIC_US responded_to, DIC_US awaited) {
  return "the answer names message " + std::to_string(responded_to) + " while the answer to message " +
         std::to_string(awaited) + " was awaited; the association is given up";
}

std::string hex(std::uint16_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04X", v);
  return buf;
}

}  // namespace

struct QrAssociation::Impl {
  PeerOptions peer;
  Network net;
  T_ASC_Association* assoc = nullptr;

  std::string where() const {
    return "DICOM peer " + peer.ae_title + " at " + peer.host + ":" + std::to_string(peer.port);
  }
  int timeout() const { return static_cast<int>(peer.dimse_timeout.count()); }

  // Set once an exchange failed midway (a timeout, a broken connection, an answer to another
  // request): the PACS may still be answering a request we gave up on, and anything read next on
  // this association could be taken for the answer to the next one.
  bool broken = false;

  [[noreturn]] void fail(const std::string& what) {
    broken = true;
    throw Error(where() + ": " + what);
  }
  void check_usable() const {
    if (broken) throw Error(where() + ": the association was given up after a failed exchange; open another");
  }

  ~Impl() {
    if (!assoc) return;
    if (broken || ASC_releaseAssociation(assoc).bad()) ASC_abortAssociation(assoc);
    ASC_destroyAssociation(&assoc);
  }

  T_ASC_PresentationContextID context(const char* abstract) const {
    T_ASC_PresentationContextID id = ASC_findAcceptedPresentationContextID(assoc, abstract);
    if (id == 0)
      throw Error(where() + " did not accept " + std::string(dcmFindNameOfUID(abstract, abstract)) +
                  "; allow our AE title to query and retrieve (C-FIND, C-GET, C-MOVE) in the PACS");
    return id;
  }

  // C-FIND with `query`, each answer through `on_response`; the final status. Throws when the
  // association fails.
  std::uint16_t find(DcmDataset& query, DIMSE_FindUserCallback on_response, void* data) {
    check_usable();
    T_ASC_PresentationContextID pres = context(UID_FINDStudyRootQueryRetrieveInformationModel);
    T_DIMSE_C_FindRQ req{};
    req.MessageID = assoc->nextMsgID++;
    OFStandard::strlcpy(req.AffectedSOPClassUID, UID_FINDStudyRootQueryRetrieveInformationModel,
                        sizeof req.AffectedSOPClassUID);
    req.Priority = DIMSE_PRIORITY_MEDIUM;
    req.DataSetType = DIMSE_DATASET_PRESENT;
    int count = 0;
    T_DIMSE_C_FindRSP rsp{};
    DcmDataset* detail_raw = nullptr;
    OFCondition cond = DIMSE_findUser(assoc, pres, &req, &query, count, on_response, data, DIMSE_NONBLOCKING, timeout(),
                                      &rsp, &detail_raw);
    Dataset detail(detail_raw);
    if (cond.bad()) fail("C-FIND failed: " + text(cond));
    if (rsp.MessageIDBeingRespondedTo != req.MessageID)
      fail(answer_to_another(rsp.MessageIDBeingRespondedTo, req.MessageID));
    return rsp.DimseStatus;
  }
};

namespace {

// Without an IMAGE-level answer: the study's storage classes (SOPClassesInStudy), each with as
// many of the syntaxes DCMTK knows as fit in one association, uncompressed first; without
// classes, the default set.
StorageContexts fallback_contexts(const std::vector<std::string>& classes) {
  StorageContexts out;
  if (classes.empty()) {
    for (const char* cls : kImageClasses)
      out.classes.push_back({cls, {std::begin(kImageSyntaxes), std::end(kImageSyntaxes)}});
    for (const char* cls : kOtherClasses) out.classes.push_back({cls, kUncompressed});
    return out;
  }
  const auto& known = known_transfer_syntaxes();
  const std::size_t per_class = std::clamp<std::size_t>(kStorageContexts / classes.size(), 1, known.size());
  for (const auto& cls : classes) {
    if (!is_safe_uid(cls) || out.count() + per_class > kStorageContexts) continue;
    out.classes.push_back({cls, {known.begin(), known.begin() + static_cast<std::ptrdiff_t>(per_class)}});
  }
  return out;
}

void add_unique(std::vector<std::string>& list, const std::string& value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

}  // namespace

std::size_t StorageContexts::count() const {
  std::size_t n = 0;
  for (const auto& c : classes) n += c.second.size();
  return n;
}

const std::vector<std::string>& known_transfer_syntaxes() {
  // In the order a class gets them when not all fit (fallback_contexts): the ones PACSs hold
  // today first, then the JPEG processes DICOM retired, then GE's private one.
  static const std::vector<std::string> all = [] {
    const E_TransferSyntax order[] = {EXS_LittleEndianExplicit,
                                      EXS_LittleEndianImplicit,
                                      EXS_BigEndianExplicit,
                                      EXS_DeflatedLittleEndianExplicit,
                                      EXS_JPEGProcess1,
                                      EXS_JPEGProcess2_4,
                                      EXS_JPEGProcess14,
                                      EXS_JPEGProcess14SV1,
                                      EXS_JPEGLSLossless,
                                      EXS_JPEGLSLossy,
                                      EXS_JPEG2000LosslessOnly,
                                      EXS_JPEG2000,
                                      EXS_JPEG2000MulticomponentLosslessOnly,
                                      EXS_JPEG2000Multicomponent,
                                      EXS_RLELossless,
                                      EXS_MPEG2MainProfileAtMainLevel,
                                      EXS_MPEG2MainProfileAtHighLevel,
                                      EXS_MPEG4HighProfileLevel4_1,
                                      EXS_MPEG4BDcompatibleHighProfileLevel4_1,
                                      EXS_MPEG4HighProfileLevel4_2_For2DVideo,
                                      EXS_MPEG4HighProfileLevel4_2_For3DVideo,
                                      EXS_MPEG4StereoHighProfileLevel4_2,
                                      EXS_HEVCMainProfileLevel5_1,
                                      EXS_HEVCMain10ProfileLevel5_1,
                                      EXS_JPIPReferenced,
                                      EXS_JPIPReferencedDeflate};
    std::vector<std::string> out;
    for (E_TransferSyntax x : order) add_unique(out, DcmXfer(x).getXferID());
    // The rest DCMTK knows (EXS_BigEndianImplicit is DCMTK's own, no DICOM transfer syntax).
    for (int x = EXS_LittleEndianImplicit; x <= EXS_PrivateGE_LEI_WithBigEndianPixelData; ++x)
      if (x != EXS_BigEndianImplicit)
        if (const char* uid = DcmXfer(static_cast<E_TransferSyntax>(x)).getXferID(); uid && *uid) add_unique(out, uid);
    return out;
  }();
  return all;
}

std::vector<RetrievePart> plan_get(const StudyMatch& study, const std::vector<InstanceMatch>& instances) {
  // An instance without its class cannot be given an association of its own (Orthanc leaves
  // SOPClassUID empty when StorageAccessOnFind is Never): the whole study in one, as it says.
  const bool classes_known = !instances.empty() && std::all_of(instances.begin(), instances.end(), [](const auto& in) {
    return is_safe_uid(in.sop_class) && is_safe_uid(in.series_uid) && is_safe_uid(in.sop_uid);
  });
  if (!classes_known) return {RetrievePart{fallback_contexts(study.sop_classes), {}}};
  const auto& known = known_transfer_syntaxes();
  // Each class, in the order first seen: the syntaxes its instances are stored in, or every one
  // DCMTK knows once any of its instances is not reported (or reported in one DCMTK does not know).
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::string>> reported;
  std::map<std::string, bool> unreported;
  for (const auto& in : instances) {
    if (!reported.count(in.sop_class)) order.push_back(in.sop_class);
    auto& list = reported[in.sop_class];
    if (std::find(known.begin(), known.end(), in.transfer_syntax) != known.end())
      add_unique(list, in.transfer_syntax);
    else
      unreported[in.sop_class] = true;
  }
  std::vector<RetrievePart> parts(1);
  std::map<std::string, std::size_t> part_of;
  for (const auto& cls : order) {
    std::vector<std::string> syntaxes = reported[cls];
    if (unreported[cls]) {
      syntaxes = known;
    } else {  // and the little endian ones, in case the PACS cannot send it as stored
      for (const auto& ts : kUncompressed) add_unique(syntaxes, ts);
    }
    if (parts.back().contexts.count() + syntaxes.size() > kStorageContexts) parts.emplace_back();
    parts.back().contexts.classes.push_back({cls, std::move(syntaxes)});
    part_of[cls] = parts.size() - 1;
  }
  if (parts.size() == 1) return parts;
  for (const auto& in : instances) {
    parts[part_of.at(in.sop_class)].instances[in.series_uid].push_back(in.sop_uid);
  }
  return parts;
}

QrAssociation::QrAssociation(const PeerOptions& peer, const StorageContexts& storage)
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
  for (const auto& [cls, syntaxes] : storage.classes)
    for (const auto& ts : syntaxes) {
      const char* one[] = {ts.c_str()};
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

bool QrAssociation::usable() const { return !impl_->broken; }

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

namespace {
// An IMAGE-level answer; ones without the UIDs a retrieve needs are left out.
void on_instance_response(void* data, T_DIMSE_C_FindRQ*, int, T_DIMSE_C_FindRSP*, DcmDataset* ids) {
  if (!ids) return;
  InstanceMatch m;
  OFString v;
  if (ids->findAndGetOFString(DCM_SeriesInstanceUID, v).good()) m.series_uid = trimmed_field(v.c_str());
  if (ids->findAndGetOFString(DCM_SOPInstanceUID, v).good()) m.sop_uid = trimmed_field(v.c_str());
  if (ids->findAndGetOFString(DCM_SOPClassUID, v).good()) m.sop_class = trimmed_field(v.c_str());
  if (ids->findAndGetOFString(DCM_AvailableTransferSyntaxUID, v).good()) m.transfer_syntax = trimmed_field(v.c_str());
  if (!m.sop_uid.empty()) static_cast<std::vector<InstanceMatch>*>(data)->push_back(std::move(m));
}
}  // namespace

std::vector<StudyMatch> QrAssociation::find_studies(std::string_view range, std::string_view study_uid) {
  DcmDataset query;
  query.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
  query.putAndInsertString(DCM_StudyDate, std::string(range).c_str());
  query.putAndInsertString(DCM_StudyInstanceUID, std::string(study_uid).c_str());
  query.putAndInsertString(DCM_NumberOfStudyRelatedInstances, "");
  query.putAndInsertString(DCM_SOPClassesInStudy, "");
  std::vector<StudyMatch> out;
  FindState st{&out, {}};
  if (std::uint16_t status = impl_->find(query, on_find_response, &st); status != STATUS_Success)
    throw Error(impl_->where() + ": C-FIND answered status 0x" + hex(status) +
                "; check that our AE title may query the PACS");
  return out;
}

std::vector<InstanceMatch> QrAssociation::find_instances(std::string_view study_uid) {
  DcmDataset query;
  query.putAndInsertString(DCM_QueryRetrieveLevel, "IMAGE");
  query.putAndInsertString(DCM_StudyInstanceUID, std::string(study_uid).c_str());
  query.putAndInsertString(DCM_SeriesInstanceUID, "");
  query.putAndInsertString(DCM_SOPInstanceUID, "");
  query.putAndInsertString(DCM_SOPClassUID, "");
  query.putAndInsertString(DCM_AvailableTransferSyntaxUID, "");
  std::vector<InstanceMatch> out;
  if (std::uint16_t status = impl_->find(query, on_instance_response, &out); status != STATUS_Success) {
    log::notice(impl_->where() + ": IMAGE-level C-FIND of study " + std::string(study_uid) + " answered status 0x" +
                hex(status) + "; the study is retrieved with the classes its STUDY-level answer names");
    return {};
  }
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

RetrieveResult QrAssociation::get_instances(std::string_view study_uid,
                                            const std::map<std::string, std::vector<std::string>>& instances,
                                            StoreHandler& handler) {
  RetrieveResult total;
  for (const auto& [series, sops] : instances) {
    total.add(retrieve(study_uid, &handler, {}, series, &sops));
  }
  return total;
}

RetrieveResult QrAssociation::move_study(std::string_view study_uid, std::string_view destination_ae) {
  return retrieve(study_uid, nullptr, destination_ae);
}

RetrieveResult QrAssociation::retrieve(std::string_view study_uid, StoreHandler* handler,
                                       std::string_view move_destination, std::string_view series_uid,
                                       const std::vector<std::string>* sops) {
  impl_->check_usable();
  const bool move = handler == nullptr;
  const std::string what = move ? "C-MOVE" : "C-GET";
  const char* model =
      move ? UID_MOVEStudyRootQueryRetrieveInformationModel : UID_GETStudyRootQueryRetrieveInformationModel;
  T_ASC_PresentationContextID pres = impl_->context(model);
  T_ASC_Association* assoc = impl_->assoc;
  DcmDataset query;
  query.putAndInsertString(DCM_QueryRetrieveLevel, sops ? "IMAGE" : "STUDY");
  query.putAndInsertString(DCM_StudyInstanceUID, std::string(study_uid).c_str());
  if (sops) {
    std::string list;
    for (const auto& sop : *sops) list += (list.empty() ? "" : "\\") + sop;
    query.putAndInsertString(DCM_SeriesInstanceUID, std::string(series_uid).c_str());
    query.putAndInsertString(DCM_SOPInstanceUID, list.c_str());
  }
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
  const DIC_US sent = move ? msg.msg.CMoveRQ.MessageID : msg.msg.CGetRQ.MessageID;
  OFCondition cond = DIMSE_sendMessageUsingMemoryData(assoc, pres, &msg, nullptr, &query, nullptr, nullptr);
  if (cond.bad()) impl_->fail("cannot send " + what + ": " + text(cond));

  RetrieveResult result;
  for (;;) {
    T_DIMSE_Message in{};
    T_ASC_PresentationContextID in_pres = 0;
    DcmDataset* detail_raw = nullptr;
    cond = DIMSE_receiveCommand(assoc, DIMSE_NONBLOCKING, impl_->timeout(), &in_pres, &in, &detail_raw);
    Dataset detail(detail_raw);
    if (cond.bad()) impl_->fail(what + " broke off: " + text(cond));
    const bool get_rsp = !move && in.CommandField == DIMSE_C_GET_RSP;
    const bool move_rsp = move && in.CommandField == DIMSE_C_MOVE_RSP;
    if (get_rsp || move_rsp) {
      const bool has_data = get_rsp ? in.msg.CGetRSP.DataSetType != DIMSE_DATASET_NULL
                                    : in.msg.CMoveRSP.DataSetType != DIMSE_DATASET_NULL;
      if (has_data) {  // the list of failed instances: not needed
        DIC_UL bytes = 0, pdvs = 0;
        cond = DIMSE_ignoreDataSet(assoc, DIMSE_NONBLOCKING, impl_->timeout(), &bytes, &pdvs);
        if (cond.bad()) impl_->fail(what + " broke off: " + text(cond));
      }
      const DIC_US responded_to =
          get_rsp ? in.msg.CGetRSP.MessageIDBeingRespondedTo : in.msg.CMoveRSP.MessageIDBeingRespondedTo;
      if (responded_to != sent) impl_->fail(what + " " + answer_to_another(responded_to, sent));
      const bool final =
          get_rsp ? take_response(in.msg.CGetRSP, O_GET_NUMBEROFCOMPLETEDSUBOPERATIONS,
                                  O_GET_NUMBEROFFAILEDSUBOPERATIONS, O_GET_NUMBEROFWARNINGSUBOPERATIONS, result)
                  : take_response(in.msg.CMoveRSP, O_MOVE_NUMBEROFCOMPLETEDSUBOPERATIONS,
                                  O_MOVE_NUMBEROFFAILEDSUBOPERATIONS, O_MOVE_NUMBEROFWARNINGSUBOPERATIONS, result);
      if (final) return result;
      continue;
    }
    if (move || in.CommandField != DIMSE_C_STORE_RQ)
      impl_->fail("unexpected DIMSE command 0x" + hex(static_cast<std::uint16_t>(in.CommandField)) + " during " + what);
    // A C-STORE sub-operation, received by the same code as a push to our SCP.
    cond = receive_store(assoc, in_pres, in.msg.CStoreRQ, impl_->peer.ae_title, *handler, impl_->timeout(),
                         impl_->where());
    if (cond.bad()) impl_->fail("C-GET broke off: " + text(cond));
  }
}

}  // namespace sennen::dicom
