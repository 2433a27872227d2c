#pragma once
// The cache's counters for metrics (SPEC §6), shared by the store and the request collapser.
// Plain relaxed atomics: each is exact on its own, and a scrape that reads them one after the
// other may see them a few operations apart.
#include <atomic>
#include <cstdint>

namespace atrium::proxy::cache {

struct CacheCounters {
  std::atomic<uint64_t> hits{0};          // lookups answered Fresh
  std::atomic<uint64_t> misses{0};        // lookups answered Stale or None
  std::atomic<uint64_t> stale_served{0};  // stale entries served in place of a failed upstream
  std::atomic<uint64_t> insertions{0};
  std::atomic<uint64_t> evictions{0};  // responses dropped to make room (not purges)
  std::atomic<uint64_t> purged{0};     // responses dropped by purge(), purgeRoute() or erase()
  std::atomic<uint64_t> collapsed_followers{0};  // requests that waited for another's fetch
  std::atomic<int64_t> bytes{0};                 // gauge: charged bytes, vary records included
  std::atomic<int64_t> entries{0};               // gauge: stored responses
};

}  // namespace atrium::proxy::cache
