// type: dropbox: the keys of the monthly drop folder (config/sennen-edge.yaml documents each).
#include "adapters/sources/dropbox/dpc.hpp"
#include "adapters/sources/dropbox/dpc_filter.hpp"
#include "adapters/sources/dropbox/dropbox_source.hpp"
#include "adapters/sources/dropbox/uke_filter.hpp"
#include "daemon/config/reader.hpp"
#include "daemon/util/error.hpp"

namespace sennen::dropbox {
namespace {

struct Keys final : config::SourceOptions {
  std::filesystem::path root;
  std::chrono::seconds stable_after{60};
  std::vector<std::string> expect;
  std::optional<std::filesystem::path> dpc_id_map;
  int deadline_day = 25;
  ZipLimits zip;
  std::filesystem::path receipts;  // read_only
  std::string checkup_id_root;
  std::vector<std::string> dpc_send_kinds = DropboxOptions{}.dpc_send_kinds;
  std::vector<std::filesystem::path> folders() const override { return {root}; }
};

// The kinds a site can owe every month (expect:), which drive the month bookkeeping (months.hpp).
const std::vector<std::string_view> kKinds = {"uke-medical", "uke-dpc", "dpc"};
// The DPC kinds a file name can give (dpc.hpp), for dpc_send_kinds.
const std::vector<std::string_view> kDpcKinds = {"FF1", "FF4", "EFn", "EFg", "Dn", "D", "H", "K"};

std::shared_ptr<const config::SourceOptions> read(const config::Section& s) {
  auto o = std::make_shared<Keys>();
  if (auto r = s.required("root", "root: /srv/sennen-drop (the folder staff put the monthly files into)"))
    if (auto f = r->folder("a folder path")) o->root = *f;
  if (auto d = s.optional("stable_after"))
    if (auto secs = d->duration(true)) o->stable_after = *secs;
  if (auto e = s.optional("expect"))
    for (const auto& item : e->items("kind"))
      if (auto k = item.choice(kKinds, "a kind of file the site sends every month")) o->expect.push_back(*k);
  if (auto d = s.optional("deadline_day"))
    if (auto n = d->integer(1, 28)) o->deadline_day = static_cast<int>(*n);
  // Limits against zip bombs (zip.hpp); the defaults are ZipLimits'.
  if (auto n = s.optional("zip_max_files"))
    if (auto v = n->integer(1, 1'000'000)) o->zip.max_files = static_cast<std::uint64_t>(*v);
  if (auto n = s.optional("zip_max_bytes"))
    if (auto v = n->size()) {
      if (*v == 0)
        n->problem("zip_max_bytes must be more than 0 (a size such as 4GiB): with 0 no zip file could be unpacked");
      else
        o->zip.max_bytes = *v;
    }
  if (auto n = s.optional("zip_max_ratio"))
    if (auto v = n->integer(0, 100'000)) o->zip.max_ratio = static_cast<std::uint64_t>(*v);
  // A drop folder the service may only read: receipts go to a folder of their own.
  bool read_only = false;
  if (auto b = s.optional("read_only"))
    if (auto v = b->boolean()) read_only = *v;
  if (auto r = s.optional("receipts")) {
    if (!read_only)
      r->problem(
          "receipts is used with read_only: true only (otherwise files move to processed/ and rejected/ below "
          "root); remove it or set read_only: true");
    else if (auto f = r->folder("a folder the service user can write, which staff can read"))
      o->receipts = *f;
  } else if (read_only) {
    s.required("receipts", "receipts: /srv/sennen-receipts (with read_only: true, where each file's receipt goes)");
  }
  if (auto c = s.optional("checkup_patient_id_root"))
    if (auto t = c->text("the OID under which health-checkup documents carry this hospital's patient ID"))
      o->checkup_id_root = *t;
  if (auto m = s.optional("dpc_id_map"))
    if (auto f = m->file("the CSV file mapping データ識別番号 to patient ID")) o->dpc_id_map = *f;
  if (auto k = s.optional("dpc_send_kinds")) {
    o->dpc_send_kinds.clear();
    for (const auto& item : k->items("kind"))
      if (auto c = item.choice(kDpcKinds, "a DPC file kind whose rows carry データ識別番号 second"))
        o->dpc_send_kinds.push_back(*c);
  }
  return o;
}

std::unique_ptr<Source> build(const config::Source& source, const config::Config& config) {
  const auto& k = source.options_as<Keys>();
  // Files are checked against the facility's codes, which come from site.id.
  if (dpc_facility_of_site(config.site.id).empty())
    throw Error("source " + source.name + " (type: dropbox) checks every file's facility code against site.id, " +
                "which must then be this hospital's 10-digit code (都道府県 2 + 点数表 1 + 医療機関コード 7), e.g. " +
                "id: \"1312345678\"; it is \"" + config.site.id + "\"");
  return make_dropbox_source({source.name,
                              k.root,
                              k.stable_after,
                              config.site.id,
                              k.dpc_id_map ? "dpc:" + source.name : "",
                              {k.expect, k.deadline_day, config.site.utc_offset_minutes},
                              k.zip,
                              k.receipts,
                              k.checkup_id_root,
                              k.dpc_send_kinds});
}

// Claim files of every dropbox source share one filter; each source's DPC files are read through
// its own dpc_id_map.
void add_filters(const config::Source& source, const config::Config&, ContentFilters& filters) {
  filters.emplace("uke", filter_uke);
  const auto& map = source.options_as<Keys>().dpc_id_map;
  if (!map) return;
  // The map is read again for every file filtered: the hospital keeps it up to date.
  filters.emplace("dpc:" + source.name,
                  [file = *map](const ContentReader& in, const PatientGate& decide, const ContentWriter& write) {
                    std::map<std::string, std::string> ids;
                    try {
                      ids = read_dpc_id_map(file);
                    } catch (const Error& e) {
                      throw FilterUnavailable("dpc_id_map " + file.string() + " cannot be read (" + e.what() +
                                              "); DPC files wait in the spool until it can");
                    }
                    return filter_dpc(ids, in, decide, write);
                  });
}

}  // namespace

const adapters::SourceKind& dropbox_kind() {
  static const adapters::SourceKind kind{
      {"dropbox",
       "monthly drop folder (UKE claims) 提出フォルダ",
       {"root", "stable_after", "expect", "deadline_day", "dpc_id_map", "dpc_send_kinds", "zip_max_files",
        "zip_max_bytes", "zip_max_ratio", "read_only", "receipts", "checkup_patient_id_root"},
       read},
      build,
      {},
      add_filters,
      /*check=*/nullptr};
  return kind;
}

}  // namespace sennen::dropbox
