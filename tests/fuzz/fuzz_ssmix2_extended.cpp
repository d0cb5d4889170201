// Extended-storage content folders in their type folder, as the ssmix2-extended source reads them:
// parse_extended_name(content folder, type folder's name) and check_placement(relative dir, name).
// Two halves, chosen by the first byte:
//  - arbitrary bytes for the type folder, the content folder and the directories above them: no
//    crash; an accepted name has exactly the type folder's name as its type, gives back its input,
//    and is placed correctly under its own directories (with a leading or trailing '/' too);
//  - a name assembled from valid fields (any type, '_', '^' and UTF-8 included): both parsers give
//    back exactly those fields, the plain one except for the one documented ambiguity (a
//    department code of 14..17 digits); the same fields as a standardized-storage file name too.
#include <fuzzer/FuzzedDataProvider.h>

#include "tests/adapters/sources/ssmix2/exercise.hpp"
#include "tests/fuzz/property.hpp"

using namespace sennen;
using ssmix2::Name;

namespace {

bool is_timestamp(std::string_view s) {
  return s.size() >= 14 && s.size() <= 17 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::string from_alphabet(FuzzedDataProvider& in, std::string_view alphabet, std::size_t min, std::size_t max) {
  std::string out(in.ConsumeIntegralInRange<std::size_t>(min, max), ' ');
  for (char& c : out) c = alphabet[in.ConsumeIntegralInRange<std::size_t>(0, alphabet.size() - 1)];
  return out;
}

// Any non-empty bytes without the characters `banned` (a name can hold neither '/' nor NUL).
std::string field(FuzzedDataProvider& in, std::string_view banned, std::size_t max) {
  std::string out;
  for (char c : in.ConsumeRandomLengthString(max))
    if (banned.find(c) == std::string_view::npos) out.push_back(c);
  return out.empty() ? std::string("X") : out;
}

bool same_fields(const Name& a, const Name& b) {
  return a.patient_id == b.patient_id && a.date == b.date && a.kind == b.kind && a.order_no == b.order_no &&
         a.timestamp == b.timestamp && a.dept == b.dept && a.flag == b.flag;
}

void arbitrary(FuzzedDataProvider& in) {
  const std::string rel_dir = in.ConsumeRandomLengthString(256);
  const std::string type = in.ConsumeRandomLengthString(128);
  const std::string folder = in.ConsumeRemainingBytesAsString();
  const ssmix2::ParseResult r = ssmix2::parse_extended_name(folder, type);
  if (const std::string why = ssmix2::test::check_name_result(folder, r, "parse_extended_name(type)"); !why.empty())
    fuzz::broken(why);
  (void)ssmix2::check_placement(rel_dir, Name{});
  if (!r.name) return;
  fuzz::require(r.name->kind == type, "an accepted content folder's type is not its type folder's name");
  (void)ssmix2::check_placement(rel_dir, *r.name);
  const std::string own = ssmix2::test::expected_rel_dir(*r.name);
  fuzz::require(
      ssmix2::check_placement("/" + own, *r.name).empty() && ssmix2::check_placement(own + "/", *r.name).empty(),
      "check_placement refuses the name's own directory with a leading or trailing '/'");
}

void assembled(FuzzedDataProvider& in) {
  Name n;
  n.patient_id = from_alphabet(in, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-", 1, 64);
  if (in.ConsumeBool()) {
    n.date = "-";
  } else {  // a real calendar date
    const int year = in.ConsumeIntegralInRange(1, 9999), month = in.ConsumeIntegralInRange(1, 12);
    static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int day = in.ConsumeIntegralInRange(1, kDays[month - 1]);
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap) day = 28;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d%02d%02d", year, month, day);
    n.date = buf;
  }
  n.order_no = field(in, std::string_view("/\0_", 3), 32);
  n.timestamp = from_alphabet(in, "0123456789", 14, 17);
  if (in.ConsumeBool()) n.dept = field(in, std::string_view("/\0_", 3), 8);
  n.flag = static_cast<ssmix2::Flag>('0' + in.ConsumeIntegralInRange(0, 2));
  n.kind = field(in, std::string_view("/\0", 2), 64);  // the type may hold '_'
  const std::string name = n.stem() + "_" + static_cast<char>(n.flag);

  const ssmix2::ParseResult typed = ssmix2::parse_extended_name(name, n.kind);
  if (!typed.name) fuzz::broken("a content folder name made of valid fields is refused: " + typed.error);
  fuzz::require(same_fields(*typed.name, n), "parse_extended_name(type) does not give back the fields");
  fuzz::require(ssmix2::check_placement(ssmix2::test::expected_rel_dir(n), n).empty(),
                "check_placement refuses a name's own directory");

  const ssmix2::ParseResult plain = ssmix2::parse_extended_name(name);
  if (!is_timestamp(n.dept)) {  // the one case the plain form cannot tell apart (naming.hpp)
    if (!plain.name) fuzz::broken("a content folder name made of valid fields is refused: " + plain.error);
    fuzz::require(same_fields(*plain.name, n), "parse_extended_name does not give back the fields");
  }
  if (n.kind.find('_') == std::string::npos && !n.dept.empty()) {
    const ssmix2::ParseResult standard = ssmix2::parse_standard_name(name);
    if (!standard.name) fuzz::broken("a file name made of valid fields is refused: " + standard.error);
    fuzz::require(same_fields(*standard.name, n), "parse_standard_name does not give back the fields");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  if (in.ConsumeBool())
    arbitrary(in);
  else
    assembled(in);
  return 0;
}
