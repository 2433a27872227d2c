#pragma once
// The Lua scripts Redis runs for rate limits, quotas and usage. Each runs atomically on the
// Redis server, so one script call is one exact decision across all replicas.
#include "proxy/redis/redis_client.h"

namespace atrium::proxy::ratelimit {

// KEYS: n bucket keys, then optionally the quota counter. ARGV: n, then interval_us and
// capacity per bucket, then (with a quota key) the quota limit and the seconds until the
// period ends. Returns {verdict (0 allowed, 1 rate limited, 2 quota exceeded), limit,
// remaining, reset_ms, retry_after_ms, quota_used}. The same GCRA as token_bucket.h, on
// Redis's clock (TIME), so replicas with skewed clocks still agree.
const redis::RedisScript& decideScript();

// KEYS: the day's usage hash. ARGV: the field prefix "ns/consumer|route|", then requests,
// requestBytes, responseBytes, 1xx..5xx, rejected.
const redis::RedisScript& usageScript();

}  // namespace atrium::proxy::ratelimit
