#include "proxy/ratelimit/rate_limiter.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "proxy/metering/calendar.h"
#include "proxy/ratelimit/redis_scripts.h"
#include "proxy/redis/redis_client.h"

namespace atrium::proxy::ratelimit {

namespace {

int64_t monotonicMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Which of a request's limits one step decides.
enum class Part {
  kLocal,          // Local route limits (and everything when there is no Redis)
  kRedis,          // Global route limits and the plan, in Redis
  kRedisDegraded,  // the same, in-process with per-replica shares, while Redis is away
};

LimitDecision fromOutcome(const MultiOutcome& o) {
  LimitDecision d;
  d.verdict = o.allowed ? LimitDecision::Verdict::kAllow : LimitDecision::Verdict::kRateLimited;
  d.limit = o.limit;
  d.remaining = o.remaining;
  d.reset_s = secondsCeil(o.reset_us);
  d.retry_after_s = o.allowed ? 0 : std::max<int64_t>(1, secondsCeil(o.retry_after_us));
  return d;
}

// Headers describe the tightest of two partial decisions.
void merge(LimitDecision& into, const LimitDecision& other) {
  if (other.verdict != LimitDecision::Verdict::kAllow) {
    const int64_t retry = std::max(into.retry_after_s, other.retry_after_s);
    if (into.verdict == LimitDecision::Verdict::kAllow) into.verdict = other.verdict;
    into.retry_after_s = retry;
  }
  if (other.limit >= 0 && (into.limit < 0 || other.remaining < into.remaining)) {
    into.limit = other.limit;
    into.remaining = other.remaining;
    into.reset_s = other.reset_s;
  }
}

}  // namespace

int64_t SharedLimitState::wallNow() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() +
         wall_offset_s;
}

struct RateLimiter::Buckets {
  std::vector<std::string> keys;
  std::vector<BucketParams> params;
  std::vector<BucketRef> refs() const {
    std::vector<BucketRef> out;
    out.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) out.push_back({keys[i], params[i]});
    return out;
  }
  bool empty() const { return keys.empty(); }
};

RateLimiter::RateLimiter(SharedLimitState& shared, redis::RedisClient* redis)
    : shared_(shared), redis_(redis) {}

RateLimiter::~RateLimiter() = default;

bool RateLimiter::needsRedis(const LimitInputs& in) const {
  if (!redis_) return false;
  if (in.route && in.route->global) return true;
  return in.consumer && (in.consumer->plan.rate_limit || in.consumer->plan.quota_requests);
}

void RateLimiter::collect(const LimitInputs& in, bool redis_part, bool degraded,
                          Buckets& out) const {
  const bool route_in_redis = in.route && in.route->global && redis_;
  if (in.route && route_in_redis == redis_part) {
    for (const auto& limit : in.route->limits) {
      std::string key = degraded ? "deg:" : "";
      appendBucketKey(key, limit, in.consumer, in.client_ip, in.headers);
      out.keys.push_back(std::move(key));
      out.params.push_back(degraded ? degradedParams(limit.spec, shared_.replicas) : limit.params);
    }
  }
  const bool plan_in_redis = redis_ != nullptr;
  if (in.consumer && in.consumer->plan.rate_limit && plan_in_redis == redis_part) {
    const auto& l = *in.consumer->plan.rate_limit;
    out.keys.push_back((degraded ? "deg:" : "") + planBucketKey(*in.consumer));
    out.params.push_back(degraded ? degradedParams(l, shared_.replicas)
                                  : bucketParams(l.requests, l.period_ms, l.burst));
  }
}

LimitDecision RateLimiter::decideLocally(const LimitInputs& in) {
  Buckets local;
  collect(in, false, false, local);
  return finishLocal(in, local, false);
}

// Decides `local` buckets, and — without Redis, or degraded — the consumer's quota from this
// replica's own counts (a 1/replicas share of it when degraded).
LimitDecision RateLimiter::finishLocal(const LimitInputs& in, Buckets& local, bool degraded) {
  const bool quota_here = in.consumer && in.consumer->plan.quota_requests && (!redis_ || degraded);
  std::string consumer_name, period;
  const int64_t now = shared_.wallNow();
  if (quota_here) {
    const auto& plan = in.consumer->plan;
    consumer_name = qualifiedName(*in.consumer);
    period = metering::periodId(plan.quota_period, now);
    const uint64_t limit =
        degraded ? std::max<uint64_t>(1, (plan.quota_requests + shared_.replicas - 1) / shared_.replicas)
                 : plan.quota_requests;
    if (!shared_.usage.takeQuota(consumer_name, period, limit)) {
      LimitDecision d;
      d.verdict = LimitDecision::Verdict::kQuotaExceeded;
      d.retry_after_s = std::max<int64_t>(1, metering::periodEnd(plan.quota_period, now) - now);
      return d;
    }
  }
  if (local.empty()) return {};
  const auto refs = local.refs();
  const MultiOutcome outcome = shared_.buckets.take(refs, monotonicMicros());
  if (!outcome.allowed && quota_here) shared_.usage.releaseQuota(consumer_name, period);
  return fromOutcome(outcome);
}

Task<LimitDecision> RateLimiter::check(const LimitInputs& in) {
  // Local route limits first: they cost nothing, and a refusal there spares the round trip.
  Buckets local;
  collect(in, false, false, local);
  const auto local_refs = local.refs();
  LimitDecision decision;
  if (!local.empty()) {
    const MultiOutcome outcome = shared_.buckets.take(local_refs, monotonicMicros());
    decision = fromOutcome(outcome);
    if (!outcome.allowed) co_return decision;
  }

  const config::Consumer* consumer = in.consumer;
  const bool quota = consumer && consumer->plan.quota_requests;
  const int64_t now = shared_.wallNow();
  LimitDecision remote;
  bool decided = false;
  if (redis_->up()) {
    Buckets global;
    collect(in, true, false, global);
    std::vector<std::string> keys = std::move(global.keys);
    std::vector<std::string> args;
    args.reserve(2 * keys.size() + 3);
    args.push_back(std::to_string(keys.size()));
    for (const auto& p : global.params) {
      args.push_back(std::to_string(p.interval_us));
      args.push_back(std::to_string(p.capacity));
    }
    std::string period;
    if (quota) {
      period = metering::periodId(consumer->plan.quota_period, now);
      keys.push_back(quotaKey(*consumer, period));
      args.push_back(std::to_string(consumer->plan.quota_requests));
      args.push_back(std::to_string(metering::periodEnd(consumer->plan.quota_period, now) - now));
    }
    auto result = co_await redis_->eval(decideScript(), std::move(keys), std::move(args));
    const auto& r = result.reply;
    if (!result.ec && r.type == redis::RedisReply::Type::Array && r.elements.size() == 6) {
      auto at = [&r](size_t i) { return r.elements[i].integer; };
      decided = true;
      remote.limit = at(1);
      remote.remaining = at(2);
      remote.reset_s = secondsCeil(at(3) * 1000);
      if (at(0) == 1) {
        remote.verdict = LimitDecision::Verdict::kRateLimited;
        remote.retry_after_s = std::max<int64_t>(1, secondsCeil(at(4) * 1000));
      } else if (at(0) == 2) {
        remote.verdict = LimitDecision::Verdict::kQuotaExceeded;
        remote.retry_after_s =
            std::max<int64_t>(1, metering::periodEnd(consumer->plan.quota_period, now) - now);
      } else if (quota) {
        // This replica's own share of the period, for a later outage (finishLocal).
        shared_.usage.takeQuota(qualifiedName(*consumer), period, UINT64_MAX);
      }
    } else if (!result.ec) {
      spdlog::warn("redis: unexpected reply to the rate-limit script; deciding in-process");
      if (shared_.metrics) shared_.metrics->recordRedisError(observability::LimitMetrics::RedisError::kReply);
    }
  }
  if (!decided) {
    // Redis is down or slow: this replica decides alone, with its share of each limit.
    if (shared_.metrics) shared_.metrics->degraded_decisions.fetch_add(1, std::memory_order_relaxed);
    Buckets degraded;
    collect(in, true, true, degraded);
    remote = finishLocal(in, degraded, true);
  }
  if (remote.verdict != LimitDecision::Verdict::kAllow && !local.empty()) {
    shared_.buckets.refund(local_refs);
  }
  if (remote.verdict == LimitDecision::Verdict::kQuotaExceeded) co_return remote;
  merge(decision, remote);
  co_return decision;
}

void RateLimiter::recordUsage(const config::Consumer& consumer, std::string_view route,
                              const metering::UsageCounters& delta) {
  const std::string day = metering::dayId(shared_.wallNow());
  const std::string name = qualifiedName(consumer);
  if (!redis_) {
    shared_.usage.record(day, name, route, delta);
    return;
  }
  sendUsage(day, name, std::string(route), delta);
}

void RateLimiter::sendUsage(const std::string& day, const std::string& consumer,
                            const std::string& route, const metering::UsageCounters& delta) {
  auto keep = [this, day, consumer, route, delta] {
    std::string key = day + "\t" + consumer + "\t" + route;
    pending_usage_[key].add(delta);
    if (shared_.metrics) shared_.metrics->usage_writes_failed.fetch_add(1, std::memory_order_relaxed);
  };
  if (!redis_->up()) return keep();
  std::vector<std::string> args;
  args.reserve(10);
  args.push_back(consumer + "|" + route + "|");
  args.push_back(std::to_string(delta.requests));
  args.push_back(std::to_string(delta.request_bytes));
  args.push_back(std::to_string(delta.response_bytes));
  for (uint64_t s : delta.status) args.push_back(std::to_string(s));
  args.push_back(std::to_string(delta.rejected));
  // Sent at once (pipelined on this worker's connection), not batched: with Redis a crash of
  // this process loses no request that was answered. A failed write is kept and retried.
  redis_->eval(usageScript(), {"atrium:usage:" + day}, std::move(args),
               [keep](const redis::RedisClient::Result& result) {
                 if (result.ec || result.reply.type == redis::RedisReply::Type::Error) keep();
               });
}

void RateLimiter::onRedisUp() {
  auto pending = std::move(pending_usage_);
  pending_usage_.clear();
  for (const auto& [key, delta] : pending) {
    const size_t a = key.find('\t'), b = key.find('\t', a + 1);
    sendUsage(key.substr(0, a), key.substr(a + 1, b - a - 1), key.substr(b + 1), delta);
  }
}

}  // namespace atrium::proxy::ratelimit
