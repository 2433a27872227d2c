#include "proxy/cache/response_cache.h"

#include <algorithm>
#include <functional>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "proxy/cache/cache_key.h"
#include "proxy/cache/freshness.h"

namespace atrium::proxy::cache {
namespace {

// One LRU node: a stored response (under a primary key, or as a variant), or a vary record.
struct Node {
  std::string key;  // the index key: the primary key, or variantKey() for a variant
  std::shared_ptr<const CachedResponse> response;  // null: a vary record
  bool is_variant = false;
  std::string primary;  // a variant's record

  // Vary record only.
  std::vector<std::string> vary;
  std::vector<std::string> variant_keys;
  std::string route_scope;  // of the response that created the record, for purges
  std::string path;

  size_t charge = 0;

  bool isRecord() const { return !response; }
  std::string_view scope() const { return response ? response->route_scope : route_scope; }
  std::string_view pathForPurge() const { return response ? response->path : path; }
};

using Lru = std::list<Node>;  // front: most recently used

struct Hash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
// Keys are views of the nodes' own `key`, which a std::list never moves.
using Index = std::unordered_map<std::string_view, Lru::iterator, Hash, std::equal_to<>>;

// Variants live in their own index, keyed by the length-prefixed primary key followed by the
// vary key, so that no variant key can equal another's or a primary key.
std::string variantKey(std::string_view primary, std::string_view vary_key) {
  std::string key = std::to_string(primary.size());
  key += ':';
  key += primary;
  key += vary_key;
  return key;
}

size_t recordCharge(std::string_view key, const CachedResponse& r) {
  size_t bytes = ResponseCache::kNodeOverhead + key.size() + r.route_scope.size() + r.path.size();
  for (const auto& name : r.vary) bytes += sizeof(std::string) + name.size();
  return bytes;
}

}  // namespace

struct alignas(64) ResponseCache::Shard {
  std::mutex mu;
  Lru lru;
  Index primaries;
  Index variants;
  uint64_t bytes = 0;
  int64_t entries = 0;  // responses, not records

  void touch(Lru::iterator it) { lru.splice(lru.begin(), lru, it); }

  Lru::iterator pushFront(Node node) {
    bytes += node.charge;
    if (node.response) ++entries;
    lru.push_front(std::move(node));
    return lru.begin();
  }

  // Unlinks one node (a record with its variants); returns the responses dropped.
  size_t remove(Lru::iterator it) {
    size_t dropped = 0;
    Node& node = *it;
    if (node.isRecord()) {
      for (const std::string& vk : node.variant_keys) {
        auto v = variants.find(vk);
        if (v == variants.end()) continue;
        const Lru::iterator vit = v->second;
        variants.erase(v);
        dropped += drop(vit);
      }
      primaries.erase(node.key);
    } else if (node.is_variant) {
      if (auto r = primaries.find(node.primary); r != primaries.end() && r->second->isRecord()) {
        std::erase(r->second->variant_keys, node.key);
      }
      variants.erase(node.key);
    } else {
      primaries.erase(node.key);
    }
    return dropped + drop(it);
  }

  // Evicts from the back until the shard is within `limit`; returns the responses dropped.
  size_t evictTo(uint64_t limit) {
    size_t dropped = 0;
    while (bytes > limit && !lru.empty()) dropped += remove(std::prev(lru.end()));
    return dropped;
  }

 private:
  size_t drop(Lru::iterator it) {
    bytes -= it->charge;
    const size_t responses = it->response ? 1 : 0;
    entries -= static_cast<int64_t>(responses);
    lru.erase(it);
    return responses;
  }
};

namespace {

// Publishes a shard's changes to the process-wide gauges when it goes out of scope, while the
// shard's lock is still held (declared after the lock_guard).
class GaugeUpdate {
 public:
  GaugeUpdate(CacheCounters& counters, const uint64_t& bytes, const int64_t& entries)
      : counters_(counters), bytes_(bytes), entries_(entries), bytes0_(bytes), entries0_(entries) {}
  ~GaugeUpdate() {
    counters_.bytes.fetch_add(static_cast<int64_t>(bytes_) - static_cast<int64_t>(bytes0_),
                              std::memory_order_relaxed);
    counters_.entries.fetch_add(entries_ - entries0_, std::memory_order_relaxed);
  }

 private:
  CacheCounters& counters_;
  const uint64_t& bytes_;
  const int64_t& entries_;
  const uint64_t bytes0_;
  const int64_t entries0_;
};

}  // namespace

ResponseCache::ResponseCache(uint64_t max_bytes, size_t shards)
    : max_bytes_(max_bytes),
      shard_count_(std::max<size_t>(shards, 1)),
      shard_limit_(max_bytes / shard_count_),
      shards_(std::make_unique<Shard[]>(shard_count_)) {}

ResponseCache::~ResponseCache() = default;

ResponseCache::Shard& ResponseCache::shardFor(std::string_view key) const {
  return shards_[std::hash<std::string_view>{}(key) % shard_count_];
}

ResponseCache::Found ResponseCache::lookup(std::string_view key,
                                           const HeaderLookup& request_headers, SteadyTime now,
                                           const RequestDirectives& request) {
  Shard& shard = shardFor(key);
  std::shared_ptr<const CachedResponse> entry;
  std::vector<std::string> vary;
  {
    std::lock_guard lock(shard.mu);
    if (auto it = shard.primaries.find(key); it != shard.primaries.end()) {
      shard.touch(it->second);
      if (it->second->isRecord()) {
        vary = it->second->vary;
      } else {
        entry = it->second->response;
      }
    }
  }
  // The request's headers are read outside the lock: the lookup is the caller's code.
  if (!entry && !vary.empty()) {
    if (auto vk = varyKey(vary, request_headers)) {
      const std::string variant = variantKey(key, *vk);
      std::lock_guard lock(shard.mu);
      if (auto v = shard.variants.find(variant); v != shard.variants.end()) {
        shard.touch(v->second);
        if (auto r = shard.primaries.find(key); r != shard.primaries.end()) shard.touch(r->second);
        entry = v->second->response;
      }
    }
  }
  if (!entry) {
    counters_.misses.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  const Freshness freshness = freshnessFor(*entry, request, now);
  (freshness == Freshness::Fresh ? counters_.hits : counters_.misses)
      .fetch_add(1, std::memory_order_relaxed);
  return {std::move(entry), freshness};
}

ResponseCache::InsertOutcome ResponseCache::insert(std::string_view key,
                                                   std::shared_ptr<const CachedResponse> entry,
                                                   const HeaderLookup& request_headers,
                                                   uint64_t max_object_bytes) {
  if (!entry) return InsertOutcome::NeverUsable;
  if (entry->body.size() > max_object_bytes) return InsertOutcome::TooLarge;
  if (entry->fresh_until <= entry->stored_at && entry->stale_if_error_until <= entry->stored_at) {
    return InsertOutcome::NeverUsable;
  }
  std::optional<std::string> vary_key;
  if (!entry->vary.empty()) {
    vary_key = varyKey(entry->vary, request_headers);
    if (!vary_key) return InsertOutcome::VariesOnEverything;
  }

  Node node;
  node.response = entry;
  if (vary_key) {
    node.is_variant = true;
    node.primary = std::string(key);
    node.key = variantKey(key, *vary_key);
    // The record keeps a copy of the variant's key too.
    node.charge = approximateBytes(*entry) + kNodeOverhead + 2 * node.key.size() + key.size();
  } else {
    node.key = std::string(key);
    node.charge = approximateBytes(*entry) + kNodeOverhead + key.size();
  }
  const size_t record_charge = vary_key ? recordCharge(key, *entry) : 0;
  if (node.charge + record_charge > shard_limit_) return InsertOutcome::TooLarge;

  Shard& shard = shardFor(key);
  size_t evicted = 0;
  {
    std::lock_guard lock(shard.mu);
    GaugeUpdate gauges(counters_, shard.bytes, shard.entries);
    auto existing = shard.primaries.find(key);
    if (!vary_key) {
      if (existing != shard.primaries.end()) shard.remove(existing->second);
      auto it = shard.pushFront(std::move(node));
      shard.primaries.emplace(it->key, it);
    } else {
      // A plain response, or a record for other Vary names, gives way to a fresh record.
      if (existing != shard.primaries.end() &&
          (!existing->second->isRecord() || existing->second->vary != entry->vary)) {
        shard.remove(existing->second);
        existing = shard.primaries.end();
      }
      Lru::iterator record;
      if (existing == shard.primaries.end()) {
        Node r;
        r.key = std::string(key);
        r.vary = entry->vary;
        r.route_scope = entry->route_scope;
        r.path = entry->path;
        r.charge = record_charge;
        record = shard.pushFront(std::move(r));
        shard.primaries.emplace(record->key, record);
      } else {
        record = existing->second;
      }
      if (auto old = shard.variants.find(node.key); old != shard.variants.end()) {
        shard.remove(old->second);
      }
      shard.touch(record);  // kept ahead of its variants: evicting it would drop them all
      record->variant_keys.push_back(node.key);
      auto it = shard.pushFront(std::move(node));
      shard.variants.emplace(it->key, it);
    }
    evicted = shard.evictTo(shard_limit_);
  }
  counters_.insertions.fetch_add(1, std::memory_order_relaxed);
  if (evicted) counters_.evictions.fetch_add(evicted, std::memory_order_relaxed);
  return InsertOutcome::Stored;
}

size_t ResponseCache::erase(std::string_view key) {
  Shard& shard = shardFor(key);
  size_t dropped = 0;
  {
    std::lock_guard lock(shard.mu);
    GaugeUpdate gauges(counters_, shard.bytes, shard.entries);
    if (auto it = shard.primaries.find(key); it != shard.primaries.end()) {
      dropped = shard.remove(it->second);
    }
  }
  if (dropped) counters_.purged.fetch_add(dropped, std::memory_order_relaxed);
  return dropped;
}

size_t ResponseCache::purge(std::string_view route_scope, std::string_view path_prefix) {
  size_t dropped = 0;
  std::vector<Lru::iterator> doomed;
  for (size_t i = 0; i < shard_count_; ++i) {
    Shard& shard = shards_[i];
    std::lock_guard lock(shard.mu);
    GaugeUpdate gauges(counters_, shard.bytes, shard.entries);
    // Primary nodes only: variants share their record's route and path, and go with it.
    doomed.clear();
    for (auto it = shard.lru.begin(); it != shard.lru.end(); ++it) {
      if (it->is_variant) continue;
      if ((route_scope.empty() || it->scope() == route_scope) &&
          it->pathForPurge().starts_with(path_prefix)) {
        doomed.push_back(it);
      }
    }
    for (Lru::iterator it : doomed) dropped += shard.remove(it);
  }
  if (dropped) counters_.purged.fetch_add(dropped, std::memory_order_relaxed);
  return dropped;
}

}  // namespace atrium::proxy::cache
