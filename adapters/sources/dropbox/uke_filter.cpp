#include "adapters/sources/dropbox/uke_filter.hpp"

#include <charconv>

#include "adapters/sources/dropbox/lines.hpp"
#include "adapters/sources/dropbox/uke.hpp"
#include "daemon/core/patient_id.hpp"
#include "daemon/util/error.hpp"

namespace sennen::dropbox {
namespace {

std::uint64_t number(std::string_view s) {
  std::uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// A recomputed GO count in the form the original field had: the SSK record layout gives these
// fields a maximum width, not a fixed one, and most files write them unpadded, but a file that
// zero-pads them (scan_uke compares the values, so it accepts both) keeps its width.
std::string like_original(std::uint64_t value, std::string_view original) {
  std::string digits = std::to_string(value);
  if (original.size() > digits.size() && original.front() == '0')
    digits.insert(0, original.size() - digits.size(), '0');
  return digits;
}

}  // namespace

std::optional<std::string> chart_patient(std::string_view cp932_field, util::Cp932ToUtf8& cp932) {
  if (cp932_field.empty()) return std::nullopt;
  auto utf8 = cp932.strict(cp932_field);
  if (!utf8) return std::nullopt;
  return canonical_patient_id(*utf8);
}

namespace {
// Without the converter no chart number can be read: a fault of the box, not of the file, which
// waits in the spool until the converter is installed.
util::Cp932ToUtf8 open_cp932() {
  try {
    return util::Cp932ToUtf8();
  } catch (const Error& e) {
    throw FilterUnavailable(std::string(e.what()) + "; claim files wait in the spool until it is installed");
  }
}
}  // namespace

FilterCounts filter_uke(const ContentReader& in, const PatientGate& decide, const ContentWriter& write) {
  FilterCounts c;
  util::Cp932ToUtf8 cp932 = open_cp932();  // once per file: every claim's chart number goes through it
  LineReader reader(in);
  LineReader::Line line;
  bool dropping = false;
  std::uint64_t claim_points = 0;  // the main payer's points, once claim_paid
  bool claim_paid = false;         // the claim being read has a payer record yet
  std::uint64_t kept_payers = 0, kept_points = 0;
  auto close_claim = [&] {
    if (!dropping && claim_paid) kept_points += claim_points;
    claim_paid = false;
  };
  auto emit = [&](std::string_view text, std::string_view end) {
    write(text);
    write(end);
    c.bytes_out += text.size() + end.size();
  };
  while (reader.next(line)) {
    // The file was validated when it was found; what the spool holds is what was read then, but
    // should it not be a claim file after all, nothing of it leaves (the sealer sets it aside).
    if (line.too_long || (line.number == 1 && !looks_like_uke(line.text)))
      throw Error("line " + std::to_string(line.number) + " is not what a validated UKE file holds");
    const std::string_view type = std::string_view(line.text).substr(0, 2);
    if (type == "RE") {
      close_claim();
      const auto fields = split_fields(line.text, ',');
      const auto verdict = decide(chart_patient(fields.size() > 13 ? fields[13] : std::string_view(), cp932));
      dropping = verdict != Withhold::none;
      if (verdict == Withhold::stopped) ++c.stopped;
      if (verdict == Withhold::not_notified) ++c.not_notified;
      if (verdict == Withhold::unattributed) ++c.unattributed;
      if (!dropping) ++c.kept;
    } else if (type == "GO") {
      close_claim();
      dropping = false;
      const auto fields = split_fields(line.text, ',');
      const bool withheld_any = c.stopped + c.not_notified + c.unattributed > 0;
      if (withheld_any && fields.size() >= 4 && fields[3] == "99") {  // totals are on the last volume only
        std::string go = "GO," + like_original(kept_payers, fields[1]) + "," + like_original(kept_points, fields[2]);
        for (std::size_t i = 3; i < fields.size(); ++i) go += "," + std::string(fields[i]);
        emit(go, line.raw_end);
        continue;
      }
    } else if ((type == "HO" || type == "KO") && !dropping) {
      ++kept_payers;
      if (!claim_paid) {
        claim_paid = true;
        const auto fields = split_fields(line.text, ',');
        claim_points = number(fields.size() > 5 ? fields[5] : std::string_view());
      }
    }
    if (!dropping) emit(line.text, line.raw_end);
  }
  c.bytes_in = reader.bytes_read();
  return c;
}

}  // namespace sennen::dropbox
