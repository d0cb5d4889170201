#pragma once
// type: ssmix2 — SS-MIX2 standardized storage: one HL7 v2 message per file.
#include <memory>

#include "adapters/kind.hpp"
#include "adapters/sources/ssmix2_common/tree_source.hpp"

namespace sennen::ssmix2 {

std::unique_ptr<Source> make_standard_source(TreeSourceOptions options);
const adapters::SourceKind& standard_kind();  // for the registry

}  // namespace sennen::ssmix2
