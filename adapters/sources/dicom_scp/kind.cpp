// type: dicom-scp: the keys of a source that receives pushes, read into ReceiverOptions.
#include <arpa/inet.h>

#include "adapters/sources/dicom_scp/scp_source.hpp"
#include "daemon/config/reader.hpp"

namespace sennen::dicom {
namespace {

std::shared_ptr<const config::SourceOptions> read(const config::Section& s) {
  auto o = std::make_shared<ScpKeys>();
  if (auto p = s.required("port", "port: 11112 (the TCP port modalities send to)"))
    if (auto n = p->integer(1, 65535)) o->scp.port = static_cast<std::uint16_t>(*n);
  if (auto a = s.required("ae_title", "ae_title: SENNEN (the AE title modalities call)"))
    if (auto t = read_ae_title(*a)) o->scp.ae_title = *t;
  if (auto l = s.required("allowed_calling_ae_titles", "allowed_calling_ae_titles: [CT1, MR1] (who may send)"))
    for (const auto& item : l->items("AE titles"))
      if (auto t = read_ae_title(item)) o->scp.allowed_calling_ae_titles.push_back(*t);
  if (auto l = s.optional("allowed_addresses"))
    for (const auto& item : l->items("IP addresses")) {
      auto t = item.text("an IP address such as 10.1.2.3");
      if (!t) continue;
      unsigned char buf[sizeof(struct in6_addr)];
      if (::inet_pton(AF_INET, t->c_str(), buf) == 1 || ::inet_pton(AF_INET6, t->c_str(), buf) == 1)
        o->scp.allowed_addresses.push_back(*t);
      else
        item.problem(config::in_quotes(*t) +
                     " is not an IP address; write e.g. 10.1.2.3 (host names are not accepted)");
    }
  if (auto m = s.optional("max_associations"))
    if (auto n = m->integer(1, 64)) o->scp.max_associations = static_cast<int>(*n);
  o->storage = read_storage(s);
  return o;
}

std::vector<std::string_view> keys() {
  std::vector<std::string_view> k{"port", "ae_title", "allowed_calling_ae_titles", "allowed_addresses",
                                  "max_associations"};
  k.insert(k.end(), kStorageKeys.begin(), kStorageKeys.end());
  return k;
}

std::unique_ptr<Source> build(const config::Source& source, const config::Config& config) {
  const auto& k = source.options_as<ScpKeys>();
  ReceiverOptions o;
  o.name = source.name;
  o.state_dir = config.state_dir;
  o.scp = k.scp;
  o.min_free = k.storage.min_free;
  o.max_incoming = k.storage.max_incoming;
  o.patient_id = k.storage.patient_id;
  return make_dicom_scp_source(std::move(o));
}

}  // namespace

const adapters::SourceKind& scp_kind() {
  static const adapters::SourceKind kind{{"dicom-scp", "DICOM images pushed to us (C-STORE)", keys(), read},
                                         build,
                                         /*probe=*/nullptr,  // its peers call in; there is no one to probe
                                         /*filters=*/nullptr,
                                         /*check=*/nullptr};
  return kind;
}

}  // namespace sennen::dicom
