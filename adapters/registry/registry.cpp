#include "adapters/registry/registry.hpp"

#include "adapters/destinations/https/https_destination.hpp"
#include "adapters/destinations/local/local_destination.hpp"
#include "adapters/destinations/s3/s3_destination.hpp"
#include "adapters/sources/dicom_qr/qr_source.hpp"
#include "adapters/sources/dicom_scp/scp_source.hpp"
#include "adapters/sources/mml/mml_source.hpp"
#include "adapters/sources/dropbox/dropbox_source.hpp"
#include "adapters/sources/ssmix2/standard_source.hpp"
#include "adapters/sources/ssmix2_extended/extended_source.hpp"
#include "daemon/util/error.hpp"

namespace sennen::adapters {

const std::vector<const SourceKind*>& source_kinds() {
  static const std::vector<const SourceKind*> kinds{
      &ssmix2::standard_kind(), &ssmix2::extended_kind(), &dicom::scp_kind(),
      &dicom::qr_kind(),        &mml::mml_kind(),         &dropbox::dropbox_kind(),
  };
  return kinds;
}

const std::vector<const DestinationKind*>& destination_kinds() {
  static const std::vector<const DestinationKind*> kinds{
      &destinations::local_kind(),
      &destinations::https_kind(),
      &destinations::s3_kind(),
  };
  return kinds;
}

ContentFilters content_filters(const config::Config& config) {
  ContentFilters f;
  for (const auto& s : config.sources)
    for (const auto* k : source_kinds())
      if (k->config.name == s.type && k->filters) k->filters(s, config, f);
  return f;
}

const config::Catalog& catalog() {
  static const config::Catalog catalog = [] {
    config::Catalog c;
    for (const auto* k : source_kinds()) c.sources.push_back(k->config);
    for (const auto* k : destination_kinds()) c.destinations.push_back(k->config);
    return c;
  }();
  return catalog;
}

std::vector<std::unique_ptr<Source>> make_sources(const config::Config& config) {
  std::vector<std::unique_ptr<Source>> out;
  for (const auto& s : config.sources) {
    const SourceKind* kind = nullptr;
    for (const auto* k : source_kinds())
      if (k->config.name == s.type) kind = k;
    if (!kind) throw Error("internal: source " + s.name + " has an unknown type " + s.type);
    out.push_back(kind->build(s, config));
  }
  return out;
}

std::unique_ptr<Destination> make_destination(const config::Config& config) {
  for (const auto* k : destination_kinds())
    if (k->config.name == config.destination.type) return k->build(config);
  throw Error("internal: unknown destination type " + config.destination.type);
}

}  // namespace sennen::adapters
