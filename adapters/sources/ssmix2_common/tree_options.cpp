#include "adapters/sources/ssmix2_common/tree_options.hpp"

#include "daemon/config/reader.hpp"

namespace sennen::ssmix2 {

const std::vector<std::string_view> kTreeKeys = {"vendor",
                                                 "root",
                                                 "stable_after",
                                                 "full_scan_interval",
                                                 "max_record_bytes",
                                                 "allow_hard_links",
                                                 "cross_filesystems",
                                                 "vendor_profiles",
                                                 "profile"};

const std::vector<std::string_view> kStandardKeys = [] {
  auto keys = kTreeKeys;
  keys.push_back("index_db");
  return keys;
}();

namespace {

// A table or column name as the DBMS is to read it: letters, digits, '_' and '.', or quoted.
std::optional<std::string> identifier(const config::Node& n, bool allow_empty) {
  auto t = n.text("a table or column name, e.g. SSMIXIDX");
  if (!t) return std::nullopt;
  if ((t->empty() && !allow_empty) || !config::all_chars_in(*t, "_.\"[]`")) {
    n.problem("not a table or column name: " + config::in_quotes(*t) +
              " (letters, digits, '_' and '.'; quote a name the DBMS keeps in mixed case: '\"UpdateDatetime\"')");
    return std::nullopt;
  }
  return t;
}

std::optional<IndexDbOptions> read_index_db(const config::Node& node) {
  config::Section s(node, {"connection", "table", "watermark_column", "directory_column", "file_column",
                           "volume_column", "volume_prefix", "page_size"});
  IndexDbOptions o;
  bool ok = true;
  if (auto c = s.required("connection", "connection: \"DSN=ssmixidx\" (an ODBC connection string)")) {
    if (auto t = c->text("an ODBC connection string, e.g. DSN=ssmixidx"); t && !t->empty())
      o.connection = *t;
    else
      ok = false;
  } else {
    ok = false;
  }
  auto name = [&](std::string_view key, std::string& out, bool allow_empty) {
    if (auto n = s.optional(key)) {
      if (auto t = identifier(*n, allow_empty))
        out = *t;
      else
        ok = false;
    }
  };
  name("table", o.table, false);
  name("watermark_column", o.watermark_column, false);
  name("directory_column", o.directory_column, false);
  name("file_column", o.file_column, false);
  name("volume_column", o.volume_column, true);
  if (auto v = s.optional("volume_prefix"))
    if (auto t = v->text("the start of this source's volume labels, e.g. STD")) o.volume_prefix = *t;
  if (auto p = s.optional("page_size"))
    if (auto n = p->integer(1, 1000000)) o.page_size = static_cast<std::size_t>(*n);
  if (!ok) return std::nullopt;
  return o;
}

}  // namespace

std::shared_ptr<const config::SourceOptions> read_tree_options(const config::Section& s,
                                                               std::uint64_t default_max_record_bytes, bool index_db) {
  auto o = std::make_shared<TreeOptions>();
  o->max_record_bytes = default_max_record_bytes;
  if (auto dir = s.optional("vendor_profiles"))
    if (auto d = dir->folder("the folder holding the vendor profiles (<vendor>.yaml)")) o->vendor_profiles = *d;
  // generic (also when no vendor is named) is the engine's built-in values, which generic.yaml
  // states (tests/adapters/sources/ssmix2/test_vendor_profiles.cpp holds them equal): no file is
  // read, so a site without the profiles folder runs as it always did.
  if (auto vendor = s.optional("vendor"))
    if (auto t = vendor->choice(kVendors, "use generic if unsure"); t && *t != "generic") {
      o->vendor = *t;
      try {
        load_vendor_profile(o->vendor_profiles, *t, o->accept);
      } catch (const config::ConfigError& e) {
        std::string why;
        for (const auto& p : e.problems()) why += (why.empty() ? "" : "; ") + p.format();
        vendor->problem("its vendor profile cannot be used: " + why + " (the package installs the profiles in " +
                        kVendorProfilesDir + "; elsewhere set vendor_profiles to the folder holding them)");
      }
    }
  if (auto p = s.optional("profile")) read_variation_overrides(*p, o->accept);
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
  if (index_db)
    if (auto n = s.optional("index_db")) o->index_db = read_index_db(*n);
  return o;
}

TreeSourceOptions tree_source_options(const config::Source& source) {
  const auto& o = source.options_as<TreeOptions>();
  return {source.name,         o.roots,  o.stable_after, o.max_record_bytes, o.allow_hard_links,
          o.cross_filesystems, o.vendor, o.accept,       o.index_db};
}

}  // namespace sennen::ssmix2
