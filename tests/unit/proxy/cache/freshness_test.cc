#include "proxy/cache/freshness.h"

#include <gtest/gtest.h>

#include "proxy/cache/field_text.h"

namespace atrium::proxy::cache {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime kT0 = SteadyTime{} + std::chrono::hours(1000);  // the injected clock's start
// The Date of the responses below: Sun, 06 Nov 1994 08:49:37 GMT.
const SystemTime kDate = SystemTime{seconds{784111777}};
constexpr std::string_view kDateText = "Sun, 06 Nov 1994 08:49:37 GMT";

config::CachePolicy ttl(uint32_t ttl_ms) {
  config::CachePolicy p;
  p.ttl_ms = ttl_ms;
  return p;
}

int64_t lifetime(std::string_view cache_control, std::optional<std::string_view> expires,
                 std::optional<std::string_view> date, const config::CachePolicy& policy,
                 SystemTime received_at = kDate) {
  return freshnessLifetimeMs(parseResponseDirectives(cache_control), expires, date, received_at,
                             policy);
}

TEST(CacheFreshnessTest, SMaxageBeatsMaxAgeBeatsExpiresBeatsTtl) {
  const auto policy = ttl(5'000);
  constexpr std::string_view kIn100s = "Sun, 06 Nov 1994 08:51:17 GMT";
  EXPECT_EQ(lifetime("max-age=60, s-maxage=30", kIn100s, kDateText, policy), 30'000);
  EXPECT_EQ(lifetime("max-age=60", kIn100s, kDateText, policy), 60'000);
  EXPECT_EQ(lifetime("", kIn100s, kDateText, policy), 100'000);
  EXPECT_EQ(lifetime("public", std::nullopt, kDateText, policy), 5'000);
  EXPECT_EQ(lifetime("", std::nullopt, std::nullopt, ttl(0)), 0);
}

TEST(CacheFreshnessTest, MaxAgeZeroIsNotTheTtl) {
  EXPECT_EQ(lifetime("max-age=0", std::nullopt, std::nullopt, ttl(5'000)), 0);
}

TEST(CacheFreshnessTest, InvalidExpiresIsAlreadyExpired) {
  EXPECT_EQ(lifetime("", "0", kDateText, ttl(5'000)), 0);
  EXPECT_EQ(lifetime("", "-1", kDateText, ttl(5'000)), 0);
  // Expires in the past of Date.
  EXPECT_EQ(lifetime("", "Sun, 06 Nov 1994 08:00:00 GMT", kDateText, ttl(5'000)), 0);
}

TEST(CacheFreshnessTest, MissingOrInvalidDateIsTheTimeReceived) {
  constexpr std::string_view kExpires = "Sun, 06 Nov 1994 08:50:37 GMT";  // Date + 60 s
  EXPECT_EQ(lifetime("", kExpires, std::nullopt, ttl(0), kDate), 60'000);
  EXPECT_EQ(lifetime("", kExpires, std::nullopt, ttl(0), kDate + seconds(20)), 40'000);
  EXPECT_EQ(lifetime("", kExpires, "garbage", ttl(0), kDate + seconds(20)), 40'000);
}

TEST(CacheFreshnessTest, IgnoringCacheControlTheTtlAlwaysWins) {
  auto policy = ttl(7'000);
  policy.respect_cache_control = false;
  EXPECT_EQ(lifetime("s-maxage=60, max-age=30", "0", kDateText, policy), 7'000);
  EXPECT_EQ(lifetime("max-age=0", std::nullopt, std::nullopt, policy), 7'000);
}

TEST(CacheFreshnessTest, StaleIfErrorWindow) {
  auto policy = ttl(1'000);
  policy.stale_if_error_ms = 60'000;
  EXPECT_EQ(staleIfErrorMs(parseResponseDirectives("max-age=5"), policy), 60'000);
  EXPECT_EQ(staleIfErrorMs(parseResponseDirectives("max-age=5, stale-if-error=10"), policy),
            10'000);
  for (const char* forbidding : {"must-revalidate", "proxy-revalidate", "s-maxage=5", "no-cache",
                                 "stale-if-error=10, must-revalidate"}) {
    EXPECT_EQ(staleIfErrorMs(parseResponseDirectives(forbidding), policy), 0) << forbidding;
  }
  policy.respect_cache_control = false;
  EXPECT_EQ(staleIfErrorMs(parseResponseDirectives("must-revalidate, stale-if-error=1"), policy),
            60'000);
}

TEST(CacheFreshnessTest, InitialAge) {
  EXPECT_EQ(initialAgeMs(std::nullopt), 0);
  EXPECT_EQ(initialAgeMs("12"), 12'000);
  EXPECT_EQ(initialAgeMs(" 3 "), 3'000);
  EXPECT_EQ(initialAgeMs("-3"), 0);
  EXPECT_EQ(initialAgeMs("abc"), 0);
  EXPECT_EQ(initialAgeMs("99999999999999"), kMaxDeltaSeconds * 1000);
}

CachedResponse entryAt(SteadyTime stored_at, int64_t lifetime_ms, int64_t initial_age_ms = 0,
                       int64_t stale_if_error_ms = 0) {
  CachedResponse e;
  e.stored_at = stored_at;
  e.initial_age_ms = initial_age_ms;
  auto times = entryTimes(stored_at, lifetime_ms, initial_age_ms, stale_if_error_ms);
  e.fresh_until = times.fresh_until;
  e.stale_if_error_until = times.stale_if_error_until;
  return e;
}

TEST(CacheFreshnessTest, AgeIsTheAgeReceivedPlusTimeStored) {
  auto e = entryAt(kT0, 60'000, 5'000);
  EXPECT_EQ(e.currentAgeMs(kT0), 5'000);
  EXPECT_EQ(e.currentAgeMs(kT0 + milliseconds(2'500)), 7'500);
  EXPECT_EQ(ageSeconds(e, kT0 + milliseconds(2'999)), 7);
  // A clock reading before storage (another thread's earlier "now") never makes it younger.
  EXPECT_EQ(e.currentAgeMs(kT0 - seconds(1)), 5'000);
}

TEST(CacheFreshnessTest, EntryTimesSubtractTheAgeReceived) {
  auto e = entryAt(kT0, 60'000, 15'000, 30'000);
  EXPECT_EQ(e.fresh_until, kT0 + seconds(45));
  EXPECT_EQ(e.stale_if_error_until, kT0 + seconds(75));
  EXPECT_TRUE(e.freshAt(kT0 + seconds(44)));
  EXPECT_FALSE(e.freshAt(kT0 + seconds(45)));
  EXPECT_TRUE(e.usableOnErrorAt(kT0 + seconds(74)));
  EXPECT_FALSE(e.usableOnErrorAt(kT0 + seconds(75)));
  // Older than its lifetime on arrival: stale at once.
  auto old = entryAt(kT0, 10'000, 20'000);
  EXPECT_EQ(old.fresh_until, kT0);
}

TEST(CacheFreshnessTest, FreshnessForPlainRequests) {
  auto e = entryAt(kT0, 10'000);
  EXPECT_EQ(freshnessFor(e, {}, kT0), Freshness::Fresh);
  EXPECT_EQ(freshnessFor(e, {}, kT0 + milliseconds(9'999)), Freshness::Fresh);
  EXPECT_EQ(freshnessFor(e, {}, kT0 + seconds(10)), Freshness::Stale);
}

TEST(CacheFreshnessTest, RequestNoCacheAndMaxAge) {
  auto e = entryAt(kT0, 60'000);
  EXPECT_EQ(freshnessFor(e, parseRequestDirectives("no-cache"), kT0), Freshness::Stale);
  EXPECT_EQ(freshnessFor(e, parseRequestDirectives("max-age=5"), kT0 + seconds(5)),
            Freshness::Fresh);
  EXPECT_EQ(freshnessFor(e, parseRequestDirectives("max-age=5"), kT0 + seconds(6)),
            Freshness::Stale);
  EXPECT_EQ(freshnessFor(e, parseRequestDirectives("max-age=0"), kT0 + milliseconds(1)),
            Freshness::Stale);
}

TEST(CacheFreshnessTest, RequestMinFresh) {
  auto e = entryAt(kT0, 60'000);
  EXPECT_EQ(freshnessFor(e, parseRequestDirectives("min-fresh=50"), kT0 + seconds(10)),
            Freshness::Fresh);
  EXPECT_EQ(freshnessFor(e, parseRequestDirectives("min-fresh=50"), kT0 + seconds(11)),
            Freshness::Stale);
}

TEST(CacheFreshnessTest, RequestMaxStale) {
  auto e = entryAt(kT0, 10'000);
  const SteadyTime stale_by_5 = kT0 + seconds(15);
  EXPECT_EQ(freshnessFor(e, parseRequestDirectives("max-stale=5"), stale_by_5), Freshness::Fresh);
  EXPECT_EQ(freshnessFor(e, parseRequestDirectives("max-stale=4"), stale_by_5), Freshness::Stale);
  EXPECT_EQ(freshnessFor(e, parseRequestDirectives("max-stale"), kT0 + std::chrono::hours(24)),
            Freshness::Fresh);
  e.must_revalidate = true;
  EXPECT_EQ(freshnessFor(e, parseRequestDirectives("max-stale"), stale_by_5), Freshness::Stale);
}

TEST(CacheFreshnessTest, MustRevalidateDirectives) {
  const config::CachePolicy policy;
  EXPECT_FALSE(mustRevalidate(parseResponseDirectives("max-age=5"), policy));
  EXPECT_TRUE(mustRevalidate(parseResponseDirectives("must-revalidate"), policy));
  EXPECT_TRUE(mustRevalidate(parseResponseDirectives("proxy-revalidate"), policy));
  EXPECT_TRUE(mustRevalidate(parseResponseDirectives("s-maxage=5"), policy));
}

}  // namespace
}  // namespace atrium::proxy::cache
