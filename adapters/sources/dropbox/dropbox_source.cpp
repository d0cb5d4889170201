#include "adapters/sources/dropbox/dropbox_source.hpp"

#include <algorithm>
#include <fstream>

#include "adapters/sources/dirpoll/walker.hpp"
#include "adapters/sources/dropbox/checkup.hpp"
#include "adapters/sources/dropbox/dpc.hpp"
#include "adapters/sources/dropbox/uke.hpp"
#include "adapters/sources/dropbox/uke_filter.hpp"
#include "adapters/sources/dropbox/zip.hpp"
#include "daemon/core/patient_id.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/name_text.hpp"
#include "daemon/util/sha256.hpp"

namespace sennen::dropbox {
namespace fs = std::filesystem;
namespace {

std::string head_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return head;
}

// A name in the rejected folder not yet taken: `name`, else `name.2`, `name.3`, ... (the same
// file name is dropped again every month).
fs::path free_name(const fs::path& dir, const std::string& name) {
  fs::path p = dir / name;
  for (int i = 2; fs::exists(p); ++i) p = dir / (name + "." + std::to_string(i));
  return p;
}

// What staff read: UTF-8 with a BOM and CRLF, so Windows Notepad shows the Japanese as written.
std::string notepad_text(const std::string& text) {
  std::string out = "\xEF\xBB\xBF";
  for (char c : text) out += c == '\n' ? std::string("\r\n") : std::string(1, c);
  return out;
}

// A CDA R2 document (ClinicalDocument in the HL7 v3 namespace), which the national 特定健診
// archives are made of, within the first bytes.
bool looks_like_checkup(std::string_view head) {
  return head.find("<ClinicalDocument") != std::string_view::npos &&
         head.find("urn:hl7-org:v3") != std::string_view::npos;
}

class DropboxSource final : public Source {
 public:
  explicit DropboxSource(DropboxOptions o) : o_(std::move(o)) {}
  const std::string& name() const override { return o_.name; }

  void poll(SourceContext& ctx) override {
    ctx.stats = SourceStats{};
    const auto entries = dirpoll::list_directory(o_.root);
    const auto known = ctx.state.units("");
    for (const auto& e : entries) {
      if (ctx.stop_requested) break;
      if (e.type == dirpoll::Entry::Type::dir) continue;  // rejected/, processed/ and staff's own folders
      if (e.skipped()) {
        ++ctx.stats.skipped;
        continue;
      }
      examine(e, find(known, e.name), ctx);
    }
    // Files gone from the folder (moved away by staff, or by us) are forgotten.
    for (const auto& k : known) {
      bool present = false;
      for (const auto& e : entries) present = present || e.name == k.name;
      if (!present) ctx.state.erase_unit("", k.name);
    }
    ctx.stats.files_seen = ctx.state.unit_count();
    report_months(o_.months, ctx.clock.now(), ctx.state, ctx.stats);
    ctx.sink.checkpoint();
  }

  // Records are stored whole when they are found (never held: the sealer asks the gate for each
  // patient inside), so the spool never needs to find them here again.
  std::optional<std::vector<ContentPart>> locate(std::string_view, std::string_view) const override {
    return std::nullopt;
  }

 private:
  static const UnitState* find(const std::vector<UnitState>& known, const std::string& name) {
    for (const auto& u : known)
      if (u.name == name) return &u;
    return nullptr;
  }

  void examine(const dirpoll::Entry& e, const UnitState* prev, SourceContext& ctx) {
    UnitState now{e.name, e.size, e.mtime_ns, e.ctime_ns, kWaiting};
    const bool unchanged = prev && prev->size == e.size && prev->mtime_ns == e.mtime_ns;
    if (unchanged && (prev->status == validated() || prev->status == kReceipted)) return;
    if (unchanged && prev->status == kHandedOver) {  // committed with the record: staff may see it now
      if (read_only()) {
        write_receipt(e.name,
                      "【受け付けました】" + e.name +
                          "\n送信の対象として受け付けました。送信を止めている患者の分は送られません。\n\n[TAKEN IN] " +
                          e.name +
                          "\nThe file was taken in to be sent; the parts of patients whose data "
                          "may not leave are never sent.\n");
        now.status = kReceipted;
        ctx.state.put_unit("", now);
      } else {
        move_to(kProcessedFolder, e.name);
        ctx.state.erase_unit("", e.name);
      }
      return;
    }
    // Stable: seen with the same size and mtime by the previous poll, and untouched for stable_after.
    if (!unchanged || !dirpoll::is_stable(e, ctx.clock.now(), o_.stable_after)) {
      ++ctx.stats.waiting;
      ctx.state.put_unit("", now);
      return;
    }
    const fs::path file = o_.root / e.name;
    std::optional<Rejection> rejection;
    std::optional<RecordDraft> valid;  // what goes to the spool, once the file was found valid
    std::string what;
    try {
      const std::string head = head_of(file);
      if (looks_like_uke(head)) {
        auto scan = scan_uke(file, o_.site_facility);
        rejection = scan.rejection;
        if (!rejection) {
          valid = RecordDraft{};
          valid->key = uke_key(scan.facts, e.name);
          valid->patient_id = std::string(1, kMultiPatient) + "uke";
          valid->kind = "UKE";
          valid->attributes = {{"facility", scan.facts.facility},
                               {"billing_month", scan.facts.billing_month},
                               {"claims", std::to_string(scan.facts.claims)}};
          // The claims of a care month are billed the month after (ASSUMPTION, as in the public
          // sample: IR 請求年月 202111, RE 診療年月 202110).
          note_arrived(ctx.state, uke_dpc_claims(scan.facts, e.name) ? "uke-dpc" : "uke-medical",
                       add_months(scan.facts.billing_month, -1));
          what = "UKE of facility " + scan.facts.facility + ", billing month " + scan.facts.billing_month + ", " +
                 std::to_string(scan.facts.claims) + " claims";
        }
      } else if (looks_like_zip(e.name, head) && read_only()) {
        rejection = Rejection{0,
                              "",
                              "このフォルダは読み取り専用の設定のため、ZIPファイルを展開できません。",
                              "the drop folder is configured read-only (read_only), so a zip file cannot be "
                              "unpacked into it.",
                              "ZIPファイルの中のファイルを直接置いてください。",
                              "Put the files in the zip into the folder directly."};
      } else if (looks_like_zip(e.name, head)) {
        auto u = unpack_zip(file, o_.root, o_.zip);
        rejection = u.rejection;
        if (!rejection) {
          log::notice("source " + name() + ": unpacked " + std::to_string(u.files.size()) + " file(s) of " +
                      util::display_name(e.name) + " into the drop folder; each is taken once it is stable");
          move_to(kProcessedFolder, e.name);
          ctx.state.erase_unit("", e.name);
          return;
        }
      } else if (looks_like_checkup(head) && o_.checkup_id_root.empty()) {
        // Recognised, not sent: which of a document's IDs is the hospital's is the site's to say
        // (checkup_patient_id_root, see config/sennen-edge.yaml).
        not_sent(e.name, "a health-checkup XML/CDA document",
                 "which of its IDs is this hospital's patient ID is not configured (checkup_patient_id_root)");
      } else if (looks_like_checkup(head)) {
        const auto doc = cda_patient_ids(file);
        std::optional<std::string> patient;
        for (const auto& id : doc.ids)
          if (!patient && id.root == o_.checkup_id_root) patient = canonical_patient_id(id.extension);
        if (!doc.error.empty()) {
          rejection = Rejection{0,
                                "",
                                "XMLとして読めません（" + doc.error + "）。",
                                "the health-checkup document is not well-formed XML: " + doc.error + ".",
                                "健診データを出力し直して置いてください。",
                                "Put a document exported again in the folder."};
        } else if (!patient) {
          not_sent(e.name, "a health-checkup document",
                   "it has no patient ID under root " + o_.checkup_id_root +
                       " (recordTarget/patientRole/id), so its patient cannot be checked against the stop list");
        } else {
          valid = RecordDraft{};
          valid->key = "checkup/" + e.name;
          valid->patient_id = *patient;
          valid->kind = "CDA-checkup";
          what = "a health-checkup document";
        }
      } else if (looks_like_dpc(e.name, head)) {
        auto scan = scan_dpc(file, e.name, dpc_facility_of_site(o_.site_facility));
        rejection = scan.rejection;
        if (!rejection && !scan.facts.month.empty()) note_arrived(ctx.state, "dpc", scan.facts.month);
        if (!rejection && o_.dpc_filter.empty()) {
          not_sent(e.name,
                   "a valid DPC " + scan.facts.kind + " file of facility " + scan.facts.facility + " (" +
                       std::to_string(scan.facts.rows) + " rows)",
                   "without dpc_id_map its rows cannot be attributed to patients, and the file holds every "
                   "patient of the month");
        } else if (!rejection && std::find(o_.dpc_send_kinds.begin(), o_.dpc_send_kinds.end(), scan.facts.kind) ==
                                     o_.dpc_send_kinds.end()) {
          not_sent(e.name,
                   "a valid DPC " +
                       (scan.facts.kind == "dpc" ? "file (its name says no kind)" : scan.facts.kind + " file") +
                       " of facility " + scan.facts.facility + " (" + std::to_string(scan.facts.rows) + " rows)",
                   scan.facts.kind == "dpc"
                       ? "only files named <kind>_<施設コード>_<month> are sent, a kind listed in dpc_send_kinds"
                       : "no public description says its rows carry データ識別番号 in the second column, which is what "
                         "attributes a row to a patient; once the site has checked that they do, add " +
                             scan.facts.kind + " to dpc_send_kinds");
        } else if (!rejection) {
          valid = RecordDraft{};
          valid->key = "dpc/" + scan.facts.kind + "/" + scan.facts.facility + "/" + e.name;
          valid->patient_id = std::string(1, kMultiPatient) + o_.dpc_filter;
          valid->kind = "DPC-" + scan.facts.kind;
          valid->attributes = {{"facility", scan.facts.facility}, {"rows", std::to_string(scan.facts.rows)}};
          what = "DPC " + scan.facts.kind + " of facility " + scan.facts.facility + ", " +
                 std::to_string(scan.facts.rows) + " rows";
        }
      } else {
        rejection = Rejection{0,
                              "",
                              "ファイルの種類が分かりません（レセ電UKEでもDPC調査データでもありません）。",
                              "the file is not recognised: it is neither a UKE claim file (starting with \"IR,\") "
                              "nor a DPC survey file (tab-separated rows starting with the 9-digit 施設コード).",
                              "送信するファイルを確認してください。このフォルダにはレセ電・DPCファイルを置きます。",
                              "Check which file was meant to be sent; this folder takes UKE claim and DPC survey "
                              "files."};
      }
    } catch (const std::exception& err) {  // sennen::Error, or std::filesystem's while unpacking a zip
      ctx.stats.add_unreadable(file);
      log::warning("source " + name() + ": cannot read " + util::display_name(e.name) + ": " + err.what() +
                   "; tried again next poll");
      now.status = dirpoll::kUnreadable;
      ctx.state.put_unit("", now);
      return;
    }
    if (valid) {
      // A file that changed or went unreadable since it was checked is looked at again next
      // poll; any other error is the pipeline's and ends the poll.
      try {
        hand_over(e, file, std::move(*valid), what, ctx);
      } catch (const SourceFileError& err) {
        log::warning("source " + name() + ": " + util::display_name(e.name) + " could not be taken in (" + err.what() +
                     "); tried again next poll");
        ctx.state.put_unit("", now);
      }
      return;
    }
    if (!rejection) {
      now.status = validated();
      ctx.state.put_unit("", now);
      return;
    }
    if (!reject(file, e.name, *rejection, ctx, prev && prev->status == kNotMoved)) {
      now.status = kNotMoved;  // looked at again next poll; the rest of the folder goes on
      ctx.state.put_unit("", now);
      return;
    }
    if (read_only()) {
      now.status = kReceipted;
      ctx.state.put_unit("", now);
    } else {
      ctx.state.erase_unit("", e.name);
    }
  }

  bool read_only() const { return !o_.receipts.empty(); }

  // The state of a valid file left in place, with the settings that kept it from being sent: one
  // kept under other settings (dpc_id_map, dpc_send_kinds, checkup_patient_id_root changed since)
  // is looked at again.
  std::string validated() const {
    std::string settings = o_.dpc_filter + "|" + o_.checkup_id_root + "|";
    for (const auto& k : o_.dpc_send_kinds) settings += k + ",";
    return std::string(kValidated) + " " + util::sha256_hex(settings).substr(0, 16);
  }

  // read_only: the outcome of a file, beside the other receipts.
  void write_receipt(const std::string& name, const std::string& text) const {
    std::error_code ec;
    fs::create_directories(o_.receipts, ec);
    util::AtomicFile receipt(o_.receipts / (name + ".receipt.txt"), 0644);
    receipt.write(notepad_text(text));
    receipt.commit();
  }

  // A valid claim file goes to the spool whole, as one record of many patients ("*uke"): the
  // sealer removes the claims of every patient the gate withholds when it seals it. Content
  // already handed over (the same file dropped again) is not sent again. The file moves to
  // processed/ on the next poll, once the record is committed with this poll's state (a crash in
  // between leaves it in place, to be read again).
  void hand_over(const dirpoll::Entry& e, const fs::path& file, RecordDraft d, const std::string& what,
                 SourceContext& ctx) {
    std::string sha;
    try {
      sha = util::sha256_file_hex(file);
    } catch (const Error& err) {  // it was read a moment ago: gone or changed meanwhile
      throw SourceFileError(SourceFileError::Kind::changed, file, err.what());
    }
    const auto sent = ctx.state.units(kSentKey);
    if (find(sent, sha)) {
      log::notice("source " + name() + ": " + util::display_name(e.name) +
                  " has the same content as a file sent before; not sent again");
    } else {
      d.source = name();
      d.version = sha;
      d.path = e.name;
      d.parts.push_back({"", file, e.size, nullptr});
      // A corrected file for the same kind, facility and month replaces the one sent before.
      const auto current = ctx.state.units(kCurrentKey);
      if (const UnitState* before = find(current, d.key)) d.attributes.emplace_back("supersedes", before->status);
      ctx.sink.record(d);
      ctx.state.put_unit(kSentKey, {sha, e.size, e.mtime_ns, e.ctime_ns, kHandedOver});
      ctx.state.put_unit(kCurrentKey, {d.key, e.size, e.mtime_ns, e.ctime_ns, sha});
      ++ctx.stats.ingested;
      ctx.stats.bytes += e.size;
      log::info("source " + name() + ": " + util::display_name(e.name) + " (" + what +
                ") is in the spool; each patient's part leaves only if the patient may");
    }
    ctx.state.put_unit("", {e.name, e.size, e.mtime_ns, e.ctime_ns, kHandedOver});
  }

  void move_to(const char* folder, const std::string& file_name) const {
    const fs::path dir = o_.root / folder;
    std::error_code ec;
    fs::create_directories(dir, ec);
    fs::rename(o_.root / file_name, free_name(dir, file_name), ec);
    if (ec)
      log::warning("source " + name() + ": cannot move " + util::display_name(file_name) + " into " +
                   util::display_name(dir.string()) + ": " + ec.message() +
                   "; let the service user write into the drop folder");
  }

  // Valid, and kept where it is: see dropbox_source.hpp.
  void not_sent(const std::string& file_name, const std::string& what, const std::string& why) const {
    log::notice("source " + name() + ": " + util::display_name(file_name) + " is " + what + "; it is not sent: " + why +
                ". It stays in the folder.");
  }

  // Moves a rejected file into rejected/ with its reason beside it (read_only: writes its
  // receipt). False when that cannot be done (the folder not writable, a name too long for the
  // reason file beside it): the file stays, counted as unreadable, and is tried again next poll;
  // logged once (`told`: it was before).
  bool reject(const fs::path& file, const std::string& name, const Rejection& r, SourceContext& ctx, bool told) {
    try {
      set_aside(file, name, r, ctx);
      return true;
    } catch (const std::exception& err) {
      ctx.stats.add_unreadable(file);
      if (!told)
        log::warning("source " + o_.name + ": " + util::display_name(name) + " is rejected (" + r.what_en +
                     "), but it cannot be set aside with its reason: " + err.what() +
                     "; it stays in the folder and is tried again every poll. Move it out by hand if its name is "
                     "too long");
      return false;
    }
  }

  void set_aside(const fs::path& file, const std::string& name, const Rejection& r, SourceContext& ctx) {
    if (read_only()) {
      write_receipt(name, reason_text(name, r));
      ++ctx.stats.quarantined;
      log::warning("source " + o_.name + ": rejected " + util::display_name(name) + ": " + r.what_en +
                   (r.line ? " [line " + std::to_string(r.line) + "]" : "") + "; it stays in the read-only folder, " +
                   "its reason is in " + util::display_name((o_.receipts / (name + ".receipt.txt")).string()));
      return;
    }
    const fs::path dir = o_.root / kRejectedFolder;
    std::error_code ec;
    fs::create_directories(dir, ec);
    const fs::path target = free_name(dir, name);
    // The reason first: staff who find the file in rejected/ find why beside it.
    util::AtomicFile why(fs::path(target) += ".reason.txt", 0644);
    why.write(notepad_text(reason_text(name, r)));
    why.commit();
    fs::rename(file, target, ec);
    if (ec)
      throw Error("source " + o_.name + ": cannot move " + util::display_name(file.string()) + " into " +
                  util::display_name(dir.string()) + ": " + ec.message() +
                  "; let the service user write into the drop folder");
    ++ctx.stats.quarantined;
    log::warning("source " + o_.name + ": rejected " + util::display_name(name) + ": " + r.what_en +
                 (r.line ? " [line " + std::to_string(r.line) + "]" : "") + "; moved to " +
                 util::display_name(target.string()) + " with its reason");
  }

  DropboxOptions o_;
};

}  // namespace

std::unique_ptr<Source> make_dropbox_source(DropboxOptions options) {
  return std::make_unique<DropboxSource>(std::move(options));
}

}  // namespace sennen::dropbox
