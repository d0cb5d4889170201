// poll() side: see incoming.cpp for how an instance moves on without being lost or sent twice.
// State kept in SourceState besides incoming.cpp's: "taken/<Study>", one unit per SOP Instance UID
// taken into the spool (status: its hash), so that a modality's identical re-send is dropped.
#include "adapters/sources/dicom_scp/scp_source.hpp"

#include "adapters/sources/dicom_common/incoming.hpp"
#include "adapters/sources/dicom_common/receiver.hpp"
#include "daemon/util/error.hpp"
#include "daemon/core/patient_id.hpp"
#include "daemon/util/log.hpp"

namespace sennen::dicom {

namespace {

class ScpSource final : public Source {
 public:
  explicit ScpSource(ReceiverOptions options)
      : options_(std::move(options)),
        folders_(Folders::of(options_.state_dir, options_.name)),
        receiver_(options_, folders_),
        incoming_(options_.name, folders_, options_.patient_id, "taken/"),
        scp_(options_.scp, receiver_) {}

  ~ScpSource() override { scp_.stop(); }

  const std::string& name() const override { return options_.name; }

  void poll(SourceContext& ctx) override {
    try {
      poll_folders(ctx);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {  // std::filesystem errors: the pipeline handles sennen::Error
      throw Error("source " + name() + ": " + e.what() + "; check that " + options_.state_dir.string() +
                  " is writable by the service and not full");
    }
  }

  void poll_folders(SourceContext& ctx) {
    ctx.stats = SourceStats{};
    if (!started_) {
      receiver_.prepare(ctx.spool_full);
      scp_.start();
      started_ = true;
      log::notice("source " + name() + ": DICOM SCP '" + options_.scp.ae_title + "' listening on port " +
                  std::to_string(options_.scp.port));
    }
    incoming_.quarantine_rejected(ctx);
    incoming_.settle(ctx);
    incoming_.take(ctx);
    ctx.stats.events = receiver_.events().snapshot();
    ctx.sink.checkpoint();
  }

  std::optional<std::vector<ContentPart>> locate(std::string_view path, std::string_view version) const override {
    return incoming_.locate(path, version);
  }

 private:
  ReceiverOptions options_;
  Folders folders_;
  Receiver receiver_;
  IncomingFolder incoming_;
  StoreScp scp_;
  bool started_ = false;
};

}  // namespace

std::unique_ptr<Source> make_dicom_scp_source(ReceiverOptions options) {
  return std::make_unique<ScpSource>(std::move(options));
}

}  // namespace sennen::dicom
