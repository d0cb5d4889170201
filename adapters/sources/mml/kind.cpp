// type: mml: the keys of an MML drop tree, read into Options (config/sennen-edge.yaml documents
// each).
#include "adapters/sources/mml/mml_source.hpp"
#include "daemon/config/reader.hpp"

namespace sennen::mml {
namespace {

struct Keys final : config::SourceOptions {
  Options o;
  std::chrono::seconds full_scan_interval{24 * 3600};
  std::vector<std::filesystem::path> folders() const override { return o.roots; }
  std::optional<std::chrono::seconds> full_scan_every() const override { return full_scan_interval; }
};

std::shared_ptr<const config::SourceOptions> read(const config::Section& s) {
  auto k = std::make_shared<Keys>();
  auto& o = k->o;
  if (auto root = s.required("root", "root: /srv/mml/drop (the folder MML instances are written to)"))
    if (auto roots = root->folders("a folder path, or a list of folder paths")) o.roots = *roots;
  if (auto d = s.optional("stable_after"))
    if (auto secs = d->duration(true)) o.stable_after = *secs;
  if (auto d = s.optional("full_scan_interval"))
    if (auto secs = d->duration(false)) k->full_scan_interval = *secs;
  if (auto m = s.optional("max_record_bytes"))
    if (auto n = m->size()) {
      if (*n == 0)
        m->problem("0 would quarantine every instance; write a size, e.g. 256MiB");
      else
        o.max_record_bytes = *n;
    }
  if (auto b = s.optional("allow_hard_links"))
    if (auto on = b->boolean()) o.allow_hard_links = *on;
  if (auto b = s.optional("cross_filesystems"))
    if (auto on = b->boolean()) o.cross_filesystems = *on;
  if (auto p = s.optional("deletion_purpose"))
    if (auto t = p->text("the docInfo/title@generationPurpose value that marks a deletion instance")) {
      if (t->empty())
        p->problem("an empty value would match instances without a title; remove the key if no instance deletes");
      else
        o.deletion_purpose = *t;
    }
  return k;
}

}  // namespace

const adapters::SourceKind& mml_kind() {
  static const adapters::SourceKind kind{{"mml",
                                          "MML instances (Medical Markup Language XML) dropped into a folder tree",
                                          {"root", "stable_after", "full_scan_interval", "max_record_bytes",
                                           "allow_hard_links", "cross_filesystems", "deletion_purpose"},
                                          read},
                                         [](const config::Source& source, const config::Config&) {
                                           Options o = source.options_as<Keys>().o;
                                           o.name = source.name;
                                           return make_mml_source(std::move(o));
                                         },
                                         /*probe=*/nullptr,
                                         /*filters=*/nullptr,
                                         /*check=*/nullptr};
  return kind;
}

}  // namespace sennen::mml
