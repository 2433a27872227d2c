#pragma once
// Prometheus metrics for the data plane (SPEC §6). Counters on the request path are lock-free
// atomics reached through a per-route RouteMetrics pointer resolved when a snapshot is
// compiled, so a request never looks a metric up by name. The registry's mutex is taken only
// when a snapshot is compiled or /metrics is scraped.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "proxy/observability/limit_metrics.h"

namespace atrium::proxy::cache {
struct CacheCounters;
}

namespace atrium::proxy::observability {

enum class UpstreamErrorReason : uint8_t { kConnectFailure, kTimeout, kReset, kProtocol, kCount };
const char* toString(UpstreamErrorReason reason);

// Why a request was refused by authentication: no credentials, wrong ones, or a consumer the
// route does not allow.
enum class AuthFailureReason : uint8_t { kMissing, kInvalid, kForbidden, kCount };
const char* toString(AuthFailureReason reason);

// Why the gateway answered 429: a token bucket was empty, or the consumer's quota is used up.
enum class LimitRejection : uint8_t { kRateLimited, kQuotaExceeded, kCount };

// What became of a failed try under a route's retries policy.
enum class RetryEvent : uint8_t { kRetried, kBudgetExhausted, kCount };

// How a route with policy.cache answered (SPEC §6 atrium_cache_requests_total{result}).
enum class CacheResult : uint8_t { kHit, kMiss, kStale, kBypass, kCount };
const char* toString(CacheResult result);

// The text of each metric family, appended to by every route's render().
struct RouteSeriesText {
  std::string requests, durations, upstream_errors, auth_failures, ratelimit_rejections,
      quota_rejections, cache_requests, retries, circuit_rejections, websockets;
};

class RouteMetrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1,    2.5,   10};
  explicit RouteMetrics(size_t shards);

  // Which shard the calling thread records into: each worker thread sets its own index once,
  // so workers never write to the same cache lines. Threads that never set it use shard 0.
  static void setThreadShard(size_t index);

  // Called on any worker.
  void recordRequest(std::string_view method, int status, double seconds);
  void recordUpstreamError(UpstreamErrorReason reason);
  void recordAuthFailure(AuthFailureReason reason);
  void recordLimitRejection(LimitRejection reason);
  void recordCacheResult(CacheResult result);
  void recordRetry(RetryEvent event);
  void recordCircuitRejection();
  // A WebSocket upgrade the upstream accepted (the 101 was relayed).
  void recordWebSocket();

  // Appends this route's series, summed over the shards (Prometheus text format).
  void render(const std::string& route, RouteSeriesText& out) const;

 private:
  // (method, status) → count in a small open-addressed table; keys are claimed with a CAS so
  // recording is lock-free. Combinations beyond the table's size are folded into "other".
  static constexpr size_t kSlots = 24;
  struct Slot {
    std::atomic<uint32_t> key{0};  // method index << 16 | status; 0 = empty
    std::atomic<uint64_t> count{0};
  };
  struct alignas(64) Shard {
    std::array<Slot, kSlots> slots;
    std::atomic<uint64_t> overflow{0};
    std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets{};  // last: +Inf
    std::atomic<uint64_t> duration_sum_us{0};
    std::atomic<uint64_t> duration_count{0};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(UpstreamErrorReason::kCount)> upstream{};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(AuthFailureReason::kCount)> auth{};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(LimitRejection::kCount)> limits{};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(CacheResult::kCount)> cache{};
    std::array<std::atomic<uint64_t>, static_cast<size_t>(RetryEvent::kCount)> retries{};
    std::atomic<uint64_t> circuit_rejections{0};
    std::atomic<uint64_t> websockets{0};
  };
  Shard& shard();

  size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
};

class Metrics {
 public:
  // `shards`: the number of worker threads that record (one shard each).
  explicit Metrics(size_t shards = 1)
      : shards_(shards == 0 ? 1 : shards),
        consumer_shards_(std::make_unique<ConsumerShard[]>(shards_)) {}

  // The per-route counters for `route` ("ns/name[/rule]" or "none"), created on first use and
  // kept across snapshots so counts survive configuration changes.
  std::shared_ptr<RouteMetrics> route(const std::string& name);
  // atrium_consumer_requests_total{consumer,route,code}: called on any worker, after an
  // authenticated request ends. Each worker counts into its own shard (an uncontended lock;
  // the scrape takes them one by one).
  void countConsumerRequest(std::string_view consumer, std::string_view route, int status);

  std::atomic<int64_t> active_connections{0};
  // Upgraded connections relaying WebSocket frames right now (also in active_connections).
  std::atomic<int64_t> websocket_connections_active{0};
  std::atomic<uint64_t> config_generation{0};
  std::atomic<uint64_t> reloads_success{0};
  std::atomic<uint64_t> reloads_failure{0};
  // TLS: handshakes on the HTTPS listener by result, and Secrets referenced for TLS that are
  // unusable right now (set by the app from each translation).
  std::atomic<uint64_t> tls_handshakes_ok{0};
  std::atomic<uint64_t> tls_handshakes_failed{0};
  std::atomic<uint64_t> tls_invalid_secrets{0};
  // Rate limits, quotas and usage (ratelimit/, metering/).
  LimitMetrics limits;
  // The response cache's own counters (cache/), rendered as gauges and totals; set once.
  const cache::CacheCounters* cache_counters = nullptr;
  // Circuit-breaker states and endpoint health, rendered by the engine's runtime registry.
  std::function<std::string()> runtime_renderer;

  // Extra text appended by other parts of the process (the controller's watch counters),
  // produced on each scrape.
  void setExtraRenderer(std::function<std::string()> renderer);

  std::string renderPrometheus() const;

 private:
  size_t shards_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<RouteMetrics>> routes_;
  std::function<std::string()> extra_;
  struct alignas(64) ConsumerShard {
    std::mutex mu;
    std::map<std::string, uint64_t> counts;  // "consumer\0route\0code"
  };
  std::unique_ptr<ConsumerShard[]> consumer_shards_;
};

}  // namespace atrium::proxy::observability
