#include "proxy/upstream/retry_budget.h"

#include <algorithm>

namespace atrium::proxy::upstream {

namespace {
constexpr uint64_t kCountMask = 0xffff'ffffULL;

uint32_t tagOf(int64_t second) { return static_cast<uint32_t>(second); }
}  // namespace

RetryBudget::RetryBudget(RetryBudgetConfig config)
    : config_([&] {
        config.window_seconds = std::max<uint32_t>(config.window_seconds, 1);
        config.ratio = std::max(config.ratio, 0.0);
        return config;
      }()),
      buckets_(std::make_unique<Bucket[]>(config_.window_seconds)) {}

int64_t RetryBudget::secondOf(TimePoint t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

RetryBudget::Bucket& RetryBudget::bucket(int64_t second) const {
  const int64_t n = config_.window_seconds;
  return buckets_[static_cast<size_t>(((second % n) + n) % n)];
}

void RetryBudget::add(std::atomic<uint64_t>& counter, int64_t second) {
  const uint64_t tag = uint64_t{tagOf(second)} << 32;
  uint64_t old = counter.load(std::memory_order_relaxed);
  for (;;) {
    // Same second: one more (saturating); an older second: this bucket starts over.
    const uint64_t next =
        (old & ~kCountMask) == tag ? tag | std::min(kCountMask, (old & kCountMask) + 1) : tag | 1;
    if (counter.compare_exchange_weak(old, next, std::memory_order_relaxed)) return;
  }
}

uint64_t RetryBudget::countAt(const std::atomic<uint64_t>& counter, int64_t second) {
  const uint64_t w = counter.load(std::memory_order_relaxed);
  return (w >> 32) == tagOf(second) ? (w & kCountMask) : 0;
}

uint64_t RetryBudget::sum(std::atomic<uint64_t> Bucket::*counter, int64_t second) const {
  uint64_t total = 0;
  for (uint32_t i = 0; i < config_.window_seconds; ++i) {
    const int64_t s = second - i;
    total += countAt(bucket(s).*counter, s);
  }
  return total;
}

void RetryBudget::onRequest(TimePoint now) {
  const int64_t s = secondOf(now);
  add(bucket(s).requests, s);
}

bool RetryBudget::tryRetry(TimePoint now) {
  const int64_t s = secondOf(now);
  Bucket& current = bucket(s);
  bool allowed = countAt(current.retries, s) < config_.min_retries_per_second;
  if (!allowed) {
    const double requests = static_cast<double>(sum(&Bucket::requests, s));
    const double retries = static_cast<double>(sum(&Bucket::retries, s));
    allowed = retries + 1 <= config_.ratio * requests;
  }
  if (allowed) add(current.retries, s);
  return allowed;
}

uint64_t RetryBudget::requestsInWindow(TimePoint now) const {
  return sum(&Bucket::requests, secondOf(now));
}

uint64_t RetryBudget::retriesInWindow(TimePoint now) const {
  return sum(&Bucket::retries, secondOf(now));
}

}  // namespace atrium::proxy::upstream
