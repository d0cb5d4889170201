#include "adapters/sources/ssmix2_common/tree_options.hpp"

#include "daemon/config/reader.hpp"

namespace sennen::ssmix2 {

const std::vector<std::string_view> kTreeKeys = {
    "vendor",           "root", "stable_after", "full_scan_interval", "max_record_bytes", "allow_hard_links",
    "cross_filesystems"};

std::shared_ptr<const config::SourceOptions> read_tree_options(const config::Section& s,
                                                               std::uint64_t default_max_record_bytes) {
  auto o = std::make_shared<TreeOptions>();
  o->max_record_bytes = default_max_record_bytes;
  if (auto vendor = s.optional("vendor"))
    if (auto t = vendor->choice({"generic", "fujitsu", "nec", "ssi"}, "use generic if unsure")) o->vendor = *t;
  if (auto root = s.required("root", "root: /srv/ssmix2/std (the folder the EMR exports to)"))
    if (auto roots = root->folders("a folder path, or a list of folder paths")) o->roots = *roots;
  if (auto d = s.optional("stable_after"))  // 0 is allowed: "read as soon as seen" (not advised)
    if (auto secs = d->duration(true)) o->stable_after = *secs;
  if (auto d = s.optional("full_scan_interval"))
    if (auto secs = d->duration(false)) o->full_scan_interval = *secs;
  if (auto m = s.optional("max_record_bytes")) {
    if (auto n = m->size()) {
      if (*n == 0)
        m->problem("0 would quarantine every record; write a size, e.g. 256MiB");
      else
        o->max_record_bytes = *n;
    }
  }
  if (auto b = s.optional("allow_hard_links"))
    if (auto on = b->boolean()) o->allow_hard_links = *on;
  if (auto b = s.optional("cross_filesystems"))
    if (auto on = b->boolean()) o->cross_filesystems = *on;
  return o;
}

TreeSourceOptions tree_source_options(const config::Source& source) {
  const auto& o = source.options_as<TreeOptions>();
  return {source.name, o.roots, o.stable_after, o.max_record_bytes, o.allow_hard_links, o.cross_filesystems};
}

}  // namespace sennen::ssmix2
