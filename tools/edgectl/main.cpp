// sennen-edgectl: the operator's command line for sennen-edge. See `sennen-edgectl --help`.
#include <CLI/CLI.hpp>

#include <iostream>

#include "adapters/destinations/https/https_destination.hpp"
#include "adapters/sources/ssmix2_common/vendor_profile.hpp"
#include "sennen/version.hpp"
#include "tools/edgectl/commands.hpp"
#include "tools/edgectl/common.hpp"

namespace {
void add_common(CLI::App* cmd, sennen::edgectl::Common& c, bool with_json) {
  cmd->add_option("--config", c.config, "configuration file")->capture_default_str();
  if (with_json) cmd->add_flag("--json", c.json, "print JSON instead of text");
}
}  // namespace

int main(int argc, char** argv) {
  using namespace sennen::edgectl;
  // libcurl's process-wide setup (doctor's reachability, flush), before anything else runs.
  sennen::destinations::HttpsGlobalInit curl_global;
  CLI::App app{"sennen-edgectl: status, checks and audits for sennen-edge (reads the spool read-only)"};
  app.set_version_flag("--version", std::string("sennen-edgectl ") + sennen::kVersion);
  app.require_subcommand(1);
  Common c;
  int rc = 0;

  auto* st = app.add_subcommand("status", "sources, gate, spool, outbox, last batch, quarantine, heartbeat");
  add_common(st, c, true);
  st->callback([&] { rc = status(c); });

  std::string user = kServiceUser;
  auto* doc = app.add_subcommand("doctor", "check the installation; exit status 1 if any check fails");
  add_common(doc, c, true);
  doc->add_option("--service-user", user, "user the service runs as (access is checked as it when run as root)")
      ->capture_default_str();
  doc->callback([&] { rc = doctor(c, user); });

  auto* opt = app.add_subcommand("optout", "stop-list (提供停止) files");
  opt->require_subcommand(1);
  std::filesystem::path stop_file;
  bool opt_json = false, opt_ids = false;
  auto* chk =
      opt->add_subcommand("check", "show what would be read from a stop-list file; exit 1 if a line is unreadable");
  chk->add_option("FILE", stop_file,
                  "the stop-list file (CSV or one ID per line; UTF-8, UTF-16 or CP932); default: the configured one "
                  "(optout.stop_list)");
  auto* chk_config =
      chk->add_option("--config", c.config, "configuration file (whose stop list is checked without FILE)")
          ->capture_default_str();
  chk->add_flag("--json", opt_json, "print JSON instead of text");
  chk->add_flag("--show-ids", opt_ids, "also list the patient IDs that would be withheld (canonical form)");
  chk->callback([&] {
    c.json = opt_json;
    if (stop_file.empty())
      rc = optout_list(c, opt_ids);
    else if (chk_config->count() && !load_config(c.config))  // given, so not ignored: it must load
      rc = 2;
    else
      rc = optout_check(stop_file, opt_json, opt_ids);
  });
  auto* lst = opt->add_subcommand("list", "the configured stop list (optout.stop_list): counts, unreadable lines");
  add_common(lst, c, true);
  lst->add_flag("--show-ids", opt_ids, "also list the patient IDs withheld (canonical form)");
  lst->callback([&] { rc = optout_list(c, opt_ids); });
  bool force = false;
  auto* imp = opt->add_subcommand("import", "check FILE, then install it atomically as optout.stop_list");
  add_common(imp, c, false);
  imp->add_option("FILE", stop_file, "the new stop-list file from the staff")->required()->check(CLI::ExistingFile);
  imp->add_flag("--force", force, "install even with unreadable lines (sealing pauses unless allow_unreadable_lines)");
  imp->callback([&] { rc = optout_import(c, stop_file, force); });

  auto* pend = opt->add_subcommand("pending", "IDs that left the stop-list file and stay withheld until released");
  add_common(pend, c, true);
  pend->callback([&] { rc = optout_pending(c); });
  std::vector<std::string> release_ids;
  std::string release_reason;
  auto* rel = opt->add_subcommand("release", "confirm that IDs removed from the stop-list file may be sent again");
  add_common(rel, c, false);
  rel->add_option("ID", release_ids, "patient IDs (as written anywhere; canonicalised like the stop list)")->required();
  rel->add_option("--reason", release_reason, "why (kept with the release, e.g. the patient's form and its date)")
      ->required();
  rel->callback([&] { rc = optout_release(c, release_ids, release_reason); });
  auto* rels = opt->add_subcommand("releases", "the releases made: when, by whom, why");
  add_common(rels, c, true);
  rels->callback([&] { rc = optout_releases(c); });

  auto* q = app.add_subcommand("queue", "pending records by source, kind and state, with their oldest age");
  add_common(q, c, true);
  q->callback([&] { rc = queue(c); });

  auto* qa = app.add_subcommand("quarantine", "files the sources set aside");
  qa->require_subcommand(1);
  auto* ql = qa->add_subcommand("list", "source, path, reason, time and copy of every quarantined file");
  add_common(ql, c, true);
  ql->callback([&] { rc = quarantine_list(c); });
  std::int64_t qid = 0;
  bool content = false, all = false;
  auto* qs =
      qa->add_subcommand("show", "one entry: reason, source, path, size, when (no file content unless --content)");
  add_common(qs, c, true);
  qs->add_option("ID", qid, "the entry's number, from quarantine list")->required();
  qs->add_flag("--content", content, "print the quarantined copy itself (may hold patient data)");
  qs->callback([&] { rc = quarantine_show(c, qid, content); });
  auto* qr =
      qa->add_subcommand("retry", "have the next poll read a quarantined file again (safe while the daemon runs)");
  add_common(qr, c, true);
  auto* qr_id = qr->add_option("ID", qid, "the entry's number, from quarantine list");
  auto* qr_all = qr->add_flag("--all", all, "every entry");
  qr_id->excludes(qr_all);
  qr->callback([&] {
    if (!all && !qr_id->count()) throw CLI::RequiredError("ID or --all");
    rc = quarantine_retry(c, all ? std::nullopt : std::optional<std::int64_t>(qid));
  });

  auto* fl = app.add_subcommand("flush",
                                "seal and deliver now, outside the upload window (signals the daemon, "
                                "or delivers itself when none runs)");
  add_common(fl, c, false);
  fl->callback([&] { rc = flush(c); });

  std::string patient;
  auto* au = app.add_subcommand("audit", "what the spool still holds for one patient, and queued withdrawals");
  add_common(au, c, true);
  au->add_option("--patient", patient, "patient ID as written anywhere (canonicalised like the stop list)")->required();
  au->callback([&] { rc = audit(c, patient); });

  auto* ba = app.add_subcommand("batch", "batches this site sealed");
  ba->require_subcommand(1);
  std::int64_t seq = 0;
  auto* bs = ba->add_subcommand("show", "one batch by its sequence number: state, times and the records it held");
  add_common(bs, c, true);
  bs->add_option("--sequence", seq, "the manifest's sequence number (as sennen-restore names a gap)")->required();
  bs->callback([&] { rc = batch_show(c, seq); });
  auto* rs = app.add_subcommand("resend",
                                "send a delivered batch's records again from the export trees (a batch the "
                                "receiver lost): the next poll reads them again");
  add_common(rs, c, true);
  rs->add_option("--sequence", seq, "the lost batch's sequence number (as sennen-restore names a gap)")->required();
  rs->callback([&] { rc = resend(c, seq); });

  VerifyArgs v;
  auto* vb = app.add_subcommand("verify-batch", "central side: decrypt and verify a batch, list its manifest");
  vb->add_option("FILE", v.file, "the .cms batch file")->required()->check(CLI::ExistingFile);
  vb->add_option("--key", v.key, "recipient private key")->required()->check(CLI::ExistingFile);
  vb->add_option("--cert", v.cert, "recipient certificate")->required()->check(CLI::ExistingFile);
  vb->add_option("--ca", v.ca, "CA that issued the site's signing certificate")->required()->check(CLI::ExistingFile);
  vb->add_flag("--json", v.json, "print JSON instead of text");
  vb->callback([&] { rc = verify_batch(v); });

  DrillArgs d;
  auto* dr = app.add_subcommand("drill",
                                "restore drill on a synthetic hospital in a temporary folder: cycles of sennen-edged, "
                                "sennen-restore, file-for-file comparison; PASS or FAIL");
  dr->add_option("--work", d.work, "folder to make the temporary drill folder in (default: $TMPDIR or /tmp)")
      ->check(CLI::ExistingDirectory);
  dr->add_option("--patients", d.patients, "patients in the synthetic hospital")
      ->capture_default_str()
      ->check(CLI::Range(8, 100000));
  dr->add_flag("--keep", d.keep, "keep the temporary folder after a PASS too (a FAIL always keeps it)");
  dr->add_flag("--json", d.json, "print JSON instead of text");
  dr->callback([&] { rc = drill(d); });
  SurveyArgs sv;
  sv.vendor_profiles = sennen::ssmix2::kVendorProfilesDir;
  auto* su = app.add_subcommand("survey",
                                "read-only census of SS-MIX2 trees: layout, counts, flags, encodings, misplaced and "
                                "unparseable files, best vendor profile, a suggested sources: block");
  su->add_option("ROOT", sv.roots, "roots of the storage (each volume of it)")
      ->required()
      ->check(CLI::ExistingDirectory);
  su->add_flag("--json", sv.json, "print JSON instead of text (for the central team)");
  su->add_flag("--suggest-config", sv.suggest_config_only, "print only the suggested sources: block");
  su->add_option("--vendor-profiles", sv.vendor_profiles, "folder holding the vendor profiles (<vendor>.yaml)")
      ->capture_default_str();
  su->add_option("--examples", sv.examples, "example paths kept per finding")->capture_default_str();
  su->add_flag("--cross-filesystems", sv.cross_filesystems, "enter folders on other file systems below a root");
  su->callback([&] { rc = survey_tree(sv); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return rc;
}
