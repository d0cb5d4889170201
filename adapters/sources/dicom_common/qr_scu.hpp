#pragma once
// A query/retrieve service class user: C-FIND at STUDY and IMAGE level and C-GET or C-MOVE of one
// study, over one association to a PACS. Like store_scp.hpp, no DCMTK type crosses this interface;
// instances a C-GET brings are streamed to the StoreHandler's files exactly as they travel.
#include <chrono>
#include <cstdint>
#include <map>
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
  std::string ae_title;                    // the PACS (called AE title)
  std::string local_ae_title;              // ours (calling AE title)
  std::chrono::seconds acse_timeout{30};   // connect and association negotiation
  std::chrono::seconds dimse_timeout{60};  // each DIMSE message
};

// No PatientID: a study may hold instances of several patients, and each instance is gated by the
// PatientID (0010,0020) it carries when it arrives, never by a match's.
struct StudyMatch {
  std::string study_uid;
  std::string study_date;                  // YYYYMMDD, may be empty
  std::optional<std::uint64_t> instances;  // NumberOfStudyRelatedInstances, when the PACS says
  std::vector<std::string> sop_classes;    // SOPClassesInStudy, when the PACS says
};

// One instance of a study, as an IMAGE-level C-FIND names it.
struct InstanceMatch {
  std::string series_uid, sop_uid, sop_class;
  std::string transfer_syntax;  // AvailableTransferSyntaxUID (0008,3002): as stored, when the PACS says
};

// The storage presentation contexts a C-GET association proposes: each SOP class with the
// transfer syntaxes its instances may come in, one context per (class, syntax), so that the PACS
// can send each instance as it stores it instead of transcoding it into a syntax we accepted.
struct StorageContexts {
  std::vector<std::pair<std::string, std::vector<std::string>>> classes;
  std::size_t count() const;
};

// One C-GET association's worth of a study: what it proposes and, when the study needs more than
// one association, the instances it asks for (SeriesInstanceUID -> SOP Instance UIDs).
struct RetrievePart {
  StorageContexts contexts;
  std::map<std::string, std::vector<std::string>> instances;  // empty: the whole study, in one C-GET
};

// Presentation contexts left for storage classes in one association (128 minus the 3 query models).
inline constexpr std::size_t kStorageContexts = 128 - 3;

// Every transfer syntax DCMTK 3.6 knows and can so receive and parse byte-exact (it stores bytes;
// it need not decode pixels).
const std::vector<std::string>& known_transfer_syntaxes();

// How to retrieve a study without letting the PACS transcode: each SOP class with the syntaxes the
// PACS reports holding its instances in (plus both little endian ones), or with every syntax DCMTK
// knows when it does not report them; split into several associations (each asking for its
// instances at IMAGE level) when the study's classes need more than kStorageContexts. Without an
// IMAGE-level answer naming every instance's class, the study's SOPClassesInStudy share one
// association (as many syntaxes each as fit), or, without those either, a default set of classes.
std::vector<RetrievePart> plan_get(const StudyMatch& study, const std::vector<InstanceMatch>& instances);

struct RetrieveResult {
  std::uint16_t status = 0;  // final C-GET / C-MOVE status
  std::uint32_t completed = 0, failed = 0, warning = 0;
  // Adds another retrieve of the same study: counts summed, the first status other than success kept.
  void add(const RetrieveResult& other) {
    completed += other.completed;
    failed += other.failed;
    warning += other.warning;
    if (status == 0) status = other.status;
  }
};

class QrAssociation {
 public:
  // Connects and negotiates; throws sennen::Error naming the peer when it cannot. For C-GET, the
  // storage contexts its sub-operations may use (a RetrievePart's) are proposed as well.
  explicit QrAssociation(const PeerOptions& peer, const StorageContexts& storage = {});
  ~QrAssociation();  // releases the association, or aborts it once it is no longer usable
  QrAssociation(const QrAssociation&) = delete;
  QrAssociation& operator=(const QrAssociation&) = delete;

  // False once an exchange failed midway (a DIMSE timeout, a broken connection, an answer to
  // another request): the PACS may still be answering the request given up on, and that answer
  // must not be taken for the next one's. Every later call throws; open another association.
  bool usable() const;

  // StudyDate range "YYYYMMDD-" or "YYYYMMDD-YYYYMMDD"; one match per StudyInstanceUID, in the
  // order the PACS first named them. Throws sennen::Error on failure.
  // With `study_uid`: that one study, whatever its date (empty range), or none.
  std::vector<StudyMatch> find_studies(std::string_view study_date_range, std::string_view study_uid = {});
  // IMAGE-level C-FIND of one study's instances; empty when the PACS does not answer at that level.
  std::vector<InstanceMatch> find_instances(std::string_view study_uid);
  // C-GET of a study, or of some of its instances (one C-GET per series); each C-STORE
  // sub-operation goes through `handler`. Throws on a broken association.
  RetrieveResult get_study(std::string_view study_uid, StoreHandler& handler);
  RetrieveResult get_instances(std::string_view study_uid,
                               const std::map<std::string, std::vector<std::string>>& instances, StoreHandler& handler);
  // C-MOVE of a study to `destination_ae`: the PACS opens its own association to that AE (our
  // StoreScp on the move port) for the instances. Returns after the final response, once every
  // sub-operation was answered. Throws on a broken association.
  RetrieveResult move_study(std::string_view study_uid, std::string_view destination_ae);

 private:
  RetrieveResult retrieve(std::string_view study_uid, StoreHandler* handler, std::string_view move_destination,
                          std::string_view series_uid = {}, const std::vector<std::string>* sops = nullptr);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sennen::dicom
