// APIRoute policy.rateLimit through the whole translator: which buckets each route gets (the
// scope name: route-wide policies share one set, a rule's own policy has its own), rules
// overriding the route-wide limit, an invalid limit keeping the route or rule out (like an
// invalid auth), the warning for per-consumer limits on a route that authenticates nobody, and
// the translation cache carrying limits through.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "controller/manifests/manifest_loader.h"
#include "tests/unit/controller/translator/translate_yaml.h"
#include "controller/translator/translation_cache.h"
#include "controller/translator/translator.h"

namespace atrium::controller::translator {
namespace {

using namespace yaml_support;  // load, translateYaml, findRoute, reports, route

const std::string kNoConsumer = "no consumer is authenticated on this route; the client IP is used";

TEST(APIRouteRateLimit, RouteWideLimitIsSharedByEveryRule) {
  auto result = translateYaml(route(R"(
  policy:
    auth: {type: APIKey}
    rateLimit: {limits: [{requests: 100, period: 1m, burst: 20, key: Consumer}], scope: Global}
  rules:
  - name: list
    matches: [{path: {value: /list}}]
    backends: [{service: {name: svc, port: 80}}]
  - matches: [{path: {value: /other}}]
    backends: [{service: {name: svc, port: 80}}]
)"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  EXPECT_EQ(reports(result, true), std::vector<std::string>{});
  const config::RateLimitPolicy expected{
      {{100, 60'000, 20, config::RateLimitKey::Consumer, ""}}, true, "shop/orders"};
  for (const char* name : {"shop/orders/list", "shop/orders/1"}) {
    const auto* r = findRoute(result, name);
    ASSERT_NE(r, nullptr) << name;
    ASSERT_TRUE(r->rate_limit) << name;
    EXPECT_EQ(*r->rate_limit, expected) << name;
  }
}

TEST(APIRouteRateLimit, RuleLimitsHaveBucketsOfTheirOwn) {
  auto result = translateYaml(route(R"(
  rules:
  - name: list
    matches: [{path: {value: /list}}]
    backends: [{service: {name: svc, port: 80}}]
    policy:
      rateLimit: {limits: [{requests: 5, period: 1s, key: "Header:X-Tenant"}]}
  - matches: [{path: {value: /other}}]
    backends: [{service: {name: svc, port: 80}}]
    policy:
      rateLimit: {limits: [{requests: 7, period: 1m30s, key: ClientIP}]}
  - matches: [{path: {value: /open}}]
    backends: [{service: {name: svc, port: 80}}]
)"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto* list = findRoute(result, "shop/orders/list");
  ASSERT_TRUE(list && list->rate_limit);
  EXPECT_EQ(
      *list->rate_limit,
      (config::RateLimitPolicy{
          {{5, 1'000, 0, config::RateLimitKey::Header, "x-tenant"}}, false, "shop/orders/list"}));
  const auto* other = findRoute(result, "shop/orders/1");  // unnamed: the rule's index
  ASSERT_TRUE(other && other->rate_limit);
  EXPECT_EQ(*other->rate_limit,
            (config::RateLimitPolicy{
                {{7, 90'000, 0, config::RateLimitKey::ClientIP, ""}}, false, "shop/orders/1"}));
  const auto* open = findRoute(result, "shop/orders/2");
  ASSERT_TRUE(open);
  EXPECT_FALSE(open->rate_limit);
}

TEST(APIRouteRateLimit, RuleReplacesTheRouteWideLimitAsAWhole) {
  auto result = translateYaml(route(R"(
  policy:
    auth: {type: APIKey}
    rateLimit:
      limits: [{requests: 100, period: 1m}, {requests: 1000, period: 1h}]
      scope: Global
  rules:
  - name: heavy
    matches: [{path: {value: /heavy}}]
    backends: [{service: {name: svc, port: 80}}]
    policy:
      rateLimit: {limits: [{requests: 1, period: 1s, burst: 2}]}
  - name: other-policy
    matches: [{path: {value: /other}}]
    backends: [{service: {name: svc, port: 80}}]
    policy:
      timeouts: {request: 5s}
)"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto* heavy = findRoute(result, "shop/orders/heavy");
  ASSERT_TRUE(heavy && heavy->rate_limit);
  // Neither the route's second limit nor its Global scope carries over.
  EXPECT_EQ(*heavy->rate_limit,
            (config::RateLimitPolicy{
                {{1, 1'000, 2, config::RateLimitKey::Consumer, ""}}, false, "shop/orders/heavy"}));
  // A rule policy without rateLimit keeps the route's, with the route's shared buckets.
  const auto* other = findRoute(result, "shop/orders/other-policy");
  ASSERT_TRUE(other && other->rate_limit);
  EXPECT_EQ(other->rate_limit->scope, "shop/orders");
  EXPECT_EQ(other->rate_limit->limits.size(), 2u);
  EXPECT_TRUE(other->rate_limit->global);
  EXPECT_EQ(other->timeouts.request_ms, 5000u);
}

TEST(APIRouteRateLimit, InvalidRouteWideLimitServesNothingOfTheRoute) {
  auto result = translateYaml(route(R"(
  policy:
    rateLimit: {limits: [{requests: 10, period: "10"}]}
  rules:
  - backends: [{service: {name: svc, port: 80}}]
)"));
  EXPECT_EQ(reports(result, false),
            std::vector<std::string>{"spec.policy.rateLimit.limits[0].period: invalid duration "
                                     "\"10\" (e.g. 1s, 1m, 1h, 1d, 1m30s)"});
  EXPECT_TRUE(result.snapshot.virtual_hosts.empty());
  ASSERT_EQ(result.statuses.size(), 1u);
  EXPECT_FALSE(result.statuses[0].conditions[0].status);  // Accepted=False
  EXPECT_EQ(result.statuses[0].conditions[0].reason, "Invalid");
}

TEST(APIRouteRateLimit, InvalidRuleLimitLeavesOnlyThatRuleOut) {
  auto result = translateYaml(route(R"(
  rules:
  - name: ok
    matches: [{path: {value: /ok}}]
    backends: [{service: {name: svc, port: 80}}]
  - name: broken
    matches: [{path: {value: /broken}}]
    backends: [{service: {name: svc, port: 80}}]
    policy:
      rateLimit: {limits: [{requests: 10, period: 1s, key: "Header:"}], scope: Cluster}
)"));
  EXPECT_EQ(reports(result, false),
            (std::vector<std::string>{
                "spec.rules[1].policy.rateLimit.limits[0].key: must be Consumer, ClientIP, Route "
                "or Header:<name> with an HTTP header name",
                "spec.rules[1].policy.rateLimit.scope: must be Local or Global"}));
  EXPECT_NE(findRoute(result, "shop/orders/ok"), nullptr);
  EXPECT_EQ(findRoute(result, "shop/orders/broken"), nullptr);
  ASSERT_EQ(result.statuses.size(), 1u);
  EXPECT_EQ(result.statuses[0].conditions[0].reason, "PartiallyInvalid");
}

TEST(APIRouteRateLimit, RateLimitThatIsNotAnObjectIsRefused) {
  auto result = translateYaml(route(R"(
  policy:
    rateLimit: 100/m
  rules:
  - backends: [{service: {name: svc, port: 80}}]
)"));
  EXPECT_EQ(reports(result, false),
            std::vector<std::string>{"spec.policy.rateLimit: must be an object"});
  EXPECT_TRUE(result.snapshot.virtual_hosts.empty());
}

TEST(APIRouteRateLimit, ConsumerKeyWithoutAuthIsAWarningOncePerLimit) {
  auto result = translateYaml(route(R"(
  policy:
    rateLimit:
      limits: [{requests: 100, period: 1m}, {requests: 5, period: 1s, key: ClientIP},
               {requests: 1000, period: 1h, key: Consumer}]
  rules:
  - matches: [{path: {value: /a}}]
    backends: [{service: {name: svc, port: 80}}]
  - matches: [{path: {value: /b}}]
    backends: [{service: {name: svc, port: 80}}]
)"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  // Served all the same: the data plane counts these per client IP.
  EXPECT_EQ(reports(result, true),
            (std::vector<std::string>{"spec.policy.rateLimit.limits[0].key: " + kNoConsumer,
                                      "spec.policy.rateLimit.limits[2].key: " + kNoConsumer}));
  ASSERT_NE(findRoute(result, "shop/orders/0"), nullptr);
  EXPECT_TRUE(findRoute(result, "shop/orders/0")->rate_limit);
}

TEST(APIRouteRateLimit, ConsumerKeyWarningFollowsEachRulesAuth) {
  auto result = translateYaml(route(R"(
  policy:
    auth: {type: APIKey}
    rateLimit: {limits: [{requests: 100, period: 1m}]}
  rules:
  - name: protected
    matches: [{path: {value: /a}}]
    backends: [{service: {name: svc, port: 80}}]
  - name: public
    matches: [{path: {value: /health}}]
    directResponse: {status: 200}
    policy:
      auth: {type: None}
  - name: own-limit
    matches: [{path: {value: /c}}]
    backends: [{service: {name: svc, port: 80}}]
    policy:
      auth: {type: None}
      rateLimit: {limits: [{requests: 1, period: 1s, key: Consumer}]}
)"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  EXPECT_EQ(
      reports(result, true),
      (std::vector<std::string>{"spec.policy.rateLimit.limits[0].key: " + kNoConsumer,
                                "spec.rules[2].policy.rateLimit.limits[0].key: " + kNoConsumer}));
}

TEST(APIRouteRateLimit, ConsumerKeyWithAuthIsQuiet) {
  auto result = translateYaml(route(R"(
  rules:
  - backends: [{service: {name: svc, port: 80}}]
    policy:
      auth: {type: APIKey}
      rateLimit: {limits: [{requests: 1, period: 1s}]}
)"));
  EXPECT_TRUE(result.diagnostics.empty()) << result.diagnostics.front().format();
}

TEST(APIRouteRateLimit, TheCacheCarriesLimitsAndSeesTheirEdits) {
  auto versioned = [](const std::string& yaml, const std::string& version) {
    ObjectStore store = load(yaml).objects;
    ObjectStore out;
    for (const char* kind : {"APIRoute", "Service"}) {
      for (const auto& [key, object] : store.all(kind)) {
        KubeObject o = object;
        o.body["metadata"]["uid"] = "uid-" + key;
        o.body["metadata"]["resourceVersion"] = version;
        out.upsert(std::move(o));
      }
    }
    return out;
  };
  const auto before = versioned(route(R"(
  rules:
  - backends: [{service: {name: svc, port: 80}}]
    policy:
      rateLimit: {limits: [{requests: 1, period: 1s, key: ClientIP}]}
)"),
                                "1");
  const auto after = versioned(route(R"(
  rules:
  - backends: [{service: {name: svc, port: 80}}]
    policy:
      rateLimit: {limits: [{requests: 9, period: 1d, key: ClientIP}], scope: Global}
)"),
                               "2");
  TranslationCache cache;
  const auto cold = translate(before, options(), &cache);
  EXPECT_EQ(cold, translate(before, options()));
  const auto warm = translate(before, options(), &cache);
  EXPECT_EQ(warm, cold);
  ASSERT_TRUE(findRoute(warm, "shop/orders/0") && findRoute(warm, "shop/orders/0")->rate_limit);
  const auto edited = translate(after, options(), &cache);
  EXPECT_EQ(edited, translate(after, options()));
  const auto* r = findRoute(edited, "shop/orders/0");
  ASSERT_TRUE(r && r->rate_limit);
  EXPECT_EQ(r->rate_limit->limits[0].requests, 9u);
  EXPECT_EQ(r->rate_limit->limits[0].period_ms, 86'400'000u);
  EXPECT_TRUE(r->rate_limit->global);
}

}  // namespace
}  // namespace atrium::controller::translator
