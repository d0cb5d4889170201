// type: ssmix2-extended: the SS-MIX2 keys (adapters/sources/ssmix2_common/tree_options.hpp) with the larger
// record limit documents and images need.
#include "adapters/sources/ssmix2_common/tree_options.hpp"
#include "adapters/sources/ssmix2_extended/extended_source.hpp"

namespace sennen::ssmix2 {

const adapters::SourceKind& extended_kind() {
  static const adapters::SourceKind kind{
      {"ssmix2-extended", "extended storage 拡張ストレージ", kTreeKeys,
       [](const config::Section& s) { return read_tree_options(s, kMaxRecordBytesExtended); }},
      [](const config::Source& source, const config::Config&) {
        return make_extended_source(tree_source_options(source));
      },
      probe_tree,
      /*filters=*/nullptr,
      /*check=*/nullptr};
  return kind;
}

}  // namespace sennen::ssmix2
