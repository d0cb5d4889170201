#pragma once
// Typed state a source keeps between polls beside its file tree: a DICOM source's watermark, the
// progress of each study, the refusals it must not repeat. A table holds items of one type T under
// a key, stored through SourceState (so they are committed in the same transaction as the records
// of the poll that wrote them). The adapter says once, in its Codec, how a T is written; the rest
// of its code sees only T. An item whose stored form does not decode (a spool edited by hand, or
// written by a version that stored something else there) reads as absent, so the source does the
// work again rather than act on a value it does not understand.
//
//   struct Codec {
//     static void encode(const T& value, UnitState& out);         // sets out.status (and size)
//     static std::optional<T> decode(const UnitState& stored);
//   };
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/core/source.hpp"

namespace sennen {

template <typename T, typename Codec>
class CheckpointTable {
 public:
  CheckpointTable(SourceState& state, std::string table) : state_(state), table_(std::move(table)) {}

  // Every item that decodes, by key.
  std::map<std::string, T> all() const {
    std::map<std::string, T> out;
    for (const auto& u : state_.units(table_))
      if (auto v = Codec::decode(u)) out.emplace(u.name, std::move(*v));
    return out;
  }
  std::optional<T> get(std::string_view key) const {
    for (const auto& u : state_.units(table_))
      if (u.name == key) return Codec::decode(u);
    return std::nullopt;
  }
  void put(std::string_view key, const T& value) {
    UnitState u;
    u.name = std::string(key);
    Codec::encode(value, u);
    state_.put_unit(table_, u);
  }
  void erase(std::string_view key) { state_.erase_unit(table_, key); }
  // Items stored, whether they decode or not.
  std::size_t size() const { return state_.units(table_).size(); }
  void clear() {
    for (const auto& u : state_.units(table_)) state_.erase_unit(table_, u.name);
  }

 private:
  SourceState& state_;
  std::string table_;
};

}  // namespace sennen
