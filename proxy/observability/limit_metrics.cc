#include "proxy/observability/limit_metrics.h"

#include <fmt/format.h>

namespace atrium::proxy::observability {

namespace {
constexpr const char* kErrorNames[] = {"connect", "timeout", "reply", "io"};
}

LimitMetrics::RedisError redisErrorFromKind(std::string_view kind) {
  if (kind == "connect") return LimitMetrics::RedisError::kConnect;
  if (kind == "timeout") return LimitMetrics::RedisError::kTimeout;
  if (kind == "reply") return LimitMetrics::RedisError::kReply;
  return LimitMetrics::RedisError::kIo;
}

void LimitMetrics::recordRedisError(RedisError kind) {
  errors_[static_cast<size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
}

void LimitMetrics::recordRedisLatency(double seconds) {
  size_t b = 0;
  while (b < kLatencyBuckets.size() && seconds > kLatencyBuckets[b]) ++b;
  latency_[b].fetch_add(1, std::memory_order_relaxed);
  latency_sum_us_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  latency_count_.fetch_add(1, std::memory_order_relaxed);
}

std::string LimitMetrics::render() const {
  std::string out;
  out += "# HELP atrium_ratelimit_degraded 1 while Global limits are enforced as per-replica "
         "shares because Redis is unreachable.\n";
  out += "# TYPE atrium_ratelimit_degraded gauge\n";
  const int down = redis_workers_down.load();
  out += fmt::format("atrium_ratelimit_degraded {}\n", redis_configured.load() && down > 0 ? 1 : 0);
  out += "# HELP atrium_ratelimit_degraded_decisions_total Decisions taken per replica while "
         "Redis was unreachable or slow.\n";
  out += "# TYPE atrium_ratelimit_degraded_decisions_total counter\n";
  out += fmt::format("atrium_ratelimit_degraded_decisions_total {}\n", degraded_decisions.load());
  out += "# HELP atrium_usage_write_failures_total Usage counts that could not be written and "
         "were kept to retry.\n";
  out += "# TYPE atrium_usage_write_failures_total counter\n";
  out += fmt::format("atrium_usage_write_failures_total {}\n", usage_writes_failed.load());
  if (!redis_configured.load()) return out;
  out += "# HELP atrium_redis_up 1 when every worker's Redis connection is up.\n";
  out += "# TYPE atrium_redis_up gauge\n";
  out += fmt::format("atrium_redis_up {}\n", down == 0 ? 1 : 0);
  out += "# HELP atrium_redis_errors_total Redis failures by kind.\n";
  out += "# TYPE atrium_redis_errors_total counter\n";
  for (size_t i = 0; i < errors_.size(); ++i) {
    out += fmt::format("atrium_redis_errors_total{{kind=\"{}\"}} {}\n", kErrorNames[i],
                       errors_[i].load(std::memory_order_relaxed));
  }
  out += "# HELP atrium_redis_command_duration_seconds Round trip of Redis commands.\n";
  out += "# TYPE atrium_redis_command_duration_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t b = 0; b < latency_.size(); ++b) {
    cumulative += latency_[b].load(std::memory_order_relaxed);
    const std::string le = b < kLatencyBuckets.size() ? fmt::format("{}", kLatencyBuckets[b]) : "+Inf";
    out += fmt::format("atrium_redis_command_duration_seconds_bucket{{le=\"{}\"}} {}\n", le,
                       cumulative);
  }
  out += fmt::format("atrium_redis_command_duration_seconds_sum {:.6f}\n",
                     latency_sum_us_.load() / 1e6);
  out += fmt::format("atrium_redis_command_duration_seconds_count {}\n", latency_count_.load());
  return out;
}

}  // namespace atrium::proxy::observability
