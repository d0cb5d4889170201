#pragma once
// The seed's 17 document kinds (the 千年カルテ slide "電子カルテベンダーごとの構造化データ出力状況"),
// and which delivered records count as which (docs/coverage-kinds.md gives every mapping its
// source). The 17 kinds are the 17 content modules of MML v4 (formats.md §3), in the slide's order.
// A record is mapped by its `kind` (docs/batch-format.md): an SS-MIX2 data type, an extended-storage
// type folder name (matched by its standard code, the 4th '^' component, or its local code, the
// 1st), or MML-<contentModuleType>.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sennen {

struct CoverageKind {
  std::string_view id;          // e.g. "lab_results"
  std::string_view label_ja;    // as the slide writes it, e.g. "検歴情報"
  std::string_view label_en;    // e.g. "lab results"
  std::string_view mml_module;  // MML v4 content module, e.g. "test"
};
extern const std::vector<CoverageKind> kCoverageKinds;

// The forms the slide distinguishes: structured data (○), PDF/JPEG, no output (×). The spool
// counts a delivered record as pdf_jpeg when one of its part names ends in .pdf, .jpg or .jpeg (any
// case), else as structured (HL7 v2, CDA and MML are text): Spool::delivered_kinds.
inline constexpr const char* kStructured = "structured";
inline constexpr const char* kPdfJpeg = "pdf_jpeg";
inline constexpr const char* kNone = "none";

// The id of the kind a record of data type `kind` counts as, or nullopt (not one of the 17, e.g.
// ADT-12 visits or OMD diet orders).
std::optional<std::string_view> coverage_kind(std::string_view kind);

}  // namespace sennen
