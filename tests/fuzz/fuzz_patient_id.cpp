// canonical_patient_id, patient_id_problem and fold_width on arbitrary bytes: patient IDs come from
// the stop list, SS-MIX2 paths, HL7 PID-3 and DICOM PatientID, and two spellings of one ID must
// meet in one canonical form, or an opted-out patient's records would pass the gate.
// Properties: the canonical form is 1..64 of [0-9A-Z-], without leading zeros when all digits,
// and canonical itself; patient_id_problem is empty exactly when there is a canonical form, and is
// one line of plain ASCII (it goes to logs); spacing, ASCII case, width and wrapping in quotes or
// ="..." never change the verdict.
#include <optional>
#include <string>

#include "daemon/core/patient_id.hpp"
#include "daemon/util/utf8.hpp"
#include "tests/fuzz/property.hpp"

using namespace sennen;

namespace {

// The canonical form (daemon/core/patient_id.hpp): digits, A-Z, '-' and '_', no leading zero on an all-digit ID.
bool is_canonical_form(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_')) return false;
  const bool digits = id.find_first_not_of("0123456789") == std::string::npos;
  return !digits || id == "0" || id.front() != '0';
}

bool same_verdict(std::string_view a, std::string_view b) {
  return canonical_patient_id(a) == canonical_patient_id(b) && patient_id_problem(a) == patient_id_problem(b);
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string full_width(std::string_view ascii) {
  std::string out;
  for (char c : ascii) util::append_utf8(out, static_cast<char32_t>(c) + 0xFEE0);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw = fuzz::as_text(data, size);
  const std::optional<std::string> id = canonical_patient_id(raw);
  const std::string problem = patient_id_problem(raw);
  fuzz::require(id.has_value() == problem.empty(), "patient_id_problem is empty exactly when there is an ID");
  for (char c : problem) fuzz::require(c >= 0x20 && c < 0x7f, "patient_id_problem is not one line of plain text");

  fuzz::require(same_verdict(raw, " " + std::string(raw) + "\t"), "surrounding whitespace changes the verdict");
  fuzz::require(same_verdict(raw, ascii_lower(raw)), "letter case changes the verdict");
  if (util::valid_utf8(raw)) {
    const std::string folded = fold_width(raw);
    fuzz::require(fold_width(folded) == folded, "fold_width is not idempotent");
    fuzz::require(same_verdict(raw, folded), "width folding changes the verdict");
  }
  if (!id) return 0;
  if (!is_canonical_form(*id)) fuzz::broken("canonical_patient_id gave a malformed ID");
  fuzz::require(canonical_patient_id(*id) == id, "a canonical ID is not its own canonical form");
  fuzz::require(canonical_patient_id("\"" + *id + "\"") == id, "a quoted ID reads differently");
  fuzz::require(canonical_patient_id("=\"" + *id + "\"") == id, "Excel's =\"...\" changes the ID");
  fuzz::require(canonical_patient_id(full_width(*id)) == id, "the full-width spelling is another ID");
  if (id->size() < 64 && id->find_first_not_of("0123456789") == std::string::npos)
    fuzz::require(canonical_patient_id("0" + *id) == id, "a zero-padded ID is another ID");
  return 0;
}
