#include "proxy/ratelimit/local_buckets.h"

namespace atrium::proxy::ratelimit {

void combine(MultiOutcome& into, const BucketOutcome& one, const BucketParams& params) {
  if (!one.allowed) {
    into.allowed = false;
    into.retry_after_us = std::max(into.retry_after_us, one.retry_after_us);
  }
  if (into.limit < 0 || one.remaining < into.remaining ||
      (one.remaining == into.remaining && one.reset_us > into.reset_us)) {
    into.limit = params.capacity;
    into.remaining = one.remaining;
    into.reset_us = one.reset_us;
  }
}

void LocalBuckets::sweep(Shard& shard, int64_t now_us) {
  std::erase_if(shard.tat, [now_us](const auto& entry) { return entry.second <= now_us; });
  shard.inserts_since_sweep = 0;
}

MultiOutcome LocalBuckets::take(std::span<const BucketRef> buckets, int64_t now_us) {
  MultiOutcome out;
  size_t taken = 0;
  for (const auto& b : buckets) {
    Shard& shard = shardFor(b.key);
    BucketOutcome one;
    {
      std::lock_guard lock(shard.mu);
      auto it = shard.tat.find(b.key);
      one = takeToken(it == shard.tat.end() ? 0 : it->second, now_us, b.params);
      if (one.allowed) {
        if (it != shard.tat.end()) {
          it->second = one.new_tat_us;
        } else {
          // A shard sweeps itself every few thousand new buckets, or at every insertion once
          // it is over its bound: full buckets carry no information.
          if (++shard.inserts_since_sweep >= 4096 || shard.tat.size() >= kMaxPerShard) {
            sweep(shard, now_us);
          }
          shard.tat.emplace(std::string(b.key), one.new_tat_us);
        }
      }
    }
    combine(out, one, b.params);
    if (!one.allowed) break;
    ++taken;
  }
  if (!out.allowed) refund(buckets.first(taken));
  return out;
}

void LocalBuckets::refund(std::span<const BucketRef> buckets) {
  for (const auto& b : buckets) {
    Shard& shard = shardFor(b.key);
    std::lock_guard lock(shard.mu);
    if (auto it = shard.tat.find(b.key); it != shard.tat.end()) {
      it->second = refundToken(it->second, b.params);
    }
  }
}

size_t LocalBuckets::size() const {
  size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.tat.size();
  }
  return n;
}

}  // namespace atrium::proxy::ratelimit
