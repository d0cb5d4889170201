// The YAML toolkit of daemon/config (yaml_reader.hpp) and its yaml-free face for adapters
// (reader.hpp).
#include "daemon/config/yaml_reader.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "daemon/config/reader.hpp"
#include "daemon/config/suggest.hpp"

namespace sennen::config::detail {
namespace fs = std::filesystem;
namespace {
constexpr std::string_view kDurationHint = "write e.g. 60s, 5m, 1h or 1d";
constexpr std::string_view kSizeHint = "write e.g. 64MiB, 1GiB or 500KB";
}  // namespace

std::string in_quotes(std::string_view value) {
  std::size_t keep = value.size() <= 60 ? value.size() : 60;
  // Never cut a UTF-8 character (Japanese text is common here) in half: back up to a lead byte.
  while (keep < value.size() && keep > 0 && (static_cast<unsigned char>(value[keep]) & 0xC0) == 0x80) --keep;
  return "\"" + std::string(value.substr(0, keep)) + (keep < value.size() ? "...\"" : "\"");
}

std::string join_names(const std::vector<std::string_view>& names) {
  std::string out;
  for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

void Report::add(const YAML::Mark& mark, std::string key, std::string message) {
  problems_.push_back(make(mark, std::move(key), std::move(message)));
}

Problem Report::make(const YAML::Mark& mark, std::string key, std::string message) const {
  Problem p;
  p.file = file_;
  if (!mark.is_null()) {  // yaml-cpp counts from 0, editors from 1
    p.line = mark.line + 1;
    p.column = mark.column + 1;
  }
  p.key = std::move(key);
  p.message = std::move(message);
  return p;
}

std::vector<Problem> Report::take() {
  std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  return std::move(problems_);
}

Value make_value(const YAML::Node& node, const YAML::Mark& key_mark, std::string path) {
  YAML::Mark mark = node.Mark();
  if (mark.is_null() || (node.IsNull() && mark.line != key_mark.line)) mark = key_mark;
  return Value{node, mark, std::move(path)};
}

// An entry of a list. A bare "-" gets the mark of the token after it; that is still closer than
// the start of the list, so the item's own mark is used whenever there is one.
Value item_value(const Value& list, std::size_t i) {
  const YAML::Node node = list.node[i];
  const YAML::Mark own = node.Mark();
  return make_value(node, own.is_null() ? list.mark : own, list.path + "[" + std::to_string(i) + "]");
}

std::string kind_of(const YAML::Node& node) {
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping (indented 'key: value' lines)";
  if (node.IsNull()) return "nothing";
  return "a single value";
}

Mapping::Mapping(Report& report, const Value& self, std::vector<std::string_view> known, const UnknownKey& unknown)
    : report_(report), self_(self) {
  // "heartbeat:" with every child commented out is an empty section, not an error.
  if (self.node.IsNull()) return;
  if (!self.node.IsMap()) {
    report_.add(self.mark, self.path, "expected a mapping (indented 'key: value' lines), found " + kind_of(self.node));
    return;
  }
  std::map<std::string, int> first_line;
  for (auto it = self.node.begin(); it != self.node.end(); ++it) {
    const YAML::Mark key_mark = it->first.Mark();
    if (!it->first.IsScalar()) {
      report_.add(key_mark, self.path, "keys must be plain names such as 'name:', found " + kind_of(it->first));
      continue;
    }
    const std::string key = it->first.Scalar();
    const std::string path = child_path(key);
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      // A key this mapping's caller can explain (one that belongs elsewhere) is pointed at by its
      // value; an unknown one, likely a typo, by its name.
      if (std::string msg = unknown ? unknown(key) : std::string(); !msg.empty()) {
        report_.add(make_value(it->second, key_mark, path).mark, path, msg);
        continue;
      }
      std::string msg = "unknown key '" + key + "' " + where();
      if (auto near = detail::closest(key, known))
        msg += "; did you mean '" + *near + "'?";
      else
        msg += "; expected one of: " + join_names(known);
      report_.add(key_mark, path, msg);
      continue;
    }
    auto [pos, inserted] = first_line.emplace(key, key_mark.line + 1);
    if (!inserted) {
      report_.add(key_mark, path,
                  "'" + key + "' appears twice " + where() + " (first on line " + std::to_string(pos->second) +
                      "); keep only one");
      continue;
    }
    entries_.emplace_back(key, make_value(it->second, key_mark, path));
  }
}

std::optional<Value> Mapping::optional(std::string_view key) const {
  for (const auto& [name, value] : entries_)
    if (name == key) return value;
  return std::nullopt;
}

std::optional<Value> Mapping::required(std::string_view key, std::string_view expected) const {
  auto v = optional(key);
  if (!v && (self_.node.IsNull() || self_.node.IsMap()))
    report_.add(self_.mark, child_path(key),
                "missing required key '" + std::string(key) + "' " + where() + "; add " + std::string(expected));
  return v;
}

std::string Mapping::child_path(std::string_view key) const {
  return self_.path.empty() ? std::string(key) : self_.path + "." + std::string(key);
}

std::string Mapping::where() const { return self_.path.empty() ? "at the top level" : "in " + self_.path; }

// ---- typed values ---------------------------------------------------------------------------

// The text of a single value; anything else (nothing, a list, a mapping) is reported.
std::optional<std::string> text(Report& r, const Value& v, std::string_view expected) {
  if (v.node.IsScalar()) return v.node.Scalar();
  r.add(v.mark, v.path,
        (v.node.IsNull() ? std::string("has no value") : "found " + kind_of(v.node)) + "; expected " +
            std::string(expected));
  return std::nullopt;
}

std::optional<fs::path> path_value(Report& r, const Value& v, const fs::path& base, std::string_view expected) {
  auto s = text(r, v, expected);
  if (!s) return std::nullopt;
  if (s->empty()) {
    r.add(v.mark, v.path, "is empty; expected " + std::string(expected));
    return std::nullopt;
  }
  fs::path p(*s);
  p = (p.is_absolute() ? p : base / p).lexically_normal();
  // "/srv/x/" and "/srv/x" are the same folder; keep one spelling so they compare equal.
  if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
  return p;
}

std::optional<std::vector<fs::path>> path_list(Report& r, const Value& v, const fs::path& base,
                                               std::string_view expected) {
  if (!v.node.IsSequence()) {
    auto p = path_value(r, v, base, expected);
    if (!p) return std::nullopt;
    return std::vector<fs::path>{*p};
  }
  if (v.node.size() == 0) {
    r.add(v.mark, v.path, "is an empty list; expected " + std::string(expected));
    return std::nullopt;
  }
  std::vector<fs::path> out;
  bool ok = true;
  for (std::size_t i = 0; i < v.node.size(); ++i) {
    auto p = path_value(r, item_value(v, i), base, "a path");
    if (p)
      out.push_back(*p);
    else
      ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<Seconds> duration_value(Report& r, const Value& v, bool allow_zero) {
  auto s = text(r, v, "a duration; " + std::string(kDurationHint));
  if (!s) return std::nullopt;
  auto d = parse_duration(*s);
  if (!d) {
    r.add(v.mark, v.path, in_quotes(*s) + " is not a duration; " + std::string(kDurationHint));
    return std::nullopt;
  }
  if (!allow_zero && d->count() == 0) {
    r.add(v.mark, v.path, "must be longer than 0; " + std::string(kDurationHint));
    return std::nullopt;
  }
  return d;
}

std::optional<std::uint64_t> size_value(Report& r, const Value& v) {
  auto s = text(r, v, "a size; " + std::string(kSizeHint));
  if (!s) return std::nullopt;
  auto n = parse_size(*s);
  if (!n) r.add(v.mark, v.path, in_quotes(*s) + " is not a size; " + std::string(kSizeHint));
  return n;
}

std::optional<long> integer_value(Report& r, const Value& v, long min, long max) {
  const std::string range = "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  auto s = text(r, v, range);
  if (!s) return std::nullopt;
  std::string_view digits = *s;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  // At most 9 digits are read, so n cannot overflow whatever the text holds.
  bool ok = !digits.empty() && digits.size() <= 9;
  long n = 0;
  for (std::size_t i = 0; ok && i < digits.size(); ++i) {
    if (digits[i] < '0' || digits[i] > '9') ok = false;
    n = n * 10 + (digits[i] - '0');
  }
  if (!ok || (negative ? -n : n) < min || (negative ? -n : n) > max) {
    r.add(v.mark, v.path, in_quotes(*s) + " is not " + range);
    return std::nullopt;
  }
  return negative ? -n : n;
}

std::optional<bool> bool_value(Report& r, const Value& v) {
  auto s = text(r, v, "true or false");
  if (!s) return std::nullopt;
  std::string lower = *s;
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower == "true" || lower == "yes") return true;
  if (lower == "false" || lower == "no") return false;
  r.add(v.mark, v.path, in_quotes(*s) + " is not true or false; write true or false");
  return std::nullopt;
}

std::optional<std::string> choice_value(Report& r, const Value& v, const std::vector<std::string_view>& options,
                                        std::string_view meaning) {
  auto s = text(r, v, "one of: " + join_names(options));
  if (!s) return std::nullopt;
  if (std::find(options.begin(), options.end(), *s) != options.end()) return s;
  std::string msg = in_quotes(*s) + " is not one of: " + join_names(options);
  if (!meaning.empty()) msg += " (" + std::string(meaning) + ")";
  if (auto near = detail::closest(*s, options)) msg += "; did you mean '" + *near + "'?";
  r.add(v.mark, v.path, msg);
  return std::nullopt;
}

bool all_chars_in(std::string_view s, std::string_view extra) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           extra.find(c) != std::string_view::npos;
  });
}

}  // namespace sennen::config::detail

// ---- the yaml-free face (reader.hpp) -------------------------------------------------------------
namespace sennen::config {

struct Node::Impl {
  detail::Report* report;
  detail::Value value;
  std::filesystem::path base;
  std::vector<NamedFile>* files;
};

Node::Node(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() = default;
Node::Node(const Node&) = default;
Node& Node::operator=(const Node&) = default;

const std::string& Node::key_path() const { return impl_->value.path; }
std::string Node::scalar() const { return impl_->value.node.IsScalar() ? impl_->value.node.Scalar() : std::string(); }
bool Node::is_empty_list() const { return impl_->value.node.IsSequence() && impl_->value.node.size() == 0; }
bool Node::is_list() const { return impl_->value.node.IsSequence(); }

std::optional<std::string> Node::text(std::string_view expected) const {
  return detail::text(*impl_->report, impl_->value, expected);
}
std::optional<std::filesystem::path> Node::folder(std::string_view expected) const {
  return detail::path_value(*impl_->report, impl_->value, impl_->base, expected);
}
std::optional<std::vector<std::filesystem::path>> Node::folders(std::string_view expected) const {
  return detail::path_list(*impl_->report, impl_->value, impl_->base, expected);
}
std::optional<std::filesystem::path> Node::file(std::string_view expected) const {
  auto p = folder(expected);
  if (p && impl_->files) impl_->files->push_back({*p, impl_->report->make(impl_->value.mark, impl_->value.path, "")});
  return p;
}
std::optional<Seconds> Node::duration(bool allow_zero) const {
  return detail::duration_value(*impl_->report, impl_->value, allow_zero);
}
std::optional<std::uint64_t> Node::size() const { return detail::size_value(*impl_->report, impl_->value); }
std::optional<long> Node::integer(long min, long max) const {
  return detail::integer_value(*impl_->report, impl_->value, min, max);
}
std::optional<bool> Node::boolean() const { return detail::bool_value(*impl_->report, impl_->value); }
std::optional<std::string> Node::choice(const std::vector<std::string_view>& options, std::string_view meaning) const {
  return detail::choice_value(*impl_->report, impl_->value, options, meaning);
}
std::optional<Date> Node::date(std::string_view example) const {
  const std::string hint = "a date written YYYY-MM-DD, e.g. " + std::string(example);
  auto t = text(hint);
  if (!t) return std::nullopt;
  auto d = parse_date(*t);
  if (!d) problem(in_quotes(*t) + " is not a real date; write YYYY-MM-DD, e.g. " + std::string(example));
  return d;
}
std::vector<Node> Node::items(std::string_view what) const {
  const detail::Value& v = impl_->value;
  if (!v.node.IsSequence()) return {*this};
  if (v.node.size() == 0) problem("is an empty list; expected one or more " + std::string(what));
  std::vector<Node> out;
  for (std::size_t i = 0; i < v.node.size(); ++i)
    out.emplace_back(
        std::make_shared<const Impl>(Impl{impl_->report, detail::item_value(v, i), impl_->base, impl_->files}));
  return out;
}
void Node::problem(const std::string& message) const {
  impl_->report->add(impl_->value.mark, impl_->value.path, message);
}

struct Section::Impl {
  detail::Mapping mapping;
  std::shared_ptr<const Node::Impl> node;
  Node child(const detail::Value& v) const {
    return Node(std::make_shared<const Node::Impl>(Node::Impl{node->report, v, node->base, node->files}));
  }
};

Section::Section(const Node& node, std::vector<std::string_view> known, const UnknownKey& unknown)
    : impl_(std::make_unique<Impl>(
          Impl{detail::Mapping(*node.impl()->report, node.impl()->value, std::move(known), unknown), node.impl()})) {}
Section::~Section() = default;

std::optional<Node> Section::optional(std::string_view key) const {
  auto v = impl_->mapping.optional(key);
  if (!v) return std::nullopt;
  return impl_->child(*v);
}
std::optional<Node> Section::required(std::string_view key, std::string_view expected) const {
  auto v = impl_->mapping.required(key, expected);
  if (!v) return std::nullopt;
  return impl_->child(*v);
}

Node make_node(detail::Report& report, const detail::Value& value, const std::filesystem::path& base,
               std::vector<NamedFile>* files) {
  return Node(std::make_shared<const Node::Impl>(Node::Impl{&report, value, base, files}));
}

std::string in_quotes(std::string_view value) { return detail::in_quotes(value); }
bool all_chars_in(std::string_view s, std::string_view extra) { return detail::all_chars_in(s, extra); }

}  // namespace sennen::config
