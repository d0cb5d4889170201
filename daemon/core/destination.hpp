#pragma once
// Where sealed batches go. A destination delivers one batch file plus its commit marker, and the
// heartbeat. Delivery is idempotent: the same batch again means the same bytes under the same
// names. Retry policy lives with the caller, never in a destination.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

namespace sennen {

struct BatchFile {
  std::string batch_id;
  std::string day;             // YYYYMMDD (site time) the batch was created: the folder it goes in
  std::filesystem::path file;  // the sealed .cms in the outbox
  std::uint64_t size = 0;
  std::string sha256;
  std::string marker_json;  // the commit marker, written after the batch (no patient data)
};

// What a destination answered. There is no default: success has to be said
// (DeliveryResult::delivered()), so a stray `return {}` in an error path cannot count a batch as
// delivered and delete its records from the spool.
class DeliveryResult {
 public:
  enum class Status { delivered, retry, rejected };
  static DeliveryResult delivered() { return {Status::delivered, {}}; }
  // A fault worth trying again (network, timeout, 5xx): what happened.
  static DeliveryResult retry(std::string why) { return {Status::retry, std::move(why)}; }
  // A refusal an operator has to fix (certificate, address, permission): what happened and what to do.
  static DeliveryResult rejected(std::string why) { return {Status::rejected, std::move(why)}; }

  bool ok() const { return status == Status::delivered; }
  Status status;
  std::string reason;  // for retry/rejected: what happened and what an operator can do

 private:
  DeliveryResult(Status s, std::string why) : status(s), reason(std::move(why)) {}
};

// Whether a batch is already complete at the destination (its commit marker is there).
class Presence {
 public:
  enum class State { complete, absent, unknown };
  static Presence complete() { return {State::complete, {}}; }
  static Presence absent() { return {State::absent, {}}; }
  static Presence unknown(std::string why) { return {State::unknown, std::move(why)}; }
  State state;
  std::string reason;  // unknown: why the destination could not be asked

 private:
  Presence(State s, std::string why) : state(s), reason(std::move(why)) {}
};

class Destination {
 public:
  virtual ~Destination() = default;
  virtual std::string describe() const = 0;  // e.g. "local /var/lib/sennen-edge/export"
  virtual DeliveryResult deliver(const BatchFile& batch) = 0;
  virtual DeliveryResult put_heartbeat(std::string_view json) = 0;
  // Complete when the batch's marker is there (and the batch with its recorded size), absent when
  // not. Asked before a sealed batch is voided: a crash can come between the marker's upload and
  // the spool's record of the delivery, and such a batch must count as delivered, not be voided
  // and its records sent again.
  virtual Presence presence(const BatchFile& batch) = 0;
  // The batch will never be delivered (it is being voided: a patient in it was stopped, or its
  // outbox file is gone): whatever an interrupted delivery of it left at the destination goes, so
  // nothing half-written stays there for good. Never touches a batch whose marker is there. Called
  // before the spool voids the batch, so a crash in between only means it is called again.
  // Errors are not reported: what is left is only clutter the central side ignores (no marker).
  virtual void abandon(const BatchFile& /*batch*/) {}
  // Whether this site may use the destination: a request that changes nothing (the network ones
  // authenticate, e.g. a HEAD of the site's heartbeat). For `sennen-edgectl doctor`.
  virtual DeliveryResult check_access() = 0;
};

}  // namespace sennen
