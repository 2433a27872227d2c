#pragma once
// Token-bucket arithmetic as GCRA (the generic cell rate algorithm): a bucket is one number, the
// "theoretical arrival time" (TAT) at which it would be full again. That makes a decision a pure
// function of (TAT, now) — the same code shape runs in-process and in the Redis script
// (ratelimit/redis_scripts.cc), and an injected clock tests it exactly.
//
// A bucket holds `capacity` tokens (requests + burst) and gains one every `interval_us`
// (period / requests). Taking a token moves TAT forward by one interval; the request is refused
// when that would put TAT more than capacity × interval ahead of now.
#include <algorithm>
#include <cstdint>
#include <limits>

namespace atrium::proxy::ratelimit {

struct BucketParams {
  int64_t interval_us = 1;  // time to earn one token, ≥ 1
  int64_t capacity = 1;     // tokens when full, ≥ 1
  // capacity × interval, saturated: the longest TAT may run ahead of now.
  int64_t horizonUs() const {
    __int128 h = static_cast<__int128>(capacity) * interval_us;
    return h > std::numeric_limits<int64_t>::max() / 4 ? std::numeric_limits<int64_t>::max() / 4
                                                       : static_cast<int64_t>(h);
  }
};

struct BucketOutcome {
  bool allowed = false;
  int64_t new_tat_us = 0;      // the TAT to store when allowed (unchanged when refused)
  int64_t remaining = 0;       // tokens left after this request
  int64_t reset_us = 0;        // until the bucket is full again
  int64_t retry_after_us = 0;  // when refused: until one token is available
};

// `period_us / requests`, never 0 (a rate above one per microsecond is one per microsecond).
inline BucketParams bucketParams(uint64_t requests, uint64_t period_ms, uint64_t burst) {
  BucketParams p;
  const uint64_t r = std::max<uint64_t>(requests, 1);
  p.interval_us = static_cast<int64_t>(std::max<uint64_t>(period_ms * 1000 / r, 1));
  p.capacity = static_cast<int64_t>(std::min<uint64_t>(r + burst, uint64_t{1} << 40));
  return p;
}

// `tat_us` is the stored TAT (0 for a bucket never used: it is full).
inline BucketOutcome takeToken(int64_t tat_us, int64_t now_us, const BucketParams& p) {
  BucketOutcome out;
  const int64_t base = std::max(tat_us, now_us);
  const int64_t next = base + p.interval_us;
  const int64_t horizon = p.horizonUs();
  if (next - now_us > horizon) {
    out.allowed = false;
    out.new_tat_us = tat_us;
    out.remaining = 0;
    out.reset_us = base - now_us;
    out.retry_after_us = next - now_us - horizon;
    return out;
  }
  out.allowed = true;
  out.new_tat_us = next;
  out.remaining = (horizon - (next - now_us)) / p.interval_us;
  out.reset_us = next - now_us;
  return out;
}

// Undoes one takeToken that was allowed (a later limit of the same request refused it).
inline int64_t refundToken(int64_t tat_us, const BucketParams& p) { return tat_us - p.interval_us; }

// Whole seconds for the RateLimit-Reset and Retry-After headers: rounded up, so a client that
// waits that long is never refused again for the same reason; Retry-After is at least 1.
inline int64_t secondsCeil(int64_t us) { return us <= 0 ? 0 : (us + 999'999) / 1'000'000; }

}  // namespace atrium::proxy::ratelimit
