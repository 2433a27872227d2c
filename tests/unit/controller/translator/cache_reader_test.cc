// policy.cache as written in manifests → config::CachePolicy: every field and its default, the
// duration and size forms, the normalisation of lists (upper-case methods, lower-case vary,
// sorted and unique), keyQueryParams absent vs empty, fields applied on top of an inherited
// policy, and each way of getting it wrong reported at its exact field path.
#include "controller/translator/cache_reader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/unit/controller/translator/field_reports.h"

namespace atrium::controller::translator {
namespace {

using nlohmann::json;

const std::string kPath = "spec.rules[0].policy.cache";

using Outcome = field_reports::ReadOutcome<config::CachePolicy>;

Outcome read(const json& cache, const config::CachePolicy& base = {}) {
  return field_reports::readOutcome<config::CachePolicy>(
      [&](FieldReader& r) { return readCachePolicy(r, cache, kPath, base); });
}

// The single error of {field: value}.
std::string errorFor(const char* field, const json& value) {
  auto out = read({{field, value}});
  EXPECT_FALSE(out.policy) << field << " " << value.dump();
  EXPECT_EQ(out.errors.size(), 1u) << field << " " << value.dump();
  return out.errors.empty() ? "" : out.errors.front();
}

TEST(CacheReader, Defaults) {
  auto out = read(json::object());
  ASSERT_TRUE(out.policy);
  EXPECT_TRUE(out.errors.empty());
  EXPECT_TRUE(out.warnings.empty());
  EXPECT_EQ(*out.policy, config::CachePolicy{});
  // Spelled out, since the data plane relies on them.
  EXPECT_EQ(out.policy->ttl_ms, 0u);
  EXPECT_EQ(out.policy->methods, (std::vector<std::string>{"GET", "HEAD"}));
  EXPECT_TRUE(out.policy->vary.empty());
  EXPECT_TRUE(out.policy->respect_cache_control);
  EXPECT_EQ(out.policy->stale_if_error_ms, 0u);
  EXPECT_EQ(out.policy->max_object_bytes, 1024u * 1024);
  EXPECT_TRUE(out.policy->key_whole_query);
  EXPECT_TRUE(out.policy->key_query_params.empty());
  EXPECT_FALSE(out.policy->share_across_consumers);
  EXPECT_FALSE(out.policy->cache_set_cookie);
}

TEST(CacheReader, EveryField) {
  auto out = read(json::parse(R"({
    "ttl": "30s", "methods": ["GET", "HEAD", "POST"], "vary": ["Accept-Language", "Accept"],
    "respectCacheControl": false, "staleIfError": "5m", "maxObjectSize": "8Mi",
    "keyQueryParams": ["sort", "page"], "shareAcrossConsumers": true, "cacheSetCookie": true
  })"));
  ASSERT_TRUE(out.policy);
  EXPECT_TRUE(out.errors.empty());
  EXPECT_TRUE(out.warnings.empty());
  config::CachePolicy expected;
  expected.ttl_ms = 30'000;
  expected.methods = {"GET", "HEAD", "POST"};
  expected.vary = {"accept", "accept-language"};
  expected.respect_cache_control = false;
  expected.stale_if_error_ms = 300'000;
  expected.max_object_bytes = 8u * 1024 * 1024;
  expected.key_whole_query = false;
  expected.key_query_params = {"page", "sort"};
  expected.share_across_consumers = true;
  expected.cache_set_cookie = true;
  EXPECT_EQ(*out.policy, expected);
}

TEST(CacheReader, DurationForms) {
  const std::vector<std::pair<std::string, uint32_t>> cases = {
      {"0", 0},
      {"0s", 0},
      {"1ms", 1},
      {"500ms", 500},
      {".5s", 500},
      {"1.5s", 1'500},
      {"1m30s", 90'000},
      {"1h", 3'600'000},
      {"1d", 86'400'000},
      {"250us", 1},  // a positive duration never becomes 0
      {"1193h", 4'294'800'000u}};
  for (const auto& [text, ms] : cases) {
    auto out = read({{"ttl", text}, {"staleIfError", text}});
    ASSERT_TRUE(out.policy) << text;
    EXPECT_EQ(out.policy->ttl_ms, ms) << text;
    EXPECT_EQ(out.policy->stale_if_error_ms, ms) << text;
  }
  for (const char* field : {"ttl", "staleIfError"}) {
    const std::string prefix = kPath + "." + field + ": ";
    for (const char* text : {"30", "soon", "-1s", "", "1 s"}) {
      EXPECT_EQ(errorFor(field, text),
                prefix + "invalid duration \"" + text + "\" (e.g. 500ms, 5s, 1m)");
    }
    EXPECT_EQ(errorFor(field, "1194h"), prefix + "must be at most 1193h");
    EXPECT_EQ(errorFor(field, 30), prefix + "must be a string");
  }
}

TEST(CacheReader, MaxObjectSizeForms) {
  const std::vector<std::pair<json, uint64_t>> cases = {{0, 0},
                                                        {1024, 1024},
                                                        {"1024", 1024},
                                                        {"10k", 10'240},
                                                        {"10Ki", 10'240},
                                                        {"1Mi", 1'048'576},
                                                        {"10MB", 10'000'000},
                                                        {"1Gi", 1'073'741'824},
                                                        {"1.5Mi", 1'572'864}};
  for (const auto& [value, bytes] : cases) {
    auto out = read({{"maxObjectSize", value}});
    ASSERT_TRUE(out.policy) << value.dump();
    EXPECT_EQ(out.policy->max_object_bytes, bytes) << value.dump();
  }
  const std::string field = kPath + ".maxObjectSize: must be a byte size such as 1Mi";
  for (const json& bad :
       {json(-1), json("1 Mi"), json("lots"), json(1.5), json(true), json::array()}) {
    EXPECT_EQ(errorFor("maxObjectSize", bad), field) << bad.dump();
  }
}

TEST(CacheReader, Methods) {
  // Upper-cased, sorted, each once.
  auto out = read({{"methods", {"head", "Get", "GET", "post"}}});
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.policy->methods, (std::vector<std::string>{"GET", "HEAD", "POST"}));
  auto all =
      read({{"methods",
             {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}}});
  ASSERT_TRUE(all.policy);
  EXPECT_EQ(all.policy->methods.size(), 9u);
  const std::string message =
      "must be an HTTP method (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH)";
  for (const json& bad : {json("FETCH"), json("G E T"), json(""), json(1)}) {
    EXPECT_EQ(errorFor("methods", {"GET", bad}), kPath + ".methods[1]: " + message) << bad.dump();
  }
  EXPECT_EQ(errorFor("methods", json::array()), kPath + ".methods: needs 1 to 9 methods");
  EXPECT_EQ(errorFor("methods", std::vector<std::string>(10, "GET")),
            kPath + ".methods: needs 1 to 9 methods");
  EXPECT_EQ(errorFor("methods", "GET"), kPath + ".methods: must be a list");
}

TEST(CacheReader, Vary) {
  auto out = read({{"vary", {"X-Tenant", "accept", "Accept"}}});
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.policy->vary, (std::vector<std::string>{"accept", "x-tenant"}));
  EXPECT_TRUE(read({{"vary", json::array()}}).policy->vary.empty());
  for (const json& bad :
       {json("Bad Name"), json("a:b"), json(""), json(7), json(std::string(257, 'a'))}) {
    EXPECT_EQ(errorFor("vary", {"Accept", bad}), kPath + ".vary[1]: must be an HTTP header name")
        << bad.dump();
  }
  EXPECT_TRUE(read({{"vary", {std::string(256, 'a')}}}).policy);
  EXPECT_EQ(errorFor("vary", std::vector<std::string>(17, "a")),
            kPath + ".vary: holds at most 16 header names");
}

TEST(CacheReader, KeyQueryParams) {
  // Present: exactly these (sorted, each once, case kept); the whole query no longer counts.
  auto some = read({{"keyQueryParams", {"sort", "Page", "sort"}}});
  ASSERT_TRUE(some.policy);
  EXPECT_FALSE(some.policy->key_whole_query);
  EXPECT_EQ(some.policy->key_query_params, (std::vector<std::string>{"Page", "sort"}));
  // Present and empty: the query is not part of the key at all.
  auto none = read({{"keyQueryParams", json::array()}});
  ASSERT_TRUE(none.policy);
  EXPECT_FALSE(none.policy->key_whole_query);
  EXPECT_TRUE(none.policy->key_query_params.empty());
  // Absent: the whole query.
  EXPECT_TRUE(read(json::object()).policy->key_whole_query);
  const std::string message = "must be a query parameter name (1-256 characters)";
  for (const json& bad : {json(""), json(3), json(std::string(257, 'q'))}) {
    EXPECT_EQ(errorFor("keyQueryParams", {"a", bad}), kPath + ".keyQueryParams[1]: " + message)
        << bad.dump();
  }
  EXPECT_EQ(errorFor("keyQueryParams", std::vector<std::string>(33, "a")),
            kPath + ".keyQueryParams: holds at most 32 names");
  EXPECT_EQ(errorFor("keyQueryParams", "page"), kPath + ".keyQueryParams: must be a list");
}

TEST(CacheReader, Booleans) {
  for (const char* field : {"respectCacheControl", "shareAcrossConsumers", "cacheSetCookie"}) {
    EXPECT_EQ(errorFor(field, "true"), kPath + "." + field + ": must be true or false");
  }
  auto out = read(
      {{"respectCacheControl", true}, {"shareAcrossConsumers", false}, {"cacheSetCookie", false}});
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(*out.policy, config::CachePolicy{});
}

TEST(CacheReader, FieldsApplyOnTopOfTheInheritedPolicy) {
  config::CachePolicy base;
  base.ttl_ms = 60'000;
  base.vary = {"accept"};
  base.key_whole_query = false;
  base.key_query_params = {"page"};
  base.share_across_consumers = true;
  auto out = read({{"ttl", "5s"}, {"methods", {"GET"}}}, base);
  ASSERT_TRUE(out.policy);
  config::CachePolicy expected = base;
  expected.ttl_ms = 5'000;
  expected.methods = {"GET"};
  EXPECT_EQ(*out.policy, expected);
  // A list written replaces the inherited one whole.
  auto vary = read({{"vary", {"X-Tenant"}}}, base);
  ASSERT_TRUE(vary.policy);
  EXPECT_EQ(vary.policy->vary, std::vector<std::string>{"x-tenant"});
  // An inherited policy is not a licence to share: false written here wins.
  auto unshared = read({{"shareAcrossConsumers", false}}, base);
  ASSERT_TRUE(unshared.policy);
  EXPECT_FALSE(unshared.policy->share_across_consumers);
}

TEST(CacheReader, EveryProblemIsReportedAtOnce) {
  auto out = read(json::parse(R"({
    "ttl": "later", "methods": ["GET", "FETCH"], "vary": ["Bad Name"], "staleIfError": 5,
    "maxObjectSize": "huge", "keyQueryParams": [""], "cacheSetCookie": "no"
  })"));
  EXPECT_FALSE(out.policy);
  EXPECT_EQ(out.errors,
            (std::vector<std::string>{
                kPath + ".ttl: invalid duration \"later\" (e.g. 500ms, 5s, 1m)",
                kPath + ".methods[1]: must be an HTTP method (GET, HEAD, POST, PUT, DELETE, "
                        "CONNECT, OPTIONS, TRACE, PATCH)",
                kPath + ".vary[0]: must be an HTTP header name",
                kPath + ".staleIfError: must be a string",
                kPath + ".maxObjectSize: must be a byte size such as 1Mi",
                kPath + ".keyQueryParams[0]: must be a query parameter name (1-256 characters)",
                kPath + ".cacheSetCookie: must be true or false"}));
}

TEST(CacheReader, UnknownFieldsAreWarnings) {
  // A misspelt field would silently mean its default.
  auto out = read({{"ttl", "1s"}, {"shareAccrossConsumers", true}});
  ASSERT_TRUE(out.policy);
  EXPECT_FALSE(out.policy->share_across_consumers);
  EXPECT_EQ(out.warnings,
            std::vector<std::string>{kPath + ".shareAccrossConsumers: unknown field, ignored"});
}

}  // namespace
}  // namespace atrium::controller::translator
