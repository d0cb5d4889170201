#pragma once
// A C-STORE / C-ECHO service class provider on its own threads. DCMTK's networking is blocking, so
// it runs here, off the pipeline's worker and the service's event loop; what to do with a
// received instance is the StoreHandler's business (no DCMTK type crosses this interface).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sennen::dicom {

// DIMSE status codes we answer with (PS3.4 Annex B and PS3.7 Annex C).
namespace status {
inline constexpr std::uint16_t success = 0x0000;
inline constexpr std::uint16_t out_of_resources = 0xA700;
inline constexpr std::uint16_t data_set_does_not_match = 0xA900;
inline constexpr std::uint16_t cannot_understand = 0xC000;
inline constexpr std::uint16_t processing_failure = 0x0110;
}  // namespace status

struct ScpOptions {
  std::uint16_t port = 104;
  std::string bind_address;                            // IPv4 address to listen on; empty: every interface
  std::string ae_title;                                // our (called) AE title; others are refused
  std::vector<std::string> allowed_calling_ae_titles;  // only these peers may associate
  std::vector<std::string> allowed_addresses;          // peer IP addresses; empty: any
  // Bounds on a peer that stops talking: association negotiation, and each DIMSE message or PDU
  // inside an association. A stuck peer is dropped after this long instead of pinning the thread.
  std::chrono::seconds acse_timeout{30};
  std::chrono::seconds dimse_timeout{60};
  // Associations served at once, each on its own thread, so one slow modality does not hold up
  // the others; one more is refused as "local limit exceeded" (transient: the peer retries).
  int max_associations = 4;
};

// Called on the SCP's association threads: concurrently, up to max_associations at a time.
class StoreHandler {
 public:
  virtual ~StoreHandler() = default;
  struct Begin {
    std::uint16_t status = status::success;  // not success: the data set is read and discarded
    std::filesystem::path file;              // where to stream the data set (Part-10, with meta header)
  };
  virtual Begin begin_store(std::string_view calling_ae, std::string_view sop_instance_uid) = 0;
  // The data set is in `file` (received == true), or the transfer broke off (received == false,
  // `why` says how). Returns the status to answer; success only once the instance is safe.
  virtual std::uint16_t end_store(const std::filesystem::path& file, bool received, std::string_view calling_ae,
                                  std::string_view sop_instance_uid, std::string_view why) = 0;
  // A peer turned away at negotiation (already logged with the reason): the whole association
  // (AE title or address not allowed), or some of its presentation contexts (SOP class or transfer
  // syntax we cannot take), counted once per association.
  enum class Refusal { association, presentation_context };
  virtual void refused(std::string_view calling_ae, Refusal what) = 0;
};

class StoreScp {
 public:
  StoreScp(ScpOptions options, StoreHandler& handler);
  ~StoreScp();  // stops and joins every thread
  StoreScp(const StoreScp&) = delete;
  StoreScp& operator=(const StoreScp&) = delete;

  // Opens the port (throws sennen::Error naming the port when it cannot) and starts accepting.
  void start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sennen::dicom
