#pragma once
// Rate limits, quotas and usage metering for one worker (SPEC §5.3, §5.6).
//
// A request is checked against, together and all-or-nothing: its route's limits, its
// consumer's plan.rateLimit and its consumer's plan.quota. Without --redis everything is
// counted in this replica (LocalBuckets, UsageStore). With --redis, Global route limits, plans
// and quotas are decided by one atomic script in Redis per request (exact across replicas,
// Redis's clock); Local route limits stay in-process. When this worker's Redis connection is
// down or a decision times out, the Redis part is decided in-process instead with each limit
// divided by --replicas (SharedLimitState::replicas), counted in metrics and logged once per
// outage — requests neither fail nor pass unchecked. The connection comes back on its own.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/io_types.h"
#include "proxy/metering/usage_store.h"
#include "proxy/observability/limit_metrics.h"
#include "proxy/ratelimit/local_buckets.h"
#include "proxy/ratelimit/route_limits.h"

namespace atrium::proxy::redis {
class RedisClient;
}

namespace atrium::proxy::ratelimit {

// What all workers of the replica share.
struct SharedLimitState {
  LocalBuckets buckets;
  metering::UsageStore usage;
  unsigned replicas = 1;         // --replicas: divides Global limits while Redis is down
  bool redis_configured = false;
  int64_t wall_offset_s = 0;     // --clock-start: shifts the calendar used for quotas and usage
  observability::LimitMetrics* metrics = nullptr;

  // Seconds since the epoch on the calendar quotas and usage periods follow.
  int64_t wallNow() const;
};

struct LimitDecision {
  enum class Verdict { kAllow, kRateLimited, kQuotaExceeded };
  Verdict verdict = Verdict::kAllow;
  int64_t limit = -1;  // -1: no rate limit applied (no RateLimit-* headers)
  int64_t remaining = 0;
  int64_t reset_s = 0;
  int64_t retry_after_s = 0;  // with a refusal
};

struct LimitInputs {
  const CompiledRateLimit* route = nullptr;  // the route's limits, if any
  const config::Consumer* consumer = nullptr;
  std::string_view client_ip;
  const router::HeaderSource* headers = nullptr;
};

class RateLimiter {
 public:
  // `redis` (owned by the worker, on its thread) is null without --redis.
  RateLimiter(SharedLimitState& shared, redis::RedisClient* redis);
  ~RateLimiter();
  // Set once, before the worker runs (the worker builds its client after the limiter).
  void attachRedis(redis::RedisClient* redis) { redis_ = redis; }

  // Whether a request with these inputs is limited at all.
  static bool applies(const LimitInputs& in) {
    return in.route || (in.consumer && (in.consumer->plan.rate_limit || in.consumer->plan.quota_requests));
  }
  // Whether deciding needs a Redis round trip (then call check(); else decideLocally()).
  bool needsRedis(const LimitInputs& in) const;
  LimitDecision decideLocally(const LimitInputs& in);
  Task<LimitDecision> check(const LimitInputs& in);

  // Counts one finished request of an authenticated consumer.
  void recordUsage(const config::Consumer& consumer, std::string_view route,
                   const metering::UsageCounters& delta);

  // Worker thread: Redis came back — push usage counted while it was away.
  void onRedisUp();

 private:
  struct Buckets;  // the bucket list of one decision, defined in the .cc
  void collect(const LimitInputs& in, bool redis_part, bool degraded, Buckets& out) const;
  LimitDecision finishLocal(const LimitInputs& in, Buckets& local, bool degraded);
  void sendUsage(const std::string& day, const std::string& consumer, const std::string& route,
                 const metering::UsageCounters& delta);

  SharedLimitState& shared_;
  redis::RedisClient* redis_;
  // Usage that could not be written to Redis yet: "day\tconsumer\troute" → counts.
  std::unordered_map<std::string, metering::UsageCounters> pending_usage_;
};

}  // namespace atrium::proxy::ratelimit
