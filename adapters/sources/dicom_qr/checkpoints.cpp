#include "adapters/sources/dicom_qr/checkpoints.hpp"

#include <charconv>
#include <string_view>

namespace sennen::dicom {
namespace {

std::optional<std::uint64_t> number(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool starts(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

bool is_date(const std::string& d) { return d.size() == 8 && d.find_first_not_of("0123456789") == std::string::npos; }

std::string StudyProgress::text() const {
  if (complete) return refused ? "complete with " + std::to_string(refused) + " refused" : "complete";
  return "incomplete " + std::to_string(held) + "/" + (expected ? std::to_string(*expected) : std::string("?"));
}

void StudyProgressCodec::encode(const StudyProgress& p, UnitState& out) {
  out.status = p.text();
  out.size = p.held;
}

std::optional<StudyProgress> StudyProgressCodec::decode(const UnitState& stored) {
  const std::string_view s = stored.status;
  StudyProgress p;
  p.held = stored.size;
  if (s == "complete") {
    p.complete = true;
    return p;
  }
  constexpr std::string_view kWith = "complete with ", kRefused = " refused", kIncomplete = "incomplete ";
  if (starts(s, kWith) && s.size() > kWith.size() + kRefused.size() &&
      s.substr(s.size() - kRefused.size()) == kRefused) {
    const auto n = number(s.substr(kWith.size(), s.size() - kWith.size() - kRefused.size()));
    if (!n) return std::nullopt;
    p.complete = true;
    p.refused = *n;
    return p;
  }
  if (!starts(s, kIncomplete)) return std::nullopt;
  const std::string_view counts = s.substr(kIncomplete.size());
  const auto slash = counts.find('/');
  if (slash == std::string_view::npos || number(counts.substr(0, slash)) != stored.size) return std::nullopt;
  if (counts.substr(slash + 1) != "?") {
    p.expected = number(counts.substr(slash + 1));
    if (!p.expected) return std::nullopt;
  }
  return p;
}

void RefusalCodec::encode(const Refusal& r, UnitState& out) { out.status = r.hash + " " + r.study; }

std::optional<Refusal> RefusalCodec::decode(const UnitState& stored) {
  const auto space = stored.status.find(' ');
  if (space == 0 || space == std::string::npos) return std::nullopt;
  return Refusal{stored.status.substr(0, space), stored.status.substr(space + 1)};
}

void DateCodec::encode(const std::string& yyyymmdd, UnitState& out) { out.status = yyyymmdd; }

std::optional<std::string> DateCodec::decode(const UnitState& stored) {
  if (!is_date(stored.status)) return std::nullopt;
  return stored.status;
}

void SyntaxCodec::encode(const std::string& uid, UnitState& out) { out.status = uid; }

std::optional<std::string> SyntaxCodec::decode(const UnitState& stored) {
  if (stored.status.empty()) return std::nullopt;
  return stored.status;
}

}  // namespace sennen::dicom
