#include "daemon/dispatch/backoff.hpp"

#include <memory>
#include <random>

namespace sennen::dispatch {

Backoff::Random Backoff::seeded(std::uint64_t seed) {
  // Shared so copies of the function continue one sequence instead of replaying it.
  auto engine = std::make_shared<std::mt19937_64>(seed);
  return [engine](std::uint64_t max) { return std::uniform_int_distribution<std::uint64_t>(0, max)(*engine); };
}

Backoff::Random Backoff::from_entropy() {
  std::random_device device;
  return seeded((static_cast<std::uint64_t>(device()) << 32) ^ device());
}

Backoff::Backoff(BackoffPolicy policy, Random random) : policy_(policy), random_(std::move(random)) {}

std::chrono::milliseconds Backoff::ceiling(unsigned failures_before) const {
  auto limit = policy_.base;
  // Doubling stops at the cap, so no shift can overflow however long the receiver is away.
  for (unsigned i = 0; i < failures_before && limit < policy_.cap; ++i) limit *= 2;
  return std::min(limit, policy_.cap);
}

TimePoint Backoff::failed(TimePoint now) {
  const auto limit = ceiling(failures_);
  const auto wait = std::chrono::milliseconds(
      static_cast<std::chrono::milliseconds::rep>(random_(static_cast<std::uint64_t>(limit.count()))));
  ++failures_;
  next_ = now + wait;
  return *next_;
}

bool Backoff::ready(TimePoint now) const { return !next_ || now >= *next_ || *next_ - now > policy_.cap; }

void Backoff::succeeded() {
  failures_ = 0;
  next_.reset();
}

}  // namespace sennen::dispatch
