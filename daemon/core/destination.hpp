#pragma once
// Where sealed batches go. A destination delivers one batch file plus its commit marker, and the
// heartbeat. Delivery is idempotent: the same batch again means the same bytes under the same
// names. Retry policy lives with the caller, never in a destination.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace sennen {

struct BatchFile {
  std::string batch_id;
  std::string day;              // YYYYMMDD (site time) the batch was created: the folder it goes in
  std::filesystem::path file;   // the sealed .cms in the outbox
  std::uint64_t size = 0;
  std::string sha256;
  std::string marker_json;      // the commit marker, written after the batch (no patient data)
};

struct DeliveryResult {
  enum class Status { delivered, retry, rejected } status = Status::delivered;
  std::string reason;  // for retry/rejected: what happened and what an operator can do
};

class Destination {
 public:
  virtual ~Destination() = default;
  virtual std::string describe() const = 0;  // e.g. "local /var/lib/sennen-edge/export"
  virtual DeliveryResult deliver(const BatchFile& batch) = 0;
  virtual DeliveryResult put_heartbeat(std::string_view json) = 0;
};

}  // namespace sennen
