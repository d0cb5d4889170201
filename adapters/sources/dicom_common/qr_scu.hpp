#pragma once
// A query/retrieve service class user: C-FIND at STUDY level and C-GET or C-MOVE of one study, over one
// association to a PACS. Like store_scp.hpp, no DCMTK type crosses this interface; instances a
// C-GET brings are streamed to the StoreHandler's files exactly as they travel (no transcoding).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/sources/dicom_common/store_scp.hpp"

namespace sennen::dicom {

struct PeerOptions {
  std::string host;
  std::uint16_t port = 104;
  std::string ae_title;        // the PACS (called AE title)
  std::string local_ae_title;  // ours (calling AE title)
  std::chrono::seconds acse_timeout{30};   // connect and association negotiation
  std::chrono::seconds dimse_timeout{60};  // each DIMSE message
};

// No PatientID: a study may hold instances of several patients, and each instance is gated by the
// PatientID (0010,0020) it carries when it arrives, never by a match's.
struct StudyMatch {
  std::string study_uid;
  std::string study_date;                // YYYYMMDD, may be empty
  std::optional<std::uint64_t> instances;  // NumberOfStudyRelatedInstances, when the PACS says
  std::vector<std::string> sop_classes;    // SOPClassesInStudy, when the PACS says
};

struct RetrieveResult {
  std::uint16_t status = 0;  // final C-GET / C-MOVE status
  std::uint32_t completed = 0, failed = 0, warning = 0;
};

class QrAssociation {
 public:
  // Connects and negotiates; throws sennen::Error naming the peer when it cannot. For C-GET, the
  // storage classes its sub-operations may bring (a study's SOPClassesInStudy) are proposed;
  // without them, a default set of common classes.
  explicit QrAssociation(const PeerOptions& peer, const std::vector<std::string>& storage_classes = {});
  ~QrAssociation();  // releases (or aborts) the association
  QrAssociation(const QrAssociation&) = delete;
  QrAssociation& operator=(const QrAssociation&) = delete;

  // StudyDate range "YYYYMMDD-" or "YYYYMMDD-YYYYMMDD"; one match per StudyInstanceUID, in the
  // order the PACS first named them. Throws sennen::Error on failure.
  std::vector<StudyMatch> find_studies(std::string_view study_date_range);
  // C-GET of a study; each C-STORE sub-operation goes through `handler`. Throws on a broken association.
  RetrieveResult get_study(std::string_view study_uid, StoreHandler& handler);
  // C-MOVE of a study to `destination_ae`: the PACS opens its own association to that AE (our
  // StoreScp on the move port) for the instances. Returns after the final response, once every
  // sub-operation was answered. Throws on a broken association.
  RetrieveResult move_study(std::string_view study_uid, std::string_view destination_ae);

 private:
  RetrieveResult retrieve(std::string_view study_uid, StoreHandler* handler, std::string_view move_destination);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sennen::dicom
