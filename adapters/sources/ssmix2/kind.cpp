// type: ssmix2: the SS-MIX2 keys (adapters/sources/ssmix2_common/tree_options.hpp) with the
// record limit HL7 v2 messages need, and the index DB feed (index_db.hpp).
#include "adapters/sources/ssmix2/index_db.hpp"
#include "adapters/sources/ssmix2/odbc.hpp"
#include "adapters/sources/ssmix2/standard_source.hpp"
#include "adapters/sources/ssmix2_common/tree_options.hpp"

namespace sennen::ssmix2 {
namespace {

// The index DB as --check and doctor see it: a query of its rows must work.
std::string index_problem(const config::Source& source) {
  const auto& o = source.options_as<TreeOptions>();
  if (!o.index_db) return "";
  const std::string why = check_index_db(*o.index_db);
  return why.empty() ? "" : why + "; until this is fixed the source walks its tree every poll";
}

}  // namespace

const adapters::SourceKind& standard_kind() {
  static const adapters::SourceKind kind{
      {"ssmix2", "standardized storage 標準化ストレージ", kStandardKeys,
       [](const config::Section& s) { return read_tree_options(s, kMaxRecordBytesStandard, true); }},
      [](const config::Source& source, const config::Config&) {
        return make_standard_source(tree_source_options(source));
      },
      [](const config::Source& source, const config::Config& config, adapters::Findings& out) {
        probe_tree(source, config, out);
        const auto& o = source.options_as<TreeOptions>();
        if (!o.index_db) return;
        const std::string why = index_problem(source);
        const std::string name = "source " + source.name + " index DB";
        if (why.empty())
          out.push_back(
              {adapters::Finding::Level::pass, name,
               "table " + o.index_db->table + " can be queried (ODBC " + odbc::redact(o.index_db->connection) + ")"});
        else
          out.push_back({adapters::Finding::Level::fail, name, why});
      },
      /*filters=*/nullptr,
      [](const config::Source& source) {
        std::vector<std::string> out;
        if (std::string why = index_problem(source); !why.empty()) out.push_back(why);
        return out;
      }};
  return kind;
}

}  // namespace sennen::ssmix2
