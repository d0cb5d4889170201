#pragma once
// The poll() side shared by the DICOM sources (dicom-scp and dicom-qr): instances that a Receiver
// made durable in incoming/ are handed to the IngestSink, then moved into store/ once committed,
// and refused data sets in rejected/ are quarantined. See incoming.cpp for the kill -9 reasoning.
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/sources/dicom_common/instance.hpp"
#include "adapters/sources/dicom_common/receiver.hpp"
#include "daemon/core/source.hpp"

namespace sennen::dicom {

class IncomingFolder {
 public:
  // Called for each instance handed to the sink (in the same transaction as its record).
  using OnIngested = std::function<void(const Instance&, const std::string& hash)>;
  // Called before an instance's record is made: manifest attributes of the source's own to add.
  using Annotate = std::function<void(const Instance&, std::vector<std::pair<std::string, std::string>>& attributes)>;

  // taken_dir: the SourceState folder prefix of the record of what was taken into the spool, one
  // unit per SOP Instance UID (status: the hash of the version last taken) in "<taken_dir><Study>",
  // written in the same transaction as the instance's record.
  IncomingFolder(std::string source_name, Folders folders, PatientIdMapping mapping, std::string taken_dir);
  // Asked for each refused data set named by its SOP Instance UID, with the hash of its file:
  // true when the same refusal was quarantined before (the file is then dropped, not quarantined).
  using SeenBefore = std::function<bool(const std::string& sop, const std::string& hash)>;
  void quarantine_rejected(SourceContext& ctx, const SeenBefore& seen_before = {});
  // First in each poll, before take(): files whose hand-over is committed move into store/.
  void settle(SourceContext& ctx);
  // Hands over the files in incoming/ not handed over yet (earlier in this poll included). An
  // instance with the same bytes as the version of its SOP Instance UID last taken (the taken
  // record) is dropped, not handed over again, even after delivery when neither the spool nor
  // store/ holds it any more: a modality whose success answer was lost (a kill, a timeout on its
  // side) sends it again, and a study retrieved again brings back what was taken. Other bytes are
  // a new version.
  void take(SourceContext& ctx, const OnIngested& on_ingested = {}, const Annotate& annotate = {});
  std::optional<std::vector<ContentPart>> locate(std::string_view path, std::string_view version) const;
  // True when store/ holds a committed version of the instance (any hash).
  bool holds(const std::string& study, const std::string& series, const std::string& sop) const;

 private:
  std::vector<std::string> list_incoming() const;  // the .dcm files, sorted
  bool ingest(SourceContext& ctx, const std::filesystem::path& file, const std::string& n, const struct stat& st,
              const OnIngested& on_ingested, const Annotate& annotate);
  // Renames into store/ and notes the directories whose entries changed (the new folders' parents
  // included) in `touched`, which settle() fsyncs once each before the spool commit that says so.
  void move_to_store(const std::filesystem::path& file, const std::string& store_rel,
                     std::set<std::filesystem::path>& touched);
  // A move a crash interrupted (the file is in store/ but the erase of its state was not
  // committed): every folder it may have touched, as far as they exist.
  void note_interrupted_move(const std::string& store_rel, std::set<std::filesystem::path>& touched) const;

  std::string name_;
  Folders folders_;
  PatientIdMapping mapping_;
  std::string taken_dir_;
  // take()'s view of the taken record: Study -> SOP Instance UID -> hash, read once per study.
  std::map<std::string, std::map<std::string, std::string>> taken_;
  std::uint64_t dropped_ = 0;  // identical re-sends dropped by the current take()
};

}  // namespace sennen::dicom
