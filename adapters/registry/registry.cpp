#include "adapters/registry/registry.hpp"

#include <cstdio>

#include "adapters/destinations/https/https_destination.hpp"
#include "adapters/destinations/local/local_destination.hpp"
#include "adapters/destinations/s3/s3_destination.hpp"
#include "adapters/sources/dicom_qr/qr_source.hpp"
#include "adapters/sources/dicom_scp/scp_source.hpp"
#include "adapters/sources/ssmix2/standard_source.hpp"
#include "adapters/sources/ssmix2_extended/extended_source.hpp"

namespace sennen::adapters {

std::vector<std::unique_ptr<Source>> make_sources(const config::Config& config) {
  std::vector<std::unique_ptr<Source>> out;
  for (const auto& s : config.sources) {
    ssmix2::TreeSourceOptions o{s.name,           s.roots,           s.stable_after, s.max_record_bytes,
                                s.allow_hard_links, s.cross_filesystems};
    switch (s.type) {
      case config::SourceType::ssmix2: out.push_back(ssmix2::make_standard_source(std::move(o))); break;
      case config::SourceType::ssmix2_extended: out.push_back(ssmix2::make_extended_source(std::move(o))); break;
      case config::SourceType::dicom_scp: {
        const auto& d = s.dicom;
        dicom::ScpSourceOptions so;
        so.name = s.name;
        so.state_dir = config.state_dir;
        so.scp.port = static_cast<std::uint16_t>(d.port);
        so.scp.ae_title = d.ae_title;
        so.scp.allowed_calling_ae_titles = d.allowed_calling_ae_titles;
        so.scp.allowed_addresses = d.allowed_addresses;
        so.scp.max_associations = d.max_associations;
        so.min_free = d.min_free;
        so.max_incoming = d.max_incoming;
        so.patient_id = {d.patient_id.strip_leading_zeros, static_cast<std::size_t>(d.patient_id.pad_to)};
        out.push_back(dicom::make_dicom_scp_source(std::move(so)));
        break;
      }
      case config::SourceType::dicom_qr: {
        const auto& d = s.dicom_qr;
        dicom::QrSourceOptions qo;
        qo.name = s.name;
        qo.state_dir = config.state_dir;
        qo.peer.host = d.host;
        qo.peer.port = static_cast<std::uint16_t>(d.port);
        qo.peer.ae_title = d.ae_title;
        qo.peer.local_ae_title = d.local_ae_title;
        qo.retrieve = d.retrieve == "move" ? dicom::Retrieve::move : dicom::Retrieve::get;
        qo.move_port = static_cast<std::uint16_t>(d.move_port);
        qo.move_address = d.move_address;
        qo.utc_offset_minutes = config.site.utc_offset_minutes;
        qo.lookback_days = static_cast<int>(d.lookback.count() / (24 * 3600));
        if (d.since) {
          char buf[16];
          std::snprintf(buf, sizeof buf, "%04d%02d%02d", d.since->year, d.since->month, d.since->day);
          qo.since = buf;
        }
        qo.min_free = d.min_free;
        qo.max_incoming = d.max_incoming;
        qo.patient_id = {d.patient_id.strip_leading_zeros, static_cast<std::size_t>(d.patient_id.pad_to)};
        out.push_back(dicom::make_dicom_qr_source(std::move(qo)));
        break;
      }
    }
  }
  return out;
}

std::unique_ptr<Destination> make_destination(const config::Config& config) {
  switch (config.destination.type) {
    case config::DestinationType::local:
      return destinations::make_local_destination(config.destination.path, config.site.id);
    case config::DestinationType::https: {
      const auto& d = config.destination;
      return destinations::make_https_destination({d.url, config.site.id, d.tls.ca, d.tls.cert, d.tls.key,
                                                   d.connect_timeout, d.low_speed_bytes, d.low_speed_time,
                                                   config.schedule.bandwidth_bytes_per_second});
    }
    case config::DestinationType::s3: {
      const auto& d = config.destination;
      destinations::S3Options o;
      o.endpoint = d.endpoint;
      o.bucket = d.bucket;
      o.region = d.region;
      o.prefix = d.prefix;
      o.virtual_host = d.addressing == config::S3Addressing::virtual_host;
      o.site_id = config.site.id;
      o.access_key_file = d.access_key_file;
      o.ca = d.tls.ca;
      o.use_system_ca = d.tls.use_system_ca;
      o.multipart_threshold = d.multipart_threshold;
      o.part_size = d.part_size;
      o.connect_timeout = d.connect_timeout;
      o.low_speed_bytes = d.low_speed_bytes;
      o.low_speed_time = d.low_speed_time;
      o.max_send_bytes_per_second = config.schedule.bandwidth_bytes_per_second;
      return destinations::make_s3_destination(std::move(o));
    }
  }
  return nullptr;
}

}  // namespace sennen::adapters
