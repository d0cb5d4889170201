// type: local: the export folder, and whether it must be a mount point.
#include "adapters/destinations/local/local_destination.hpp"
#include "daemon/config/reader.hpp"

namespace sennen::destinations {
const adapters::DestinationKind& local_kind() {
  static const adapters::DestinationKind kind{
      {"local",
       "a folder on this machine",
       {"path", "mount_point"},
       [](const config::Section& s) -> std::shared_ptr<const config::DestinationOptions> {
         auto o = std::make_shared<LocalKeys>();
         if (auto p = s.required("path", "path: /var/lib/sennen-edge/export (where sealed batches are written)"))
           if (auto path = p->folder("a folder path, e.g. /var/lib/sennen-edge/export")) o->path = *path;
         if (auto m = s.optional("mount_point"))
           if (auto b = m->boolean()) o->mount_point = *b;
         return o;
       }},
      [](const config::Config& config) {
        return make_local_destination(config.destination.options_as<LocalKeys>(), config.site.id);
      },
      /*check_file=*/nullptr,  // names no file
      /*probe=*/nullptr};      // check_access() tries the folder itself
  return kind;
}

}  // namespace sennen::destinations
