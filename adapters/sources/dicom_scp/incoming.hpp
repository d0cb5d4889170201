#pragma once
// The poll() side shared by the DICOM sources (dicom-scp and dicom-qr): instances that a Receiver
// made durable in incoming/ are handed to the IngestSink, then moved into store/ once committed,
// and refused data sets in rejected/ are quarantined. See incoming.cpp for the kill -9 reasoning.
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/sources/dicom_common/instance.hpp"
#include "adapters/sources/dicom_scp/receiver.hpp"
#include "daemon/core/source.hpp"

namespace sennen::dicom {

class IncomingFolder {
 public:
  // Called for each instance handed to the sink (in the same transaction as its record).
  using OnIngested = std::function<void(const Instance&, const std::string& hash)>;

  IncomingFolder(std::string source_name, Folders folders, PatientIdMapping mapping);
  void quarantine_rejected(SourceContext& ctx);
  // First in each poll, before take(): files whose hand-over is committed move into store/.
  void settle(SourceContext& ctx);
  // Hands over the files in incoming/ not handed over yet (earlier in this poll included). An
  // instance whose SOP UID and hash are already in store/ is dropped, not handed over again: a
  // re-retrieved study brings back what we hold, and a modality whose success answer was lost (a
  // kill, a broken connection) sends the same instance again.
  void take(SourceContext& ctx, const OnIngested& on_ingested = {});
  std::optional<std::vector<ContentPart>> locate(std::string_view path, std::string_view version) const;
  // True when store/ holds a committed version of the instance (any hash).
  bool holds(const std::string& study, const std::string& series, const std::string& sop) const;

 private:
  std::vector<std::string> list_incoming() const;  // the .dcm files, sorted
  bool ingest(SourceContext& ctx, const std::filesystem::path& file, const std::string& n, const struct stat& st,
              const OnIngested& on_ingested);
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
};

}  // namespace sennen::dicom
