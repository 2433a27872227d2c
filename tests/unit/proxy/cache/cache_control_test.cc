#include "proxy/cache/cache_control.h"

#include <gtest/gtest.h>

#include <vector>

#include "proxy/cache/field_text.h"

namespace atrium::proxy::cache {
namespace {

TEST(CacheControlTest, ResponseDirectivesWithAndWithoutValues) {
  auto d = parseResponseDirectives(
      "public, max-age=60, s-maxage=30, must-revalidate, proxy-revalidate, "
      "stale-if-error=300, stale-while-revalidate=10");
  EXPECT_TRUE(d.is_public);
  EXPECT_FALSE(d.is_private);
  EXPECT_FALSE(d.no_store);
  EXPECT_FALSE(d.no_cache);
  EXPECT_EQ(d.max_age_s, 60);
  EXPECT_EQ(d.s_maxage_s, 30);
  EXPECT_TRUE(d.must_revalidate);
  EXPECT_TRUE(d.proxy_revalidate);
  EXPECT_EQ(d.stale_if_error_s, 300);
  EXPECT_EQ(d.stale_while_revalidate_s, 10);
}

TEST(CacheControlTest, NamesAreCaseInsensitive) {
  auto d = parseResponseDirectives("No-Store, PRIVATE, Max-Age=5");
  EXPECT_TRUE(d.no_store);
  EXPECT_TRUE(d.is_private);
  EXPECT_EQ(d.max_age_s, 5);
}

TEST(CacheControlTest, QuotedValues) {
  EXPECT_EQ(parseResponseDirectives("max-age=\"60\"").max_age_s, 60);
  // A quoted value may contain commas and escapes; they do not start new directives.
  auto d = parseResponseDirectives(R"(ext="a, max-age=1, \"b\"", max-age=10)");
  EXPECT_EQ(d.max_age_s, 10);
  // Field lists: the whole response is no-cache / private.
  auto lists = parseResponseDirectives(R"(no-cache="Set-Cookie, X-Foo", private="X-Bar")");
  EXPECT_TRUE(lists.no_cache);
  EXPECT_TRUE(lists.is_private);
}

TEST(CacheControlTest, OddSpacingAndEmptyElements) {
  auto d = parseResponseDirectives(" ,, max-age = 60 ,\tno-store ,, ,");
  EXPECT_EQ(d.max_age_s, 60);
  EXPECT_TRUE(d.no_store);
  EXPECT_EQ(parseResponseDirectives(""), ResponseDirectives{});
  EXPECT_EQ(parseResponseDirectives(" , = 5 , =,"), ResponseDirectives{});
}

TEST(CacheControlTest, UnknownDirectivesAreSkipped) {
  auto d = parseResponseDirectives("immutable, foo=bar, community=\"UCI\", max-age=7, x");
  EXPECT_EQ(d.max_age_s, 7);
  EXPECT_FALSE(d.no_store);
}

TEST(CacheControlTest, SeveralHeaderLinesAreOneList) {
  std::vector<std::string_view> lines = {"public", "max-age=20", "must-revalidate"};
  auto d = parseResponseDirectives(lines);
  EXPECT_TRUE(d.is_public);
  EXPECT_EQ(d.max_age_s, 20);
  EXPECT_TRUE(d.must_revalidate);
}

TEST(CacheControlTest, ResponseDuplicatesThatDisagreeMeanStale) {
  EXPECT_EQ(parseResponseDirectives("max-age=60, max-age=60").max_age_s, 60);
  EXPECT_EQ(parseResponseDirectives("max-age=60, max-age=120").max_age_s, 0);
  std::vector<std::string_view> lines = {"s-maxage=60", "s-maxage=5"};
  EXPECT_EQ(parseResponseDirectives(lines).s_maxage_s, 0);
}

TEST(CacheControlTest, ResponseInvalidFreshnessMeansStale) {
  EXPECT_EQ(parseResponseDirectives("max-age=soon").max_age_s, 0);
  EXPECT_EQ(parseResponseDirectives("max-age").max_age_s, 0);
  EXPECT_EQ(parseResponseDirectives("max-age=-1").max_age_s, 0);
  EXPECT_EQ(parseResponseDirectives("s-maxage=1.5").s_maxage_s, 0);
  // stale-if-error only loosens: an invalid one is ignored.
  EXPECT_EQ(parseResponseDirectives("stale-if-error=x").stale_if_error_s, std::nullopt);
}

TEST(CacheControlTest, HugeValuesSaturate) {
  EXPECT_EQ(parseResponseDirectives("max-age=99999999999999999999999").max_age_s, kMaxDeltaSeconds);
  EXPECT_EQ(parseRequestDirectives("max-stale=4294967296").max_stale_s, kMaxDeltaSeconds);
}

TEST(CacheControlTest, RequestDirectives) {
  auto d = parseRequestDirectives("no-cache, no-store, max-age=10, min-fresh=5, only-if-cached");
  EXPECT_TRUE(d.no_cache);
  EXPECT_TRUE(d.no_store);
  EXPECT_EQ(d.max_age_s, 10);
  EXPECT_EQ(d.min_fresh_s, 5);
  EXPECT_FALSE(d.max_stale_s);
  EXPECT_TRUE(d.only_if_cached);
}

TEST(CacheControlTest, RequestMaxStaleWithAndWithoutValue) {
  EXPECT_EQ(parseRequestDirectives("max-stale").max_stale_s, kMaxDeltaSeconds);
  EXPECT_EQ(parseRequestDirectives("max-stale=30").max_stale_s, 30);
  EXPECT_EQ(parseRequestDirectives("max-stale=\"30\"").max_stale_s, 30);
}

TEST(CacheControlTest, RequestFirstValidValueWinsAndInvalidIsIgnored) {
  EXPECT_EQ(parseRequestDirectives("max-age=10, max-age=0").max_age_s, 10);
  EXPECT_EQ(parseRequestDirectives("max-age=abc").max_age_s, std::nullopt);
  EXPECT_EQ(parseRequestDirectives("max-age=abc, max-age=3").max_age_s, 3);
}

TEST(CacheControlTest, PragmaNoCacheOnlyWithoutCacheControl) {
  std::vector<std::string_view> none;
  std::vector<std::string_view> pragma = {"no-cache"};
  EXPECT_TRUE(parseRequestDirectives(none, pragma).no_cache);
  std::vector<std::string_view> other_pragma = {"x-foo"};
  EXPECT_FALSE(parseRequestDirectives(none, other_pragma).no_cache);
  std::vector<std::string_view> cc = {"max-age=5"};
  EXPECT_FALSE(parseRequestDirectives(cc, pragma).no_cache);
}

TEST(CacheControlTest, DeltaSeconds) {
  EXPECT_EQ(parseDeltaSeconds("0"), 0);
  EXPECT_EQ(parseDeltaSeconds("007"), 7);
  EXPECT_EQ(parseDeltaSeconds(""), std::nullopt);
  EXPECT_EQ(parseDeltaSeconds("+1"), std::nullopt);
  EXPECT_EQ(parseDeltaSeconds("1 "), std::nullopt);
  EXPECT_EQ(parseDeltaSeconds("2147483648"), kMaxDeltaSeconds);
  EXPECT_EQ(parseDeltaSeconds("2147483647"), 2147483647);
}

}  // namespace
}  // namespace atrium::proxy::cache
