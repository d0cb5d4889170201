// type: dicom-qr: the keys of a source that polls a PACS, read into QrSourceOptions.
#include <arpa/inet.h>

#include <cstdio>

#include "adapters/sources/dicom_common/echo.hpp"
#include "adapters/sources/dicom_qr/qr_source.hpp"
#include "daemon/config/reader.hpp"

namespace sennen::dicom {
namespace {

std::shared_ptr<const config::SourceOptions> read(const config::Section& s) {
  auto o = std::make_shared<QrKeys>();
  if (auto p = s.required("peer", "peer: {host: 10.1.2.3, port: 104, ae_title: PACS} (the PACS to poll)")) {
    config::Section ps(*p, {"host", "port", "ae_title"});
    if (auto h = ps.required("host", "host: 10.1.2.3 (the PACS's address)"))
      if (auto t = h->text("a host name or IP address such as 10.1.2.3")) {
        if (t->empty() || t->find_first_of(" /\\") != std::string::npos)
          h->problem(config::in_quotes(*t) + " is not a host; write e.g. 10.1.2.3");
        else
          o->peer.host = *t;
      }
    if (auto n = ps.required("port", "port: 104 (the PACS's DICOM port)"))
      if (auto v = n->integer(1, 65535)) o->peer.port = static_cast<std::uint16_t>(*v);
    if (auto a = ps.required("ae_title", "ae_title: PACS (the PACS's AE title)"))
      if (auto t = read_ae_title(*a)) o->peer.ae_title = *t;
  }
  if (auto a = s.required("local_ae_title", "local_ae_title: SENNEN (our AE title, as configured in the PACS)"))
    if (auto t = read_ae_title(*a)) o->peer.local_ae_title = *t;
  if (auto r = s.optional("retrieve"))
    if (auto t = r->choice({"get", "move"},
                           "get = C-GET (no inbound port needed), move = C-MOVE to local_ae_title on move_port"))
      o->retrieve = *t == "move" ? Retrieve::move : Retrieve::get;
  if (o->retrieve == Retrieve::move) {
    if (auto p = s.required("move_port", "move_port: 11113 (where the PACS connects to deliver a C-MOVE)"))
      if (auto n = p->integer(1, 65535)) o->move_port = static_cast<std::uint16_t>(*n);
    if (auto a = s.optional("move_address"))
      if (auto t = a->text("an IPv4 address of this host such as 10.1.2.4")) {
        in_addr addr{};
        if (::inet_pton(AF_INET, t->c_str(), &addr) == 1)
          o->move_address = *t;
        else
          a->problem(config::in_quotes(*t) + " is not an IPv4 address; write e.g. 10.1.2.4");
      }
  } else {
    for (std::string_view key : {"move_port", "move_address"})
      if (auto extra = s.optional(key))
        extra->problem("'" + std::string(key) + "' is only used with retrieve: move; remove it");
  }
  if (auto l = s.optional("lookback"))
    if (auto secs = l->duration(true)) o->lookback = *secs;
  if (auto v = s.optional("since")) o->since = v->date("2015-01-01");
  o->storage = read_storage(s);
  return o;
}

std::vector<std::string_view> keys() {
  std::vector<std::string_view> k{"peer",  "local_ae_title", "retrieve",    "lookback",
                                  "since", "move_port",      "move_address"};
  k.insert(k.end(), kStorageKeys.begin(), kStorageKeys.end());
  return k;
}

}  // namespace

const adapters::SourceKind& qr_kind() {
  static const adapters::SourceKind kind{
      {"dicom-qr", "DICOM studies polled from a PACS (C-FIND, C-GET)", keys(), read},
      [](const config::Source& source, const config::Config& config) {
        const auto& k = source.options_as<QrKeys>();
        QrSourceOptions o;
        o.name = source.name;
        o.state_dir = config.state_dir;
        o.peer = k.peer;
        o.retrieve = k.retrieve;
        o.move_port = k.move_port;
        o.move_address = k.move_address;
        o.utc_offset_minutes = config.site.utc_offset_minutes;
        o.lookback_days = static_cast<int>(k.lookback.count() / (24 * 3600));
        if (k.since) {
          char buf[16];
          std::snprintf(buf, sizeof buf, "%04d%02d%02d", k.since->year, k.since->month, k.since->day);
          o.since = buf;
        }
        o.min_free = k.storage.min_free;
        o.max_incoming = k.storage.max_incoming;
        o.patient_id = k.storage.patient_id;
        return make_dicom_qr_source(std::move(o));
      },
      [](const config::Source& source, const config::Config&, adapters::Findings& out) {
        const auto& p = source.options_as<QrKeys>().peer;
        const std::string problem = echo({p.host, p.port, p.ae_title, p.local_ae_title, std::chrono::seconds(10)});
        if (problem.empty())
          out.push_back({adapters::Finding::Level::pass, "DICOM peer " + source.name,
                         p.ae_title + "@" + p.host + ":" + std::to_string(p.port) + " answered C-ECHO (we are " +
                             p.local_ae_title + ")"});
        else
          out.push_back({adapters::Finding::Level::fail, "DICOM peer " + source.name, problem});
      },
      /*filters=*/nullptr,
      /*check=*/nullptr};
  return kind;
}

}  // namespace sennen::dicom
