#pragma once
// A retry budget (as in Finagle and Linkerd): retries may add at most `ratio` (20%) to the load on
// a cluster, so that retries cannot turn an upstream's bad minute into a retry storm. Counted over
// a sliding window of `window_seconds` one-second buckets:
//
//   a retry may go when  retries_in_window + 1 ≤ ratio × requests_in_window
//                   or   retries_this_second < min_retries_per_second
//
// The second clause keeps retries possible at low traffic (with 2 requests a minute, 20% would
// never allow one); it adds at most min_retries_per_second retries per second on top of the
// ratio. "Requests" are first tries only (onRequest); retries are counted by tryRetry itself.
//
// Threading: shared by every worker (one budget per route and cluster, like the breaker).
// Lock-free: each counter is one atomic word holding (second, count), so a bucket rolls over to
// a new second without losing increments. The check and the count are two steps, so concurrent
// retries can overshoot the budget by at most one per worker — irrelevant for a load bound.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace atrium::proxy::upstream {

struct RetryBudgetConfig {
  double ratio = 0.2;
  uint32_t min_retries_per_second = 3;
  uint32_t window_seconds = 10;  // ≥ 1
};

class RetryBudget {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit RetryBudget(RetryBudgetConfig config = {});

  // Counts a first try (not a retry).
  void onRequest(TimePoint now);
  // True when a retry may go; it is then counted. Ask only once shouldRetry() said yes.
  bool tryRetry(TimePoint now);

  uint64_t requestsInWindow(TimePoint now) const;
  uint64_t retriesInWindow(TimePoint now) const;
  const RetryBudgetConfig& config() const { return config_; }

 private:
  // Each counter: second (low 32 bits of the clock's seconds) << 32 | count.
  struct alignas(64) Bucket {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> retries{0};
  };

  static int64_t secondOf(TimePoint t);
  Bucket& bucket(int64_t second) const;
  static void add(std::atomic<uint64_t>& counter, int64_t second);
  uint64_t sum(std::atomic<uint64_t> Bucket::*counter, int64_t second) const;
  static uint64_t countAt(const std::atomic<uint64_t>& counter, int64_t second);

  const RetryBudgetConfig config_;
  std::unique_ptr<Bucket[]> buckets_;
};

}  // namespace atrium::proxy::upstream
