#include "proxy/cache/response_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <thread>
#include <vector>

#include "proxy/cache/freshness.h"

namespace atrium::proxy::cache {
namespace {

using std::chrono::seconds;

const SteadyTime kT0 = SteadyTime{} + std::chrono::hours(1000);  // the injected clock's start
constexpr uint64_t kNoObjectLimit = UINT64_MAX;

HeaderLookup headers(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

const HeaderLookup kNoHeaders = headers({});

struct EntrySpec {
  std::string body = "hello";
  seconds fresh{60};
  seconds stale_if_error{0};
  std::string scope = "shop/orders";
  std::string path = "/v1/orders";
  std::vector<std::string> vary = {};
};

std::shared_ptr<const CachedResponse> entry(const EntrySpec& spec, SteadyTime stored_at = kT0) {
  auto e = std::make_shared<CachedResponse>();
  e->status = 200;
  e->reason = "OK";
  e->headers = {{"content-type", "text/plain"}};
  e->body = spec.body;
  e->stored_at = stored_at;
  e->fresh_until = stored_at + spec.fresh;
  e->stale_if_error_until = e->fresh_until + spec.stale_if_error;
  e->vary = spec.vary;
  e->route_scope = spec.scope;
  e->path = spec.path;
  return e;
}

// The bytes one plain entry is charged under `key`.
size_t chargeOf(std::string_view key, const EntrySpec& spec) {
  return approximateBytes(*entry(spec)) + ResponseCache::kNodeOverhead + key.size();
}

bool has(ResponseCache& cache, std::string_view key, const HeaderLookup& h = kNoHeaders,
         SteadyTime now = kT0) {
  return cache.lookup(key, h, now).entry != nullptr;
}

TEST(ResponseCacheTest, MissThenHit) {
  ResponseCache cache(1 << 20);
  EXPECT_EQ(cache.lookup("k", kNoHeaders, kT0).freshness, Freshness::None);
  EXPECT_EQ(cache.insert("k", entry({}), kNoHeaders, kNoObjectLimit),
            ResponseCache::InsertOutcome::Stored);
  auto found = cache.lookup("k", kNoHeaders, kT0 + seconds(1));
  ASSERT_TRUE(found.entry);
  EXPECT_EQ(found.freshness, Freshness::Fresh);
  EXPECT_EQ(found.entry->body, "hello");
  EXPECT_EQ(cache.counters().hits.load(), 1u);
  EXPECT_EQ(cache.counters().misses.load(), 1u);
  EXPECT_EQ(cache.counters().insertions.load(), 1u);
  EXPECT_EQ(cache.counters().entries.load(), 1);
  EXPECT_EQ(cache.counters().bytes.load(), static_cast<int64_t>(chargeOf("k", {})));
}

TEST(ResponseCacheTest, InsertReplacesTheKeysEntry) {
  ResponseCache cache(1 << 20);
  cache.insert("k", entry({.body = "one"}), kNoHeaders, kNoObjectLimit);
  cache.insert("k", entry({.body = "two"}), kNoHeaders, kNoObjectLimit);
  EXPECT_EQ(cache.lookup("k", kNoHeaders, kT0).entry->body, "two");
  EXPECT_EQ(cache.counters().entries.load(), 1);
  EXPECT_EQ(cache.counters().evictions.load(), 0u);
}

TEST(ResponseCacheTest, FreshThenStaleThenStillUsableOnError) {
  ResponseCache cache(1 << 20);
  cache.insert("k", entry({.fresh = seconds(10), .stale_if_error = seconds(30)}), kNoHeaders,
               kNoObjectLimit);
  EXPECT_EQ(cache.lookup("k", kNoHeaders, kT0 + seconds(9)).freshness, Freshness::Fresh);
  auto stale = cache.lookup("k", kNoHeaders, kT0 + seconds(10));
  EXPECT_EQ(stale.freshness, Freshness::Stale);
  ASSERT_TRUE(stale.entry);
  EXPECT_TRUE(stale.entry->usableOnErrorAt(kT0 + seconds(39)));
  EXPECT_FALSE(stale.entry->usableOnErrorAt(kT0 + seconds(40)));
  cache.noteStaleServed();
  EXPECT_EQ(cache.counters().stale_served.load(), 1u);
  EXPECT_EQ(cache.counters().misses.load(), 1u);  // a stale lookup is not a hit
}

TEST(ResponseCacheTest, RequestDirectivesClassifyTheEntry) {
  ResponseCache cache(1 << 20);
  cache.insert("k", entry({}), kNoHeaders, kNoObjectLimit);
  EXPECT_EQ(cache.lookup("k", kNoHeaders, kT0, parseRequestDirectives("no-cache")).freshness,
            Freshness::Stale);
  EXPECT_EQ(cache.lookup("k", kNoHeaders, kT0 + seconds(5), parseRequestDirectives("max-age=1"))
                .freshness,
            Freshness::Stale);
}

TEST(ResponseCacheTest, NeverUsableEntriesAreRefused) {
  ResponseCache cache(1 << 20);
  EXPECT_EQ(cache.insert("k", entry({.fresh = seconds(0)}), kNoHeaders, kNoObjectLimit),
            ResponseCache::InsertOutcome::NeverUsable);
  // Stale at once but usable on error: kept.
  EXPECT_EQ(cache.insert("k", entry({.fresh = seconds(0), .stale_if_error = seconds(5)}),
                         kNoHeaders, kNoObjectLimit),
            ResponseCache::InsertOutcome::Stored);
}

TEST(ResponseCacheTest, OversizeObjectsAreRefused) {
  ResponseCache cache(64 * 1024, 1);
  // Over the route's maxObjectSize.
  EXPECT_EQ(cache.insert("k", entry({.body = std::string(1001, 'x')}), kNoHeaders, 1000),
            ResponseCache::InsertOutcome::TooLarge);
  EXPECT_EQ(cache.insert("k", entry({.body = std::string(1000, 'x')}), kNoHeaders, 1000),
            ResponseCache::InsertOutcome::Stored);
  // Over the shard's bound, whatever the route allows; nothing else is evicted for it.
  EXPECT_EQ(
      cache.insert("big", entry({.body = std::string(64 * 1024, 'x')}), kNoHeaders, kNoObjectLimit),
      ResponseCache::InsertOutcome::TooLarge);
  EXPECT_TRUE(has(cache, "k"));
  EXPECT_FALSE(has(cache, "big"));
}

TEST(ResponseCacheTest, BoundedInBytesAndEvictsLeastRecentlyUsed) {
  const EntrySpec spec{.body = std::string(500, 'x')};
  const size_t charge = chargeOf("k0", spec);
  ResponseCache cache(3 * charge, 1);  // room for exactly three
  for (int i = 0; i < 3; ++i) {
    cache.insert("k" + std::to_string(i), entry(spec), kNoHeaders, kNoObjectLimit);
  }
  EXPECT_EQ(cache.counters().entries.load(), 3);
  EXPECT_EQ(cache.counters().bytes.load(), static_cast<int64_t>(3 * charge));

  cache.insert("k3", entry(spec), kNoHeaders, kNoObjectLimit);
  EXPECT_FALSE(has(cache, "k0"));  // the oldest went
  EXPECT_TRUE(has(cache, "k1"));
  EXPECT_TRUE(has(cache, "k2"));
  EXPECT_TRUE(has(cache, "k3"));
  EXPECT_EQ(cache.counters().evictions.load(), 1u);
  EXPECT_LE(cache.counters().bytes.load(), static_cast<int64_t>(cache.maxBytes()));
}

TEST(ResponseCacheTest, AHitProtectsAnEntry) {
  const EntrySpec spec{.body = std::string(500, 'x')};
  ResponseCache cache(3 * chargeOf("k0", spec), 1);
  for (int i = 0; i < 3; ++i) {
    cache.insert("k" + std::to_string(i), entry(spec), kNoHeaders, kNoObjectLimit);
  }
  EXPECT_TRUE(has(cache, "k0"));  // now the most recently used
  cache.insert("k3", entry(spec), kNoHeaders, kNoObjectLimit);
  EXPECT_TRUE(has(cache, "k0"));
  EXPECT_FALSE(has(cache, "k1"));
}

TEST(ResponseCacheTest, NeverExceedsItsBound) {
  ResponseCache cache(20'000, 4);
  std::mt19937 rng(7);
  for (int i = 0; i < 2'000; ++i) {
    const std::string key = "key" + std::to_string(rng() % 300);
    EntrySpec spec{.body = std::string(rng() % 3'000, 'b')};
    if (rng() % 3 == 0) spec.vary = {"accept"};
    cache.insert(key, entry(spec), headers({{"accept", std::to_string(rng() % 4)}}),
                 kNoObjectLimit);
    if (rng() % 2) cache.lookup(key, kNoHeaders, kT0);
    ASSERT_LE(cache.counters().bytes.load(), 20'000) << i;
    ASSERT_GE(cache.counters().entries.load(), 0) << i;
  }
  EXPECT_GT(cache.counters().evictions.load(), 0u);
  // Everything purged: the gauges return to zero, records included.
  cache.purge("", "");
  EXPECT_EQ(cache.counters().bytes.load(), 0);
  EXPECT_EQ(cache.counters().entries.load(), 0);
}

TEST(ResponseCacheTest, VaryVariantsAreSecondaryKeys) {
  ResponseCache cache(1 << 20);
  const auto en = headers({{"accept-language", "en"}});
  const auto fr = headers({{"accept-language", "fr"}});
  cache.insert("k", entry({.body = "hello", .vary = {"accept-language"}}), en, kNoObjectLimit);
  EXPECT_EQ(cache.lookup("k", en, kT0).entry->body, "hello");
  EXPECT_FALSE(has(cache, "k", fr));
  EXPECT_FALSE(has(cache, "k", kNoHeaders));

  cache.insert("k", entry({.body = "bonjour", .vary = {"accept-language"}}), fr, kNoObjectLimit);
  EXPECT_EQ(cache.lookup("k", en, kT0).entry->body, "hello");
  EXPECT_EQ(cache.lookup("k", fr, kT0).entry->body, "bonjour");
  EXPECT_EQ(cache.counters().entries.load(), 2);

  // Absent and empty are different variants.
  cache.insert("k", entry({.body = "none", .vary = {"accept-language"}}), kNoHeaders,
               kNoObjectLimit);
  EXPECT_FALSE(has(cache, "k", headers({{"accept-language", ""}})));
  EXPECT_EQ(cache.lookup("k", kNoHeaders, kT0).entry->body, "none");
}

TEST(ResponseCacheTest, ChangedVaryNamesOrNoVaryReplaceAllVariants) {
  ResponseCache cache(1 << 20);
  const auto h = headers({{"accept-language", "en"}, {"accept", "text/html"}});
  cache.insert("k", entry({.body = "lang", .vary = {"accept-language"}}), h, kNoObjectLimit);
  cache.insert("k", entry({.body = "both", .vary = {"accept", "accept-language"}}), h,
               kNoObjectLimit);
  EXPECT_EQ(cache.lookup("k", h, kT0).entry->body, "both");
  EXPECT_EQ(cache.counters().entries.load(), 1);

  cache.insert("k", entry({.body = "plain"}), h, kNoObjectLimit);
  EXPECT_EQ(cache.lookup("k", kNoHeaders, kT0).entry->body, "plain");
  EXPECT_EQ(cache.counters().entries.load(), 1);

  cache.insert("k", entry({.body = "again", .vary = {"accept"}}), h, kNoObjectLimit);
  EXPECT_FALSE(has(cache, "k", kNoHeaders));
  EXPECT_EQ(cache.lookup("k", h, kT0).entry->body, "again");
  EXPECT_EQ(cache.counters().entries.load(), 1);
}

TEST(ResponseCacheTest, VaryStarIsNeverStored) {
  ResponseCache cache(1 << 20);
  EXPECT_EQ(cache.insert("k", entry({.vary = {"*"}}), kNoHeaders, kNoObjectLimit),
            ResponseCache::InsertOutcome::VariesOnEverything);
  EXPECT_FALSE(has(cache, "k"));
}

TEST(ResponseCacheTest, EvictingAVaryRecordTakesItsVariants) {
  const EntrySpec spec{.body = std::string(400, 'x'), .vary = {"accept"}};
  ResponseCache cache(4'000, 1);
  cache.insert("v", entry(spec), headers({{"accept", "a"}}), kNoObjectLimit);
  cache.insert("v", entry(spec), headers({{"accept", "b"}}), kNoObjectLimit);
  // LRU order now: variant b, record, variant a. Fill with plain entries until two responses
  // were evicted: variant a from the back, then the record, which takes variant b with it.
  for (int i = 0; cache.counters().evictions.load() < 2; ++i) {
    cache.insert("p" + std::to_string(i), entry({.body = std::string(400, 'y')}), kNoHeaders,
                 kNoObjectLimit);
  }
  EXPECT_FALSE(has(cache, "v", headers({{"accept", "a"}})));
  EXPECT_FALSE(has(cache, "v", headers({{"accept", "b"}})));
  // No variant survives unreachable: the gauges match what can be found.
  int64_t findable = 0;
  for (const char* value : {"a", "b"}) findable += has(cache, "v", headers({{"accept", value}}));
  for (int i = 0; i < 100; ++i) findable += has(cache, "p" + std::to_string(i));
  EXPECT_EQ(cache.counters().entries.load(), findable);
  EXPECT_LE(cache.counters().bytes.load(), 4'000);
}

TEST(ResponseCacheTest, AHitOnAVariantKeepsItsRecord) {
  const EntrySpec variant{.body = std::string(300, 'x'), .vary = {"accept"}};
  const EntrySpec plain{.body = std::string(300, 'y')};
  const auto a = headers({{"accept", "a"}});
  ResponseCache cache(1'000'000, 1);
  cache.insert("v", entry(variant), a, kNoObjectLimit);
  const int64_t per_plain = static_cast<int64_t>(chargeOf("p0", plain));
  const int64_t used = cache.counters().bytes.load();
  // A cache just big enough for the variant, its record and two plain entries.
  ResponseCache small(static_cast<uint64_t>(used + 2 * per_plain), 1);
  small.insert("v", entry(variant), a, kNoObjectLimit);
  small.insert("p0", entry(plain), kNoHeaders, kNoObjectLimit);
  small.insert("p1", entry(plain), kNoHeaders, kNoObjectLimit);
  EXPECT_TRUE(has(small, "v", a));  // the variant and its record become most recent
  small.insert("p2", entry(plain), kNoHeaders, kNoObjectLimit);
  EXPECT_TRUE(has(small, "v", a));
  EXPECT_FALSE(has(small, "p0"));
}

TEST(ResponseCacheTest, PurgeByRouteAndPrefixOnly) {
  ResponseCache cache(1 << 20);
  const auto en = headers({{"accept-language", "en"}});
  cache.insert("a1", entry({.scope = "shop/orders", .path = "/v1/orders/1"}), kNoHeaders,
               kNoObjectLimit);
  cache.insert("a2", entry({.scope = "shop/orders", .path = "/v1/orders/2"}), kNoHeaders,
               kNoObjectLimit);
  cache.insert("a3",
               entry({.scope = "shop/orders", .path = "/v1/items", .vary = {"accept-language"}}),
               en, kNoObjectLimit);
  cache.insert("b1", entry({.scope = "shop/users", .path = "/v1/orders/1"}), kNoHeaders,
               kNoObjectLimit);

  EXPECT_EQ(cache.purge("shop/orders", "/v1/orders"), 2u);
  EXPECT_FALSE(has(cache, "a1"));
  EXPECT_FALSE(has(cache, "a2"));
  EXPECT_TRUE(has(cache, "a3", en));
  EXPECT_TRUE(has(cache, "b1"));

  EXPECT_EQ(cache.purge("shop/nothing", ""), 0u);
  EXPECT_EQ(cache.purgeRoute("shop/orders"), 1u);  // the variant, with its record
  EXPECT_FALSE(has(cache, "a3", en));
  EXPECT_TRUE(has(cache, "b1"));

  EXPECT_EQ(cache.purge("", ""), 1u);
  EXPECT_EQ(cache.counters().entries.load(), 0);
  EXPECT_EQ(cache.counters().bytes.load(), 0);
  EXPECT_EQ(cache.counters().purged.load(), 4u);
}

TEST(ResponseCacheTest, PurgeEverythingUnderAPrefixAcrossRoutes) {
  ResponseCache cache(1 << 20);
  cache.insert("a", entry({.scope = "r1", .path = "/img/a"}), kNoHeaders, kNoObjectLimit);
  cache.insert("b", entry({.scope = "r2", .path = "/img/b"}), kNoHeaders, kNoObjectLimit);
  cache.insert("c", entry({.scope = "r2", .path = "/api"}), kNoHeaders, kNoObjectLimit);
  EXPECT_EQ(cache.purge("", "/img/"), 2u);
  EXPECT_TRUE(has(cache, "c"));
}

TEST(ResponseCacheTest, EraseDropsAllVariantsOfAKey) {
  ResponseCache cache(1 << 20);
  cache.insert("k", entry({.vary = {"accept"}}), headers({{"accept", "a"}}), kNoObjectLimit);
  cache.insert("k", entry({.vary = {"accept"}}), headers({{"accept", "b"}}), kNoObjectLimit);
  cache.insert("other", entry({}), kNoHeaders, kNoObjectLimit);
  EXPECT_EQ(cache.erase("k"), 2u);
  EXPECT_EQ(cache.erase("k"), 0u);
  EXPECT_TRUE(has(cache, "other"));
  EXPECT_EQ(cache.counters().entries.load(), 1);
}

TEST(ResponseCacheTest, AnEntryOutlivesItsEviction) {
  ResponseCache cache(1 << 20);
  cache.insert("k", entry({.body = "kept"}), kNoHeaders, kNoObjectLimit);
  auto held = cache.lookup("k", kNoHeaders, kT0).entry;
  cache.purge("", "");
  ASSERT_TRUE(held);
  EXPECT_EQ(held->body, "kept");
}

TEST(ResponseCacheTest, ConcurrentWorkers) {
  ResponseCache cache(200'000);  // 16 shards
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 5'000; ++i) {
        const std::string key = "k" + std::to_string(rng() % 500);
        switch (rng() % 5) {
          case 0:
          case 1:
            cache.insert(key,
                         entry({.body = std::string(rng() % 2'000, 'z'),
                                .vary = rng() % 2 ? std::vector<std::string>{"accept"}
                                                  : std::vector<std::string>{}}),
                         headers({{"accept", std::to_string(rng() % 3)}}), kNoObjectLimit);
            break;
          case 2:
          case 3:
            if (auto found = cache.lookup(key, headers({{"accept", "1"}}), kT0).entry) {
              ASSERT_EQ(found->status, 200);
            }
            break;
          default:
            if (rng() % 50 == 0) cache.purge("shop/orders", "/v1");
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(cache.counters().bytes.load(), 200'000);
  cache.purge("", "");
  EXPECT_EQ(cache.counters().bytes.load(), 0);
  EXPECT_EQ(cache.counters().entries.load(), 0);
}

}  // namespace
}  // namespace atrium::proxy::cache
