// The dicom-qr source against a PACS that answers late or answers the wrong request: what no real
// PACS here can be made to do on cue. The PACS is DCMTK's own DcmSCP, scripted per study, in a
// private network namespace (DcmSCP binds every interface), as test_dicom_qr.cpp runs Orthanc.
#include <doctest/doctest.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include "tests/adapters/sources/dicom_qr/qr_fixture.hpp"

using namespace sennen;

namespace {

constexpr std::uint16_t kPacsPort = 14243;
constexpr std::uint16_t kMovePort = 11114;
const std::string kRoot = "1.2.826.0.1.3680043.9.7450.";

// How the PACS answers one study's C-MOVE: after `delay`, with a final status naming the request
// `id_shift` messages after the one it answers (0: the right one).
struct MoveAnswer {
  std::chrono::milliseconds delay{0};
  int id_shift = 0;
};

// A PACS that reports no instance count for its studies (no NumberOfStudyRelatedInstances, as
// some PACSes never do: completion then rests on the C-MOVE's final status alone). It answers C-FIND at
// STUDY level with every study, at IMAGE level with none, and C-MOVE with success and no
// sub-operations, as scripted.
class ScriptedPacs final : public DcmSCP {
 public:
  ScriptedPacs(std::map<std::string, std::string> studies, std::map<std::string, MoveAnswer> moves)
      : studies_(std::move(studies)), moves_(std::move(moves)) {
    DcmSCPConfig& c = getConfig();
    c.setPort(kPacsPort);
    c.setAETitle("FAKEPACS");
    c.setConnectionBlockingMode(DUL_NOBLOCK);
    c.setConnectionTimeout(1);
    c.setACSETimeout(5);
    c.setDIMSETimeout(5);
    c.setHostLookupEnabled(false);
    OFList<OFString> syntaxes;
    syntaxes.push_back(UID_LittleEndianExplicitTransferSyntax);
    syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
    for (const char* model :
         {UID_FINDStudyRootQueryRetrieveInformationModel, UID_MOVEStudyRootQueryRetrieveInformationModel,
          UID_GETStudyRootQueryRetrieveInformationModel})
      REQUIRE(c.addPresentationContext(model, syntaxes).good());
    REQUIRE(openListenPort().good());  // before the source connects
    thread_ = std::thread([this] { acceptAssociations(); });
  }
  ~ScriptedPacs() override {
    stop_ = true;
    thread_.join();
  }
  ScriptedPacs(const ScriptedPacs&) = delete;
  ScriptedPacs& operator=(const ScriptedPacs&) = delete;

  int associations() const { return associations_; }

 private:
  OFBool stopAfterConnectionTimeout() override { return stop_; }
  void notifyAssociationAcknowledge() override { ++associations_; }

  OFCondition handleIncomingCommand(T_DIMSE_Message* msg, const DcmPresentationContextInfo& info) override {
    const T_ASC_PresentationContextID pres = info.presentationContextID;
    DcmDataset* raw = nullptr;
    if (msg->CommandField == DIMSE_C_FIND_RQ) {
      T_DIMSE_C_FindRQ& rq = msg->msg.CFindRQ;
      OFCondition cond = receiveFINDRequest(rq, pres, raw);
      std::unique_ptr<DcmDataset> query(raw);
      if (cond.bad()) return cond;
      OFString level;
      query->findAndGetOFString(DCM_QueryRetrieveLevel, level);
      if (level == "STUDY")
        for (const auto& [uid, date] : studies_) {
          DcmDataset match;
          match.putAndInsertString(DCM_QueryRetrieveLevel, "STUDY");
          match.putAndInsertString(DCM_StudyInstanceUID, uid.c_str());
          match.putAndInsertString(DCM_StudyDate, date.c_str());
          cond = sendFINDResponse(pres, rq.MessageID, rq.AffectedSOPClassUID, &match, STATUS_Pending);
          if (cond.bad()) return cond;
        }
      return sendFINDResponse(pres, rq.MessageID, rq.AffectedSOPClassUID, nullptr, STATUS_Success);
    }
    if (msg->CommandField == DIMSE_C_MOVE_RQ) {
      T_DIMSE_C_MoveRQ& rq = msg->msg.CMoveRQ;
      OFString destination;
      OFCondition cond = receiveMOVERequest(rq, pres, raw, destination);
      std::unique_ptr<DcmDataset> query(raw);
      if (cond.bad()) return cond;
      OFString study;
      query->findAndGetOFString(DCM_StudyInstanceUID, study);
      const MoveAnswer answer = moves_[study.c_str()];
      std::this_thread::sleep_for(answer.delay);
      return sendMOVEResponse(pres, static_cast<Uint16>(rq.MessageID + answer.id_shift), rq.AffectedSOPClassUID,
                              nullptr, STATUS_Success);
    }
    return DcmSCP::handleIncomingCommand(msg, info);
  }

  std::map<std::string, std::string> studies_;  // StudyInstanceUID -> StudyDate
  std::map<std::string, MoveAnswer> moves_;
  std::atomic<bool> stop_{false};
  std::atomic<int> associations_{0};
  std::thread thread_;
};

struct Fixture : test::QrFixture {
  Fixture() : QrFixture(options()) {}
  static dicom::QrSourceOptions options() {
    // The scripted delay outlasts the DIMSE timeout.
    const auto peer = test::loopback_peer(kPacsPort, "FAKEPACS", std::chrono::seconds(1));
    return test::qr_options(dicom::Retrieve::move, peer, kMovePort);
  }
  // Each study's progress as the source keeps it: "complete", or what it still lacks.
  std::map<std::string, std::string> progress() {
    std::map<std::string, std::string> out;
    for (const auto& u : state->units("qr/studies")) out[u.name] = u.status;
    return out;
  }
};

}  // namespace

// The first study's C-MOVE outlasts the DIMSE timeout. The PACS answers it late, on the same
// association; before, the next requests went out on it too, so that late answer came back to
// them (and one study could be credited with another's final status). The association is now
// given up and a new one opened for the next study.
TEST_CASE("dicom-qr: a C-MOVE that timed out leaves its association; the next studies get a new one") {
  test::enter_private_network();
  Fixture f;
  ScriptedPacs pacs({{kRoot + "1", "20240501"}, {kRoot + "2", "20240502"}, {kRoot + "3", "20240503"}},
                    {{kRoot + "1", {std::chrono::milliseconds(3000), 0}}});
  f.poll();
  const auto p = f.progress();
  REQUIRE(p.size() == 3);
  CHECK(p.at(kRoot + "1") != "complete");
  CHECK(p.at(kRoot + "2") == "complete");
  CHECK(p.at(kRoot + "3") == "complete");
  CHECK(pacs.associations() == 2);
}

// A final C-MOVE response that names another request is not this request's answer.
TEST_CASE("dicom-qr: a C-MOVE answer naming another request's message ID does not complete the study") {
  test::enter_private_network();
  Fixture f;
  ScriptedPacs pacs({{kRoot + "4", "20240501"}, {kRoot + "5", "20240502"}}, {{kRoot + "4", {{}, 7}}});
  f.poll();
  const auto p = f.progress();
  REQUIRE(p.size() == 2);
  CHECK(p.at(kRoot + "4") != "complete");
  CHECK(p.at(kRoot + "5") == "complete");
}
