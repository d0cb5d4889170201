#pragma once
// Internal to daemon/config: the YAML toolkit (yaml-cpp confined here). A Value is a node of the
// document with the dotted key path used in messages and the position to point at; a Mapping is
// a 'key: value' block whose unknown and duplicate keys are reported when it is opened; the typed
// reads report what is wrong (file:line:column, key, what to write) and return nothing, so one
// run lists every problem. Adapters use the yaml-free face of this, daemon/config/reader.hpp.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.hpp"

namespace sennen::config::detail {

// Shows a value inside a message: quoted and cut short, so a pasted paragraph stays readable.
std::string in_quotes(std::string_view value);
std::string join_names(const std::vector<std::string_view>& names);
bool all_chars_in(std::string_view s, std::string_view extra);  // letters, digits and `extra`

// Collects the problems of one file.
class Report {
 public:
  explicit Report(std::string file) : file_(std::move(file)) {}
  void add(const YAML::Mark& mark, std::string key, std::string message);
  Problem make(const YAML::Mark& mark, std::string key, std::string message) const;
  bool empty() const { return problems_.empty(); }
  // In file order, so the list reads top to bottom like the file does.
  std::vector<Problem> take();

 private:
  std::string file_;
  std::vector<Problem> problems_;
};

// A value in the document, with the dotted path used in messages and the best position to point
// at. An empty value ("key:" and nothing after it) gets yaml-cpp's mark of the *next* token, often
// on a later line, so for those we point at the key instead.
struct Value {
  YAML::Node node;
  YAML::Mark mark;
  std::string path;
};
Value make_value(const YAML::Node& node, const YAML::Mark& key_mark, std::string path);
// An entry of a list (its own mark when it has one, else the list's).
Value item_value(const Value& list, std::size_t i);
std::string kind_of(const YAML::Node& node);

// A mapping being read. Unknown and duplicate keys are reported when it is opened (`unknown`, when
// given, words the message for a key this mapping does not know, e.g. one of another source type;
// empty: the usual "unknown key"); lookups then only see the known keys.
class Mapping {
 public:
  using UnknownKey = std::function<std::string(const std::string& key)>;
  Mapping(Report& report, const Value& self, std::vector<std::string_view> known, const UnknownKey& unknown = {});
  std::optional<Value> optional(std::string_view key) const;
  // Missing keys are reported at the start of the mapping that should hold them.
  std::optional<Value> required(std::string_view key, std::string_view expected) const;
  std::string child_path(std::string_view key) const;
  const Value& self() const { return self_; }

 private:
  std::string where() const;
  Report& report_;
  Value self_;
  std::vector<std::pair<std::string, Value>> entries_;
};

// ---- typed values: each reports what is wrong and returns nothing ----------------------------
std::optional<std::string> text(Report& r, const Value& v, std::string_view expected);
// Relative paths are relative to the config file (`base`), not to wherever the daemon started.
std::optional<std::filesystem::path> path_value(Report& r, const Value& v, const std::filesystem::path& base,
                                                std::string_view expected);
// One path, or a non-empty list of paths.
std::optional<std::vector<std::filesystem::path>> path_list(Report& r, const Value& v,
                                                            const std::filesystem::path& base,
                                                            std::string_view expected);
std::optional<Seconds> duration_value(Report& r, const Value& v, bool allow_zero);
std::optional<std::uint64_t> size_value(Report& r, const Value& v);
std::optional<long> integer_value(Report& r, const Value& v, long min, long max);
std::optional<bool> bool_value(Report& r, const Value& v);
// One of a fixed set of words; `meaning` explains them in the message.
std::optional<std::string> choice_value(Report& r, const Value& v, const std::vector<std::string_view>& options,
                                        std::string_view meaning);

}  // namespace sennen::config::detail

namespace sennen::config {
class Node;
// The yaml-free face (reader.hpp) of a value, for an adapter's own keys.
Node make_node(detail::Report& report, const detail::Value& value, const std::filesystem::path& base,
               std::vector<NamedFile>* files);
}  // namespace sennen::config
