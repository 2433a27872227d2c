#pragma once
// The Local-scope bucket store of one replica, shared by all its workers. Striped: a key hashes
// to one of many shards, each with its own small lock and map, so workers contend only when
// they touch the same shard at the same instant — there is no process-wide lock. A bucket is a
// single TAT (see token_bucket.h); a bucket that has refilled completely is equivalent to no
// entry, which is what the sweep removes.
#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "proxy/ratelimit/token_bucket.h"

namespace atrium::proxy::ratelimit {

struct BucketRef {
  std::string_view key;
  BucketParams params;
};

// What a set of limits decided together: the request passes only if every bucket had a token
// (and then one is taken from each); the headers describe the tightest bucket.
struct MultiOutcome {
  bool allowed = true;
  int64_t limit = -1;  // capacity of the tightest bucket; -1: no bucket
  int64_t remaining = 0;
  int64_t reset_us = 0;
  int64_t retry_after_us = 0;
};

// Folds one bucket's outcome into a combined one (the tightest bucket wins the headers; the
// longest wait wins Retry-After).
void combine(MultiOutcome& into, const BucketOutcome& one, const BucketParams& params);

class LocalBuckets {
 public:
  static constexpr size_t kShards = 64;
  // Beyond this many live buckets, a shard is swept on every insertion (bounds memory when a
  // limit keyed by client IP or header sees many distinct values).
  static constexpr size_t kMaxPerShard = 16'384;

  // All or nothing: takes a token from every bucket, or from none.
  MultiOutcome take(std::span<const BucketRef> buckets, int64_t now_us);
  // Gives back one token taken by take() (another check of the same request refused it).
  void refund(std::span<const BucketRef> buckets);

  size_t size() const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> tat;
    uint32_t inserts_since_sweep = 0;
  };
  Shard& shardFor(std::string_view key) { return shards_[Hash{}(key) % kShards]; }
  static void sweep(Shard& shard, int64_t now_us);

  std::array<Shard, kShards> shards_;
};

}  // namespace atrium::proxy::ratelimit
