#include "proxy/cache/cache_key.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace atrium::proxy::cache {
namespace {

HeaderLookup headers(std::map<std::string, std::string> values) {
  return [values = std::move(values)](std::string_view name) -> std::optional<std::string> {
    auto it = values.find(std::string(name));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

const HeaderLookup kNoHeaders = headers({});

// A key with everything but the varying argument fixed.
struct KeyFor {
  config::CachePolicy policy;
  std::string scope = "shop/orders/list";
  std::string method = "GET";
  std::string host = "api.example.com";
  std::string path = "/v1/orders";
  std::string consumer;

  std::string query(std::string_view q) const {
    return buildCacheKey(policy, scope, method, host, path, q, kNoHeaders, consumer);
  }
};

TEST(CacheKeyTest, HeadKeysAsGetButOtherMethodsDiffer) {
  KeyFor k;
  const std::string get = k.query("");
  k.method = "HEAD";
  EXPECT_EQ(k.query(""), get);
  k.method = "POST";
  EXPECT_NE(k.query(""), get);
}

TEST(CacheKeyTest, HostIsCaseInsensitiveAndKeepsItsPort) {
  KeyFor k;
  k.host = "example.com:8080";
  const std::string with_port = k.query("");
  k.host = "EXAMPLE.com:8080";
  EXPECT_EQ(k.query(""), with_port);
  k.host = "example.com";
  EXPECT_NE(k.query(""), with_port);
}

TEST(CacheKeyTest, PathIsCaseSensitive) {
  KeyFor k;
  const std::string lower = k.query("");
  k.path = "/V1/orders";
  EXPECT_NE(k.query(""), lower);
}

TEST(CacheKeyTest, WholeQueryIgnoresTheOrderOfDifferentNames) {
  KeyFor k;
  EXPECT_EQ(k.query("a=1&b=2"), k.query("b=2&a=1"));
  EXPECT_EQ(k.query("c=3&a=1&b=2"), k.query("b=2&c=3&a=1"));
  EXPECT_NE(k.query("a=1&b=2"), k.query("a=1&b=3"));
  EXPECT_NE(k.query("a=1"), k.query(""));
}

TEST(CacheKeyTest, WholeQueryKeepsTheOrderOfRepeatedNames) {
  KeyFor k;
  EXPECT_NE(k.query("a=1&a=2"), k.query("a=2&a=1"));
  EXPECT_EQ(k.query("a=1&b=0&a=2"), k.query("b=0&a=1&a=2"));
  // Names that decode alike count as the same name: their order matters too.
  EXPECT_NE(k.query("q=1&%71=2"), k.query("%71=2&q=1"));
}

TEST(CacheKeyTest, WholeQueryKeepsRawEncodingAndEmptyPieces) {
  KeyFor k;
  EXPECT_NE(k.query("q=%41"), k.query("q=A"));
  EXPECT_NE(k.query("q=a+b"), k.query("q=a%20b"));
  EXPECT_NE(k.query("a=1&&b=2"), k.query("a=1&b=2"));
  EXPECT_NE(k.query("a"), k.query("a="));
}

TEST(CacheKeyTest, SelectedParamsOnly) {
  KeyFor k;
  k.policy.key_whole_query = false;
  k.policy.key_query_params = {"id", "page"};
  EXPECT_EQ(k.query("id=1&utm=x"), k.query("utm=y&id=1"));
  EXPECT_EQ(k.query("page=2&id=1"), k.query("id=1&page=2&ref=z"));
  EXPECT_NE(k.query("id=1"), k.query("id=2"));
  EXPECT_NE(k.query("id=1"), k.query(""));
  EXPECT_EQ(k.query("utm=x"), k.query(""));
}

TEST(CacheKeyTest, NoSelectedParamsIgnoresTheQuery) {
  KeyFor k;
  k.policy.key_whole_query = false;
  EXPECT_EQ(k.query("a=1&b=2"), k.query(""));
}

TEST(CacheKeyTest, SelectedParamsCannotBeCloaked) {
  KeyFor k;
  k.policy.key_whole_query = false;
  k.policy.key_query_params = {"id"};
  // Percent-encoded name: the application reads id=2.
  EXPECT_NE(k.query("%69d=2"), k.query(""));
  EXPECT_NE(k.query("%69d=2"), k.query("id=1"));
  // A name hidden behind ";" (frameworks that split on it).
  EXPECT_NE(k.query("utm=1;id=2"), k.query("utm=1"));
  EXPECT_NE(k.query("utm=1;id=2"), k.query(""));
}

TEST(CacheKeyTest, WholeAndSelectedQueriesNeverShareKeys) {
  KeyFor whole;
  KeyFor selected;
  selected.policy.key_whole_query = false;
  selected.policy.key_query_params = {"a"};
  EXPECT_NE(whole.query("a=1"), selected.query("a=1"));
}

TEST(CacheKeyTest, VaryHeadersDistinguishAbsentEmptyAndValues) {
  KeyFor k;
  k.policy.vary = {"accept-language"};
  auto key = [&](const HeaderLookup& h) {
    return buildCacheKey(k.policy, k.scope, k.method, k.host, k.path, "", h, "");
  };
  const std::string absent = key(kNoHeaders);
  const std::string empty = key(headers({{"accept-language", ""}}));
  const std::string en = key(headers({{"accept-language", "en"}}));
  EXPECT_NE(absent, empty);
  EXPECT_NE(absent, en);
  EXPECT_NE(empty, en);
  EXPECT_EQ(en, key(headers({{"accept-language", " en "}, {"x-other", "1"}})));
}

TEST(CacheKeyTest, HeadersNotInVaryAreIgnored) {
  KeyFor k;
  EXPECT_EQ(buildCacheKey(k.policy, k.scope, "GET", k.host, k.path, "",
                          headers({{"accept-language", "en"}}), ""),
            k.query(""));
}

TEST(CacheKeyTest, ConsumersAndScopesAreSeparated) {
  KeyFor k;
  const std::string shared = k.query("");
  k.consumer = "shop/alice";
  const std::string alice = k.query("");
  k.consumer = "shop/bob";
  EXPECT_NE(alice, shared);
  EXPECT_NE(k.query(""), alice);
  k.consumer = "";
  k.scope = "shop/orders/other";
  EXPECT_NE(k.query(""), shared);
}

// Every distinct combination of field values gives a distinct key: values full of the
// characters an encoding might use as separators cannot slide from one field into another.
TEST(CacheKeyTest, NoCollisionsByConcatenation) {
  const std::vector<std::string> values = {"", "a", "1", ":", "1:", "1:a", "Q-", "+3:"};
  config::CachePolicy policy;
  policy.vary = {"x-v"};
  std::map<std::string, std::string> seen;
  size_t combinations = 0;
  for (const auto& scope : values) {
    for (const auto& host : values) {
      for (const auto& path : values) {
        for (const auto& query : values) {
          for (const auto& consumer : values) {
            for (int vary = 0; vary < 3; ++vary) {
              HeaderLookup h = vary == 0   ? kNoHeaders
                               : vary == 1 ? headers({{"x-v", ""}})
                                           : headers({{"x-v", "v" + path}});
              const std::string key =
                  buildCacheKey(policy, scope, "GET", host, path, query, h, consumer);
              const std::string tuple = scope + "\n" + host + "\n" + path + "\n" + query + "\n" +
                                        consumer + "\n" + std::to_string(vary);
              auto [it, inserted] = seen.emplace(key, tuple);
              EXPECT_TRUE(inserted) << "'" << tuple << "' and '" << it->second << "' collide";
              ++combinations;
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(seen.size(), combinations);
}

TEST(CacheKeyTest, ParseVaryHeaderNormalisesNames) {
  std::vector<std::string_view> lines = {"Accept-Encoding, accept-language", " ACCEPT-ENCODING ,,"};
  auto names = parseVaryHeader(lines);
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, (std::vector<std::string>{"accept-encoding", "accept-language"}));

  std::vector<std::string_view> none;
  EXPECT_EQ(parseVaryHeader(none), std::vector<std::string>{});

  std::vector<std::string_view> star = {"accept", "*"};
  EXPECT_FALSE(parseVaryHeader(star));
}

TEST(CacheKeyTest, VaryKeyComparesNamesInAnyOrderAndCase) {
  auto h = headers({{"accept", "text/html"}, {"accept-language", "en"}});
  EXPECT_EQ(varyKey({"Accept", "accept-language"}, h), varyKey({"accept-language", "accept"}, h));
  EXPECT_NE(varyKey({"accept"}, h), varyKey({"accept-language"}, h));
  EXPECT_NE(varyKey({"accept"}, h), varyKey({"accept"}, headers({{"accept", "text/plain"}})));
  EXPECT_NE(varyKey({"accept"}, headers({{"accept", ""}})), varyKey({"accept"}, kNoHeaders));
  EXPECT_FALSE(varyKey({"accept", "*"}, h));
}

}  // namespace
}  // namespace atrium::proxy::cache
