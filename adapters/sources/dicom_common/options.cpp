#include "adapters/sources/dicom_common/options.hpp"

#include <algorithm>

namespace sennen::dicom {

std::string map_patient_id(std::string_view raw, const PatientIdMapping& mapping) {
  std::string id(raw);
  const bool digits = !id.empty() && id.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) return id;
  if (mapping.strip_leading_zeros) {
    auto first = id.find_first_not_of('0');
    id = first == std::string::npos ? "0" : id.substr(first);
  }
  if (id.size() < mapping.pad_to) id.insert(0, mapping.pad_to - id.size(), '0');
  return id;
}

const std::vector<std::string_view> kStorageKeys = {"min_free", "max_incoming", "patient_id"};

Storage read_storage(const config::Section& s) {
  Storage out;
  if (auto m = s.optional("min_free"))
    if (auto n = m->size()) out.min_free = *n;
  if (auto m = s.optional("max_incoming")) {
    if (auto n = m->size()) {
      if (*n < (1ull << 20))
        m->problem(config::in_quotes(m->scalar()) + " is too small; write at least 1MiB (e.g. 10GiB)");
      else
        out.max_incoming = *n;
    }
  }
  if (auto p = s.optional("patient_id")) {
    config::Section ps(*p, {"strip_leading_zeros", "pad_to"});
    if (auto b = ps.optional("strip_leading_zeros"))
      if (auto value = b->boolean()) out.patient_id.strip_leading_zeros = *value;
    if (auto n = ps.optional("pad_to"))
      if (auto value = n->integer(0, 64)) out.patient_id.pad_to = static_cast<std::size_t>(*value);
  }
  return out;
}

std::optional<std::string> read_ae_title(const config::Node& n) {
  auto t = n.text("an AE title such as SENNEN");
  if (!t) return std::nullopt;
  std::string s = *t;
  while (!s.empty() && s.back() == ' ') s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  const bool ok = !s.empty() && s.size() <= 16 &&
                  std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '\\'; });
  if (!ok) {
    n.problem(config::in_quotes(*t) +
              " is not an AE title; use 1 to 16 ASCII letters, digits, spaces or "
              "punctuation other than '\\', e.g. SENNEN");
    return std::nullopt;
  }
  return s;
}

}  // namespace sennen::dicom
