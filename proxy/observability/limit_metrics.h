#pragma once
// Metrics of the shared-state side of rate limiting, quotas and metering: whether each worker's
// Redis connection is up (and so whether Global limits are exact or degraded to per-replica
// shares), Redis errors by kind and command latency, usage persistence. Lock-free counters.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace atrium::proxy::observability {

class LimitMetrics {
 public:
  static constexpr std::array<double, 10> kLatencyBuckets = {0.0002, 0.0005, 0.001, 0.0025, 0.005,
                                                             0.01,   0.025,  0.05,  0.1,    0.25};
  enum class RedisError : uint8_t { kConnect, kTimeout, kReply, kIo, kCount };

  // --redis given: the Redis series are rendered.
  std::atomic<bool> redis_configured{false};
  // Workers whose Redis connection is down right now (their Global limits are degraded).
  std::atomic<int> redis_workers_down{0};
  std::atomic<int> redis_workers{0};
  std::atomic<uint64_t> degraded_decisions{0};
  std::atomic<uint64_t> usage_writes_failed{0};

  void recordRedisError(RedisError kind);
  void recordRedisLatency(double seconds);
  std::string render() const;

 private:
  std::array<std::atomic<uint64_t>, static_cast<size_t>(RedisError::kCount)> errors_{};
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> latency_{};
  std::atomic<uint64_t> latency_sum_us_{0};
  std::atomic<uint64_t> latency_count_{0};
};

LimitMetrics::RedisError redisErrorFromKind(std::string_view kind);

}  // namespace atrium::proxy::observability
