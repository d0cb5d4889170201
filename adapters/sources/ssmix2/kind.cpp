// type: ssmix2: the SS-MIX2 keys (adapters/sources/ssmix2_common/tree_options.hpp) with the
// record limit HL7 v2 messages need.
#include "adapters/sources/ssmix2/standard_source.hpp"
#include "adapters/sources/ssmix2_common/tree_options.hpp"

namespace sennen::ssmix2 {

const adapters::SourceKind& standard_kind() {
  static const adapters::SourceKind kind{
      {"ssmix2", "standardized storage 標準化ストレージ", kTreeKeys,
       [](const config::Section& s) { return read_tree_options(s, kMaxRecordBytesStandard); }},
      [](const config::Source& source, const config::Config&) {
        return make_standard_source(tree_source_options(source));
      },
      probe_tree,
      /*filters=*/nullptr};
  return kind;
}

}  // namespace sennen::ssmix2
