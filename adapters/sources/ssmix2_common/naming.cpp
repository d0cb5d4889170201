#include "adapters/sources/ssmix2_common/naming.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include "daemon/util/name_text.hpp"

namespace sennen::ssmix2 {
namespace {

constexpr std::size_t kMaxPatientIdLength = 64;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

bool all_digits(std::string_view s) {
  for (char c : s)
    if (!is_digit(c)) return false;
  return !s.empty();
}

bool is_timestamp(std::string_view s) { return s.size() >= 14 && s.size() <= 17 && all_digits(s); }

// Names are bytes from the EMR's share: quoted in their display form (CP932 decoded, control
// characters escaped), so a reason is one line of text.
std::string in_quotes(std::string_view s) { return "\"" + util::display_name(s) + "\""; }

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::string_view join_range(std::string_view whole, std::string_view first, std::string_view last) {
  // first and last are views into whole; the type is everything between them, '_' included.
  auto begin = static_cast<std::size_t>(first.data() - whole.data());
  auto end = static_cast<std::size_t>(last.data() - whole.data()) + last.size();
  return whole.substr(begin, end - begin);
}

// Every check returns an empty string when the field is acceptable, else the reason.
std::string check_patient_id(std::string_view pid) {
  if (pid.empty()) return "patient ID is empty";
  if (pid.size() > kMaxPatientIdLength)
    return "patient ID " + in_quotes(pid) + " is longer than " + std::to_string(kMaxPatientIdLength) + " characters";
  for (char c : pid)
    if (!is_alnum(c) && c != '-')
      return "patient ID " + in_quotes(pid) + " holds a character other than A-Z, a-z, 0-9 or '-'";
  return {};
}

std::string check_date(std::string_view date) {
  if (date == "-") return {};
  const std::string bad = "date " + in_quotes(date);
  if (date.size() != 8 || !all_digits(date)) return bad + " is neither \"-\" nor 8 digits YYYYMMDD";
  auto number = [&](std::size_t pos, std::size_t len) {
    int v = 0;
    for (char c : date.substr(pos, len)) v = v * 10 + (c - '0');
    return v;
  };
  const std::chrono::year_month_day ymd{std::chrono::year{number(0, 4)},
                                        std::chrono::month{static_cast<unsigned>(number(4, 2))},
                                        std::chrono::day{static_cast<unsigned>(number(6, 2))}};
  if (!ymd.ok()) return bad + " is not a real calendar date";
  return {};
}

std::string check_timestamp(std::string_view ts) {
  if (is_timestamp(ts)) return {};
  return "timestamp " + in_quotes(ts) + " is not 14 to 17 digits (YYYYMMDDHHMMSS[FFF])";
}

std::string check_non_empty(std::string_view value, const char* what) {
  return value.empty() ? std::string(what) + " is empty" : std::string();
}

std::string parse_flag(std::string_view s, Flag& flag) {
  if (s == "0")
    flag = Flag::deleted;
  else if (s == "1")
    flag = Flag::current;
  else if (s == "2")
    flag = Flag::superseded;
  else
    return "condition flag " + in_quotes(s) + " is not 0, 1 or 2";
  return {};
}

std::string check_characters(std::string_view s) {
  if (s.find('/') != std::string_view::npos) return "holds '/', so it is a path, not one file name";
  if (s.find('\0') != std::string_view::npos) return "holds a NUL byte";
  return {};
}

// Fields already located; validates them in name order and builds the result.
struct Fields {
  std::string_view pid, date, kind, order_no, timestamp, dept, flag;
  bool has_dept = true;
};

ParseResult validate(const Fields& f, const char* key_label) {
  Name n;
  std::string err = check_patient_id(f.pid);
  if (err.empty()) err = check_date(f.date);
  if (err.empty()) err = check_non_empty(f.kind, "data type");
  if (err.empty()) err = check_non_empty(f.order_no, key_label);
  if (err.empty()) err = check_timestamp(f.timestamp);
  if (err.empty() && f.has_dept) err = check_non_empty(f.dept, "department code");
  if (err.empty()) err = parse_flag(f.flag, n.flag);
  if (!err.empty()) return {std::nullopt, err};
  n.patient_id = f.pid;
  n.date = f.date;
  n.kind = f.kind;
  n.order_no = f.order_no;
  n.timestamp = f.timestamp;
  if (f.has_dept) n.dept = f.dept;
  return {std::move(n), {}};
}

ParseResult fail(std::string_view name, const std::string& why) { return {std::nullopt, in_quotes(name) + ": " + why}; }

ParseResult with_context(std::string_view name, ParseResult r) {
  if (!r.name) r.error = in_quotes(name) + ": " + r.error;
  return r;
}

constexpr const char* kExtendedShape = "PID_date_type_key_timestamp[_dept]_flag";

// The content folder name read with its type field equal to `expected_type` (the outer fields are
// located by that text; `what` says what the text is). `type_found`: the text is there, followed by
// '_', after patient and date.
ParseResult parse_located(std::string_view folder_name, std::string_view expected_type, const std::string& what,
                          bool& type_found) {
  type_found = false;
  // PID and date cannot hold '_' (checked below), so the first two '_' end them.
  const std::size_t pid_end = folder_name.find('_');
  const std::size_t date_end = pid_end == std::string_view::npos ? pid_end : folder_name.find('_', pid_end + 1);
  if (date_end == std::string_view::npos) return fail(folder_name, std::string("is not ") + kExtendedShape);
  Fields f;
  f.pid = folder_name.substr(0, pid_end);
  f.date = folder_name.substr(pid_end + 1, date_end - pid_end - 1);
  const std::string_view rest = folder_name.substr(date_end + 1);
  if (rest.size() <= expected_type.size() || rest.substr(0, expected_type.size()) != expected_type ||
      rest[expected_type.size()] != '_')
    return fail(folder_name,
                "the type after patient and date is not " + what + " " + in_quotes(expected_type) + " followed by '_'");
  type_found = true;
  f.kind = rest.substr(0, expected_type.size());
  const auto tail = split(rest.substr(expected_type.size() + 1), '_');
  if (tail.size() == 3) {
    f.has_dept = false;
    f.order_no = tail[0];
    f.timestamp = tail[1];
    f.flag = tail[2];
  } else if (tail.size() == 4) {
    f.order_no = tail[0];
    f.timestamp = tail[1];
    f.dept = tail[2];
    f.flag = tail[3];
  } else {
    return fail(folder_name, "has " + std::to_string(tail.size()) + " '_'-separated fields after the type " +
                                 in_quotes(expected_type) +
                                 "; expected 3 (key_timestamp_flag) or 4 (key_timestamp_dept_flag)");
  }
  return with_context(folder_name, validate(f, "specific key"));
}

}  // namespace

std::string_view type_field_name(TypeField form) { return kTypeFieldNames[static_cast<std::size_t>(form)]; }

std::string Name::stem() const {
  std::string s =
      patient_id + '_' + date + '_' + (type_text.empty() ? kind : type_text) + '_' + order_no + '_' + timestamp;
  if (!dept.empty()) s += '_' + dept;
  return s;
}

std::string Name::key() const { return patient_id + '_' + date + '_' + kind + '_' + order_no; }

ParseResult parse_standard_name(std::string_view file_name) {
  if (std::string err = check_characters(file_name); !err.empty()) return fail(file_name, err);
  const auto parts = split(file_name, '_');
  if (parts.size() != 7)
    return fail(file_name, "has " + std::to_string(parts.size()) +
                               " '_'-separated fields; a standardized-storage file name has 7 "
                               "(PID_date_type_orderNo_timestamp_dept_flag)");
  return with_context(file_name, validate({parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6], true},
                                          "order number"));
}

ParseResult parse_extended_name(std::string_view folder_name) {
  if (std::string err = check_characters(folder_name); !err.empty()) return fail(folder_name, err);
  const auto parts = split(folder_name, '_');
  const std::size_t n = parts.size();
  if (n < 6)
    return fail(folder_name, "has " + std::to_string(n) +
                                 " '_'-separated fields; an extended-storage content folder name "
                                 "has 6 or 7 (" +
                                 kExtendedShape + ")");
  Fields f;
  f.pid = parts[0];
  f.date = parts[1];
  f.flag = parts[n - 1];
  std::size_t key_index = 0;
  if (is_timestamp(parts[n - 2])) {  // 6-field form: no dept
    f.has_dept = false;
    f.timestamp = parts[n - 2];
    key_index = n - 3;
  } else if (is_timestamp(parts[n - 3])) {  // 7-field form; with only 6 fields the type is empty
    f.dept = parts[n - 2];
    f.timestamp = parts[n - 3];
    key_index = n - 4;
  } else {
    return fail(folder_name, "neither the second-to-last field " + in_quotes(parts[n - 2]) +
                                 " (6-field form) nor the third-to-last field " + in_quotes(parts[n - 3]) +
                                 " (7-field form) is a timestamp of 14 to 17 digits; expected " + kExtendedShape);
  }
  f.order_no = parts[key_index];
  if (key_index < 3) return fail(folder_name, std::string("data type is empty; expected ") + kExtendedShape);
  f.kind = join_range(folder_name, parts[2], parts[key_index - 1]);
  return with_context(folder_name, validate(f, "specific key"));
}

ParseResult parse_extended_name(std::string_view folder_name, std::string_view expected_type) {
  return parse_extended_name(folder_name, expected_type, {TypeField::whole});
}

ParseResult parse_extended_name(std::string_view folder_name, std::string_view type_folder,
                                const std::vector<TypeField>& accepted) {
  if (std::string err = check_characters(folder_name); !err.empty()) return fail(folder_name, err);
  if (type_folder.empty()) return fail(folder_name, "the type folder name given is empty");
  const auto components = split(type_folder, '^');
  auto text_of = [&](TypeField form) {
    switch (form) {
      case TypeField::whole:
        return type_folder;
      case TypeField::local_code:
        return components[0];
      case TypeField::standard_code:
        return components.size() > 3 ? components[3] : std::string_view();
    }
    return std::string_view();
  };
  struct Reading {
    std::string_view text;
    TypeField form;
    ParseResult result;
    bool type_found;
  };
  auto what = [](TypeField form) {
    return std::string(form == TypeField::whole        ? "the type folder's name"
                       : form == TypeField::local_code ? "the type folder's local code"
                                                       : "the type folder's standard code");
  };
  auto described = [&](const auto& r) { return what(r.form) + " " + in_quotes(r.text); };
  std::vector<Reading> readings;  // one per distinct non-empty text, in TypeField order
  for (TypeField form : kAllTypeFields) {
    const std::string_view text = text_of(form);
    if (std::find(accepted.begin(), accepted.end(), form) == accepted.end() || text.empty()) continue;
    if (std::any_of(readings.begin(), readings.end(), [&](const Reading& r) { return r.text == text; })) continue;
    Reading r{text, form, {}, false};
    r.result = parse_located(folder_name, text, what(form), r.type_found);
    readings.push_back(std::move(r));
  }
  std::vector<const Reading*> valid;
  for (const auto& r : readings)
    if (r.result.name) valid.push_back(&r);
  if (valid.size() > 1) {
    std::string both;
    for (const Reading* r : valid)
      both +=
          (both.empty() ? "" : " or ") + described(*r) + " with specific key " + in_quotes(r->result.name->order_no);
    return fail(folder_name, "is ambiguous: its type field can be read as " + both +
                                 "; it is taken as neither (rename the content folder or narrow extended_type_field)");
  }
  if (valid.size() == 1) {
    Reading r = *valid.front();
    Name& n = *r.result.name;
    n.kind = type_folder;
    n.type_field = r.form;
    if (r.form != TypeField::whole) n.type_text = r.text;
    return r.result;
  }
  if (readings.empty())
    return fail(folder_name,
                "the type folder " + in_quotes(type_folder) + " has no non-empty component of the accepted forms");
  // No reading is valid: the reason of the one whose type text is there, else what was looked for.
  for (const auto& r : readings)
    if (r.type_found) return r.result;
  if (readings.size() == 1) return readings.front().result;
  std::string looked;
  for (const auto& r : readings) looked += (looked.empty() ? "" : ", ") + described(r);
  return fail(folder_name, "the type after patient and date is none of " + looked + " followed by '_'");
}

std::string check_placement(std::string_view rel_dir, const Name& name) {
  if (!rel_dir.empty() && rel_dir.front() == '/') rel_dir.remove_prefix(1);
  if (!rel_dir.empty() && rel_dir.back() == '/') rel_dir.remove_suffix(1);
  auto dirs = split(rel_dir, '/');
  const std::string_view pid = name.patient_id;
  const std::string_view level1 = pid.substr(0, 3);
  const std::string_view level2 = pid.size() > 3 ? pid.substr(3, 3) : std::string_view();
  // A PID of 3 or fewer characters has an empty second level, which a writer may have left out.
  if (dirs.size() == 4 && level2.empty()) dirs.insert(dirs.begin() + 1, std::string_view());
  if (dirs.size() != 5)
    return "expected 5 directories PID[0:3]/PID[3:6]/PID/date/type above " + in_quotes(name.stem()) + " but found " +
           std::to_string(dirs.size()) + " in " + in_quotes(rel_dir);

  std::string out;
  auto add = [&](const std::string& sentence) {
    if (!out.empty()) out += "; ";
    out += sentence;
  };
  auto shown = [](std::string_view v) { return util::display_name(v); };
  if (dirs[2] != pid)
    add("file name says patient " + shown(pid) + " but it is filed under patient folder " + shown(dirs[2]));
  if (dirs[0] != level1 || dirs[1] != level2)
    add("patient " + shown(pid) + " belongs under " + shown(level1) + "/" + shown(level2) + " but is filed under " +
        shown(dirs[0]) + "/" + shown(dirs[1]));
  if (dirs[3] != name.date)
    add("file name says date " + shown(name.date) + " but it is filed under date folder " + shown(dirs[3]));
  if (dirs[4] != name.kind)
    add("file name says type " + shown(name.kind) + " but it is filed under type folder " + shown(dirs[4]));
  return out;
}

}  // namespace sennen::ssmix2
