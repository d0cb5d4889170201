#include "adapters/destinations/local/local_destination.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "daemon/util/durable_dirs.hpp"
#include "daemon/util/error.hpp"
#include "daemon/util/fd.hpp"
#include "daemon/util/log.hpp"
#include "daemon/util/sha256.hpp"
#include "daemon/util/stale_temps.hpp"

namespace sennen::destinations {
namespace fs = std::filesystem;
namespace {

// True when `target` already holds exactly the batch (a re-delivery after a crash).
bool already_there(const fs::path& target, const BatchFile& b) {
  std::error_code ec;
  if (fs::file_size(target, ec) != b.size || ec) return false;
  return util::sha256_file_hex(target) == b.sha256;
}

// True when `dir` is where a file system is mounted: it is on another device than its parent, or
// it is its own parent (/). A bind mount of a folder of the same file system is not told apart.
bool is_mount_point(const fs::path& dir) {
  struct stat self {
  }, parent{};
  if (::stat(dir.c_str(), &self) != 0 || !S_ISDIR(self.st_mode)) return false;
  if (::stat((dir / "..").c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev || self.st_ino == parent.st_ino;
}

class LocalDestination final : public Destination {
 public:
  LocalDestination(LocalKeys keys, std::string site)
      : root_(std::move(keys.path)), mount_point_(keys.mount_point), site_(std::move(site)) {}

  std::string describe() const override { return "local " + root_.string(); }

  DeliveryResult deliver(const BatchFile& b) override {
    try {
      require_mounted();
      fs::path dir = root_ / site_ / b.day;
      make_dirs(dir);
      fs::path target = dir / (b.batch_id + ".cms");
      util::remove_stale_temps(target);
      util::remove_stale_temps(dir / (b.batch_id + ".json"));
      if (!already_there(target, b)) {
        util::AtomicFile out(target, 0640);
        util::Fd in = util::open_for_read(b.file);
        util::Sha256 h;
        std::vector<std::byte> buf(256 * 1024);
        std::uint64_t total = 0;
        while (std::size_t n = util::read_some(in, buf, b.file)) {
          std::span<const std::byte> chunk(buf.data(), n);
          h.update(chunk);
          out.write(chunk);
          total += n;
        }
        if (total != b.size || h.hex_digest() != b.sha256)
          throw Error("outbox file " + b.file.string() +
                      " does not match its recorded size and sha256; "
                      "delete it and its records are sealed again");
        out.commit();
      }
      log::stage("marker", b.batch_id);
      util::AtomicFile marker(dir / (b.batch_id + ".json"), 0640);
      marker.write(b.marker_json);
      marker.commit();
      return DeliveryResult::delivered();
    } catch (const Error& e) {
      return DeliveryResult::retry(e.what());
    }
  }

  DeliveryResult put_heartbeat(std::string_view json) override {
    try {
      require_mounted();
      make_dirs(root_ / site_);
      const fs::path target = root_ / site_ / "heartbeat.json";
      util::remove_stale_temps(target);
      util::AtomicFile f(target, 0640);
      f.write(json);
      f.commit();
      return DeliveryResult::delivered();
    } catch (const Error& e) {
      return DeliveryResult::retry(e.what());
    }
  }

  // A delivery killed while copying leaves "<batch>.cms.tmp-<pid>", one killed between the batch
  // and its marker a whole "<batch>.cms" without marker; neither is ever completed now.
  void abandon(const BatchFile& b) override {
    if (!unmounted().empty()) return;
    const fs::path dir = root_ / site_ / b.day;
    std::error_code ec;
    if (fs::exists(dir / (b.batch_id + ".json"), ec) || ec) return;
    util::remove_stale_temps(dir / (b.batch_id + ".cms"));
    util::remove_stale_temps(dir / (b.batch_id + ".json"));
    fs::remove(dir / (b.batch_id + ".cms"), ec);
  }

  DeliveryResult check_access() override {
    if (auto why = unmounted(); !why.empty()) return DeliveryResult::retry(why);
    std::error_code ec;
    const fs::path existing = fs::exists(root_, ec) ? root_ : root_.parent_path();
    if (::access(existing.c_str(), W_OK | X_OK) == 0) return DeliveryResult::delivered();
    return DeliveryResult::rejected("cannot write into " + existing.string() + ": " + util::errno_text(errno) +
                                    " (check destination.path and that the sennen-edge user may write there)");
  }

  Presence presence(const BatchFile& b) override {
    if (auto why = unmounted(); !why.empty()) return Presence::unknown(why);
    const fs::path dir = root_ / site_ / b.day;
    std::error_code ec;
    const bool marker = fs::exists(dir / (b.batch_id + ".json"), ec);
    if (ec) return Presence::unknown("cannot look into " + dir.string() + ": " + ec.message());
    if (!marker) return Presence::absent();
    const auto size = fs::file_size(dir / (b.batch_id + ".cms"), ec);
    if (ec || size != b.size) return Presence::absent();  // a marker without its batch counts for nothing
    // The spool lets the batch go on this answer and never delivers it again, so what a delivery
    // cut off after the first one left (a temp file of the batch or of its marker) goes now; and a
    // kill between the marker's rename and its folder's sync leaves both files' entries only in the
    // page cache: synced now, with the folders.
    try {
      util::remove_stale_temps(dir / (b.batch_id + ".cms"));
      util::remove_stale_temps(dir / (b.batch_id + ".json"));
      util::fsync_directory(dir);
      make_dirs(dir);
    } catch (const Error& e) {
      return Presence::unknown(e.what());
    }
    return Presence::complete();
  }

 private:
  // Why nothing may be written or looked for now (mount_point: true and nothing mounted at the
  // path), or "".
  std::string unmounted() const {
    if (!mount_point_ || is_mount_point(root_)) return "";
    return "nothing is mounted at destination folder " + root_.string() +
           " (mount_point: true): mount the removable media or share there; batches wait in the outbox until then";
  }

  void require_mounted() const {
    if (auto why = unmounted(); !why.empty()) throw Error(why);
  }

  // The site and day folders are synced into their parents at every delivery, not only when made
  // here: the files written into them are synced, but after a power cut a folder entry never synced
  // can be gone, and the batch with it, once the spool let go (util/durable_dirs.hpp).
  void make_dirs(const fs::path& dir) const {
    try {
      util::create_directories_durably(dir, root_);
    } catch (const Error& e) {
      throw Error(std::string("destination: ") + e.what() +
                  " (check destination.path and that the sennen-edge user may write there)");
    }
  }

  fs::path root_;
  bool mount_point_;
  std::string site_;
};

}  // namespace

std::unique_ptr<Destination> make_local_destination(LocalKeys keys, std::string site_id) {
  return std::make_unique<LocalDestination>(std::move(keys), std::move(site_id));
}

}  // namespace sennen::destinations
