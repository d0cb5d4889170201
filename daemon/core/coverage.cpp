#include "daemon/core/coverage.hpp"

#include <algorithm>
#include <cctype>

namespace sennen {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// How a record's kind is matched (docs/coverage-kinds.md says where each rule comes from).
struct Rule {
  enum class By { data_type, standard_code, local_code } by;
  std::string_view value;
  std::string_view kind;
};

const std::vector<Rule> kRules{
    // Standardized storage data types (formats.md §1.6).
    {Rule::By::data_type, "ADT-00", "patient"},
    {Rule::By::data_type, "ADT-61", "basic_clinical"},
    {Rule::By::data_type, "PPR-01", "diagnoses"},
    {Rule::By::data_type, "OML-11", "lab_results"},
    {Rule::By::data_type, "OMP-02", "injections"},
    {Rule::By::data_type, "OMP-12", "injections"},
    {Rule::By::data_type, "OMP-01", "prescriptions"},
    {Rule::By::data_type, "OMP-11", "prescriptions"},
    {Rule::By::data_type, "OMG-11", "reports"},
    {Rule::By::data_type, "OMG-12", "reports"},
    {Rule::By::data_type, "OMG-13", "reports"},
    // Extended storage type folders (formats.md §1.9), by their standard (LOINC) or local code.
    {Rule::By::standard_code, "11506-3", "progress_notes"},
    {Rule::By::local_code, "L-OBSERVATIONS", "vitals"},
    {Rule::By::standard_code, "18842-5", "clinical_summary"},
    {Rule::By::standard_code, "57133-1", "referral_letters"},
    {Rule::By::standard_code, "11504-8", "operation_records"},
};

// The n-th (0-based) '^'-separated component of an extended type folder name.
std::string_view component(std::string_view s, int n) {
  for (int i = 0; i < n; ++i) {
    const auto p = s.find('^');
    if (p == std::string_view::npos) return {};
    s.remove_prefix(p + 1);
  }
  return s.substr(0, s.find('^'));
}

}  // namespace

const std::vector<CoverageKind> kCoverageKinds{
    {"patient", "患者情報", "patient", "PatientInfo"},
    {"lifestyle", "生活習慣情報", "lifestyle", "Lifestyle"},
    {"basic_clinical", "基礎的診療情報", "basic clinical", "BaseClinic"},
    {"diagnoses", "診断履歴情報", "diagnoses", "RegisteredDiagnosis"},
    {"progress_notes", "経過記録情報", "progress notes", "ProgressCourse"},
    {"insurance", "健康保険情報", "insurance", "HealthInsurance"},
    {"clinical_summary", "臨床サマリー情報", "clinical summary", "Summary"},
    {"lab_results", "検歴情報", "lab results", "test"},
    {"injections", "注射記録情報", "injections", "Injection"},
    {"prescriptions", "処方箋情報", "prescriptions", "Prescription"},
    {"vitals", "バイタル情報", "vitals", "VitalSign"},
    {"temperature_chart", "体温表情報", "temperature chart", "FlowSheet"},
    {"dialysis", "透析情報", "dialysis", "Hemodialysis"},
    {"referral_letters", "紹介状情報", "referral letters", "Referral"},
    {"reports", "報告書情報", "reports", "report"},
    {"operation_records", "手術記録情報", "operation records", "Surgery"},
    {"first_visit", "初診時特有情報", "first-visit information", "FirstClinic"},
};

std::optional<std::string_view> coverage_kind(std::string_view kind) {
  if (kind.substr(0, 4) == "MML-") {
    for (const auto& k : kCoverageKinds)
      if (iequals(kind.substr(4), k.mml_module)) return k.id;
    return std::nullopt;
  }
  for (const auto& r : kRules) {
    const bool hit = r.by == Rule::By::data_type       ? kind == r.value
                     : r.by == Rule::By::standard_code ? component(kind, 3) == r.value
                                                       : component(kind, 0) == r.value;
    if (hit) return r.kind;
  }
  return std::nullopt;
}

}  // namespace sennen
