#pragma once
// The replica's response cache (SPEC §5.4): in memory, bounded in bytes, least recently used
// first out, shared by every worker.
//
// Sharding: a key hashes to one of `shards` shards, each with its own mutex, LRU list, index and
// a byte bound of max_bytes / shards, so workers contend only when they touch the same shard at
// the same instant and no lock is process-wide. The LRU order is per shard, which is the usual
// price of sharding: the entry evicted is the least recently used of its shard.
//
// Size accounting: each stored node is charged approximateBytes() of its response, its key(s)
// and kNodeOverhead for list/map nodes and allocator headers. A shard never holds more than its
// bound after an insertion returns; an object that alone would exceed it, or whose body exceeds
// the route's maxObjectSize, is refused.
//
// Vary: a response whose own Vary header names request headers is stored as a variant. The
// primary key then holds a small "vary record" listing the names; the variant lives under
// (primary key, varyKey(names, request headers)). A lookup that lands on a record computes
// this request's vary key and looks the variant up. Records and their variants share a shard
// (it is chosen by the primary key), so they change together under one lock: a record that is
// evicted, purged or replaced (the origin changed its Vary names) takes its variants with it,
// and a hit on a variant keeps its record recent too. A response without Vary replaces a record
// and its variants, and the other way round.
//
// Threading: every member function may be called from any thread. Returned entries are
// immutable and stay valid for as long as the caller holds them.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/cache/cache_control.h"
#include "proxy/cache/cache_counters.h"
#include "proxy/cache/cached_response.h"
#include "proxy/cache/header_lookup.h"

namespace atrium::proxy::cache {

class ResponseCache {
 public:
  static constexpr size_t kDefaultShards = 16;
  // Charged per stored node besides its strings: list and hash-map nodes, the shared_ptr control
  // block and allocator headers, rounded up.
  static constexpr size_t kNodeOverhead = 192;

  explicit ResponseCache(uint64_t max_bytes, size_t shards = kDefaultShards);
  ~ResponseCache();
  ResponseCache(const ResponseCache&) = delete;
  ResponseCache& operator=(const ResponseCache&) = delete;

  struct Found {
    std::shared_ptr<const CachedResponse> entry;  // null with Freshness::None
    Freshness freshness = Freshness::None;
  };

  // The entry for `key` (a buildCacheKey() key) that matches this request's headers, classified
  // for this request by freshnessFor(). A hit (fresh or stale) makes the entry the most recently
  // used. Counts a hit for Fresh, a miss otherwise.
  Found lookup(std::string_view key, const HeaderLookup& request_headers, SteadyTime now,
               const RequestDirectives& request = {});

  enum class InsertOutcome {
    Stored,
    TooLarge,            // body over max_object_bytes, or the entry over a shard's bound
    VariesOnEverything,  // "Vary: *"
    NeverUsable,         // neither fresh nor usable on error at any time after stored_at
  };

  // Stores `entry` under `key`, replacing what the key held for these request headers. The
  // request headers are those of the request the response answers (for its Vary names).
  InsertOutcome insert(std::string_view key, std::shared_ptr<const CachedResponse> entry,
                       const HeaderLookup& request_headers, uint64_t max_object_bytes);

  // Drops everything stored under `key`, all variants included (RFC 9111 §4.4: a successful
  // unsafe request invalidates the target's entries). Returns the responses dropped.
  size_t erase(std::string_view key);

  // Drops the responses of one route (empty: every route) whose path starts with `path_prefix`
  // (empty: any path); a plain string prefix, since purging a little more is harmless. Returns
  // the responses dropped. Walks every shard, one at a time: an admin operation, not a hot one.
  size_t purge(std::string_view route_scope, std::string_view path_prefix);

  // Drops a route's responses; for a route whose cache policy changed between snapshots (its
  // entries were keyed and timed under the old policy).
  size_t purgeRoute(std::string_view route_scope) { return purge(route_scope, ""); }

  // The caller served a stale entry in place of a failed upstream.
  void noteStaleServed() { counters_.stale_served.fetch_add(1, std::memory_order_relaxed); }

  // Shared with the request collapser, read by metrics.
  CacheCounters& counters() { return counters_; }
  const CacheCounters& counters() const { return counters_; }

  uint64_t maxBytes() const { return max_bytes_; }
  uint64_t shardBytesLimit() const { return shard_limit_; }
  size_t shardCount() const { return shard_count_; }

 private:
  struct Shard;
  Shard& shardFor(std::string_view key) const;

  const uint64_t max_bytes_;
  const size_t shard_count_;
  const uint64_t shard_limit_;
  std::unique_ptr<Shard[]> shards_;
  CacheCounters counters_;
};

}  // namespace atrium::proxy::cache
