#pragma once
// type: ssmix2-extended — SS-MIX2 extended storage: the unit is a content folder holding any
// files (PDF, JPEG, XML, HL7), ingested whole once every file in it is stable.
#include <memory>

#include "adapters/kind.hpp"
#include "adapters/sources/ssmix2_common/tree_source.hpp"

namespace sennen::ssmix2 {

std::unique_ptr<Source> make_extended_source(TreeSourceOptions options);
const adapters::SourceKind& extended_kind();  // for the registry

}  // namespace sennen::ssmix2
