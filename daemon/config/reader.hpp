#pragma once
// How an adapter reads its own keys of sennen-edge.yaml (adapters/*/options.cpp), without
// yaml-cpp (confined to daemon/config). A typed read that fails reports what is wrong
// (file:line:column, the key, what to write instead) and returns nothing; reading goes on, so one
// run of `sennen-edged --check` lists every problem.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.hpp"

namespace sennen::config {
namespace detail {
class Report;
struct Value;
}  // namespace detail

class Node {
 public:
  struct Impl;
  explicit Node(std::shared_ptr<const Impl> impl);
  ~Node();
  Node(const Node&);
  Node& operator=(const Node&);

  const std::string& key_path() const;  // e.g. "sources[1].port"
  std::string scalar() const;           // the text as written; "" when not a single value
  bool is_list() const;
  bool is_empty_list() const;  // [] (items() reports an empty list as a problem)

  std::optional<std::string> text(std::string_view expected) const;
  // Relative paths are relative to the configuration file. A file's path is also kept in
  // Config::files, with this position, for `sennen-edged --check` to open it.
  std::optional<std::filesystem::path> folder(std::string_view expected) const;
  std::optional<std::vector<std::filesystem::path>> folders(std::string_view expected) const;  // one or a list
  std::optional<std::filesystem::path> file(std::string_view expected) const;
  std::optional<Seconds> duration(bool allow_zero) const;
  std::optional<std::uint64_t> size() const;
  std::optional<long> integer(long min, long max) const;
  std::optional<bool> boolean() const;
  std::optional<std::string> choice(const std::vector<std::string_view>& options, std::string_view meaning) const;
  std::optional<Date> date(std::string_view example) const;  // YYYY-MM-DD
  // A list's entries (an empty list is reported, as "expected one or more `what`"); a single
  // value is a list of one.
  std::vector<Node> items(std::string_view what) const;
  void problem(const std::string& message) const;  // reported at this value
  const std::shared_ptr<const Impl>& impl() const { return impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

// A 'key: value' block. Unknown and duplicate keys are reported when it is opened; `unknown`, when
// given, words the message for a key it does not know (e.g. one of another source type), or returns
// "" for the usual "unknown key ... did you mean".
class Section {
 public:
  using UnknownKey = std::function<std::string(const std::string& key)>;
  Section(const Node& node, std::vector<std::string_view> known, const UnknownKey& unknown = {});
  ~Section();
  Section(const Section&) = delete;
  Section& operator=(const Section&) = delete;
  std::optional<Node> optional(std::string_view key) const;
  // Missing keys are reported at the start of the block; `expected` says what to write.
  std::optional<Node> required(std::string_view key, std::string_view expected) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads another YAML file of the daemon's (a vendor profile) with the same typed reads: `read`
// gets the file's top-level mapping. Throws ConfigError with every problem found (file:line:column)
// when the file cannot be read, is not YAML settings, or `read` reported a problem.
void read_yaml_file(const std::filesystem::path& file, const std::function<void(const Node& root)>& read);

// A value shown inside a message: quoted and cut short (never inside a UTF-8 character).
std::string in_quotes(std::string_view value);
// True when `s` holds only ASCII letters, digits and characters of `extra`.
bool all_chars_in(std::string_view s, std::string_view extra);

}  // namespace sennen::config
