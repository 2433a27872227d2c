// APIRoute policy.cache, retries, circuitBreaker, healthCheck, loadBalancer, hashOn and fallback
// through the whole translator: route-wide values reaching every rule, a rule's fields
// overriding the route's one by one (fallback as a whole), an invalid value keeping the route
// or rule out like an invalid timeout, ConsistentHash's default key and the unused-hashOn
// warning, and directResponse read by the same code as fallback.
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

// One rule with `policy` (YAML flow mapping), or route-wide with `route_wide`.
std::string withPolicy(const std::string& policy, bool route_wide) {
  if (route_wide) {
    return route("  policy: " + policy +
                 "\n  rules:\n  - backends: [{service: {name: svc, port: 80}}]\n");
  }
  return route("  rules:\n  - backends: [{service: {name: svc, port: 80}}]\n    policy: " + policy +
               "\n");
}

TEST(APIRouteResilience, NoPolicyMeansNone) {
  auto result = translateYaml(route(R"(
  rules:
  - backends: [{service: {name: svc, port: 80}}]
)"));
  EXPECT_TRUE(result.diagnostics.empty());
  const auto* r = findRoute(result, "shop/orders/0");
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->cache);
  EXPECT_FALSE(r->retries);
  EXPECT_FALSE(r->circuit_breaker);
  EXPECT_FALSE(r->health_check);
  EXPECT_EQ(r->load_balancer, config::LoadBalancer::RoundRobin);
  EXPECT_EQ(r->hash_on, config::HashOn::ClientIP);
  EXPECT_EQ(r->hash_on_name, "");
  EXPECT_FALSE(r->fallback);
}

TEST(APIRouteResilience, RouteWidePolicyReachesEveryRule) {
  auto result = translateYaml(route(R"(
  policy:
    cache: {ttl: 30s, vary: [Accept], shareAcrossConsumers: true}
    retries: {attempts: 2, retryOn: [connect-failure, "503"], retryNonIdempotent: true}
    circuitBreaker: {consecutiveFailures: 3, maxConnections: 100}
    healthCheck: {path: /ready, interval: 10s}
    loadBalancer: LeastRequest
    fallback: {status: 503, contentType: application/json, body: '{"down":true}'}
  rules:
  - name: a
    matches: [{path: {value: /a}}]
    backends: [{service: {name: svc, port: 80}}]
  - name: b
    matches: [{path: {value: /b}}]
    backends: [{service: {name: svc, port: 80}}]
)"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  EXPECT_EQ(reports(result, true), std::vector<std::string>{});
  config::CachePolicy cache;
  cache.ttl_ms = 30'000;
  cache.vary = {"accept"};
  cache.share_across_consumers = true;
  const config::RetryPolicy retries{
      2, {config::RetryOn::ConnectFailure, config::RetryOn::Status503}, 0, 25, true};
  const config::CircuitBreaker breaker{3, 30'000, 100, 0};
  const config::HealthCheck check{"/ready", 10'000, 1'000, 3, 2};
  const config::DirectResponse fallback{503, "application/json", "{\"down\":true}"};
  for (const char* name : {"shop/orders/a", "shop/orders/b"}) {
    const auto* r = findRoute(result, name);
    ASSERT_NE(r, nullptr) << name;
    EXPECT_EQ(r->cache, cache) << name;
    EXPECT_EQ(r->retries, retries) << name;
    EXPECT_EQ(r->circuit_breaker, breaker) << name;
    EXPECT_EQ(r->health_check, check) << name;
    EXPECT_EQ(r->load_balancer, config::LoadBalancer::LeastRequest) << name;
    EXPECT_EQ(r->fallback, fallback) << name;
  }
}

TEST(APIRouteResilience, RuleFieldsOverrideTheRoutesOneByOne) {
  auto result = translateYaml(route(R"(
  policy:
    cache: {ttl: 30s, vary: [Accept], keyQueryParams: [page]}
    retries: {attempts: 2, retryOn: ["503"], backoff: 50ms}
    circuitBreaker: {consecutiveFailures: 3, openFor: 10s}
    healthCheck: {path: /ready, interval: 10s, timeout: 2s}
    loadBalancer: ConsistentHash
    hashOn: "Header:X-User"
    fallback: {status: 503, body: down}
  rules:
  - name: tuned
    matches: [{path: {value: /tuned}}]
    backends: [{service: {name: svc, port: 80}}]
    policy:
      cache: {ttl: 5s, methods: [GET]}
      retries: {attempts: 0}
      circuitBreaker: {maxPendingRequests: 10}
      healthCheck: {interval: 3s}
      hashOn: "Cookie:session"
      fallback: {status: 502}
  - name: plain
    matches: [{path: {value: /plain}}]
    backends: [{service: {name: svc, port: 80}}]
)"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  EXPECT_EQ(reports(result, true), std::vector<std::string>{});
  const auto* tuned = findRoute(result, "shop/orders/tuned");
  ASSERT_NE(tuned, nullptr);
  config::CachePolicy cache;
  cache.ttl_ms = 5'000;  // the rule's
  cache.methods = {"GET"};
  cache.vary = {"accept"};  // the route's
  cache.key_whole_query = false;
  cache.key_query_params = {"page"};
  EXPECT_EQ(tuned->cache, cache);
  EXPECT_EQ(tuned->retries, (config::RetryPolicy{0, {config::RetryOn::Status503}, 0, 50, false}));
  EXPECT_EQ(tuned->circuit_breaker, (config::CircuitBreaker{3, 10'000, 0, 10}));
  EXPECT_EQ(tuned->health_check, (config::HealthCheck{"/ready", 3'000, 2'000, 3, 2}));
  EXPECT_EQ(tuned->load_balancer, config::LoadBalancer::ConsistentHash);  // inherited
  EXPECT_EQ(tuned->hash_on, config::HashOn::Cookie);
  EXPECT_EQ(tuned->hash_on_name, "session");
  // fallback is replaced whole: the route's body does not carry over.
  EXPECT_EQ(tuned->fallback, (config::DirectResponse{502, "text/plain", ""}));

  const auto* plain = findRoute(result, "shop/orders/plain");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->cache->ttl_ms, 30'000u);
  EXPECT_EQ(plain->retries->attempts, 2u);
  EXPECT_EQ(plain->hash_on, config::HashOn::Header);
  EXPECT_EQ(plain->hash_on_name, "x-user");
  EXPECT_EQ(plain->fallback, (config::DirectResponse{503, "text/plain", "down"}));
}

TEST(APIRouteResilience, RulePolicyAloneStartsFromTheDefaults) {
  auto result = translateYaml(withPolicy(
      "{cache: {}, retries: {}, circuitBreaker: {}, healthCheck: {}, fallback: {status: 503}}",
      false));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto* r = findRoute(result, "shop/orders/0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->cache, config::CachePolicy{});
  EXPECT_EQ(r->retries, config::RetryPolicy{});
  EXPECT_EQ(r->circuit_breaker, config::CircuitBreaker{});
  EXPECT_EQ(r->health_check, config::HealthCheck{});
  EXPECT_EQ(r->fallback, (config::DirectResponse{503, "text/plain", ""}));
}

// Each invalid value: an error at its exact path; in a rule's policy that rule is left out, in
// spec.policy the whole APIRoute (as for an invalid timeout).
TEST(APIRouteResilience, InvalidValuesKeepTheRouteOrRuleOut) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{cache: {ttl: soon}}", "cache.ttl: invalid duration \"soon\" (e.g. 500ms, 5s, 1m)"},
      {"{cache: {methods: [FETCH]}}",
       "cache.methods[0]: must be an HTTP method (GET, HEAD, POST, PUT, DELETE, CONNECT, "
       "OPTIONS, TRACE, PATCH)"},
      {"{cache: {vary: [\"a b\"]}}", "cache.vary[0]: must be an HTTP header name"},
      {"{cache: {maxObjectSize: lots}}", "cache.maxObjectSize: must be a byte size such as 1Mi"},
      {"{cache: {staleIfError: 5}}", "cache.staleIfError: must be a string"},
      {"{cache: {keyQueryParams: [\"\"]}}",
       "cache.keyQueryParams[0]: must be a query parameter name (1-256 characters)"},
      {"{cache: {shareAcrossConsumers: maybe}}",
       "cache.shareAcrossConsumers: must be true or false"},
      {"{cache: {cacheSetCookie: 1}}", "cache.cacheSetCookie: must be true or false"},
      {"{cache: {respectCacheControl: no-store}}",
       "cache.respectCacheControl: must be true or false"},
      {"{cache: 30s}", "cache: must be an object"},
      {"{retries: {attempts: 11}}", "retries.attempts: must be between 0 and 10"},
      {"{retries: {retryOn: [500]}}",
       "retries.retryOn[0]: must be a string: quote status codes (\"503\")"},
      {"{retries: {retryOn: [timeout]}}",
       "retries.retryOn[0]: must be connect-failure, reset, \"502\", \"503\" or \"504\""},
      {"{retries: {perTryTimeout: 0s}}", "retries.perTryTimeout: must be greater than zero"},
      {"{retries: {backoff: 1x}}", "retries.backoff: invalid duration \"1x\" (e.g. 500ms, 5s, 1m)"},
      {"{retries: {retryNonIdempotent: yes}}", "retries.retryNonIdempotent: must be true or false"},
      {"{circuitBreaker: {consecutiveFailures: 0}}",
       "circuitBreaker.consecutiveFailures: must be between 1 and 1000"},
      {"{circuitBreaker: {openFor: 0s}}", "circuitBreaker.openFor: must be greater than zero"},
      {"{circuitBreaker: {maxConnections: 0}}",
       "circuitBreaker.maxConnections: must be between 1 and 1000000"},
      {"{circuitBreaker: {maxPendingRequests: -1}}",
       "circuitBreaker.maxPendingRequests: must be between 0 and 1000000"},
      {"{healthCheck: {path: health}}",
       "healthCheck.path: must be an absolute path starting with '/'"},
      {"{healthCheck: {path: /a//b}}", "healthCheck.path: must not contain '//'"},
      {"{healthCheck: {interval: 1s, timeout: 2s}}",
       "healthCheck.timeout: timeout (2000ms) must be shorter than interval (1000ms)"},
      {"{healthCheck: {unhealthyThreshold: 0}}",
       "healthCheck.unhealthyThreshold: must be between 1 and 100"},
      {"{healthCheck: {healthyThreshold: 101}}",
       "healthCheck.healthyThreshold: must be between 1 and 100"},
      {"{loadBalancer: Random}",
       "loadBalancer: must be RoundRobin, LeastRequest or ConsistentHash"},
      {"{loadBalancer: ConsistentHash, hashOn: \"Query:x\"}",
       "hashOn: must be ClientIP, Header:<name> or Cookie:<name> with a token name"},
      {"{fallback: {body: down}}", "fallback.status: is required"},
      {"{fallback: {status: 100}}", "fallback.status: must be between 200 and 599"},
      {"{fallback: {status: 600}}", "fallback.status: must be between 200 and 599"},
      {"{fallback: {status: 503, contentType: \"text/plain\\r\\nX-Injected: 1\"}}",
       "fallback.contentType: must not contain control characters"},
  };
  for (const auto& [policy, error] : cases) {
    for (bool route_wide : {false, true}) {
      auto result = translateYaml(withPolicy(policy, route_wide));
      const std::string prefix = route_wide ? "spec.policy." : "spec.rules[0].policy.";
      EXPECT_EQ(reports(result, false), std::vector<std::string>{prefix + error})
          << policy << (route_wide ? " (route-wide)" : " (rule)");
      EXPECT_TRUE(result.snapshot.virtual_hosts.empty()) << policy;
      ASSERT_EQ(result.statuses.size(), 1u);
      EXPECT_FALSE(result.statuses[0].conditions[0].status);  // Accepted=False
    }
  }
}

TEST(APIRouteResilience, InvalidRulePolicyLeavesOnlyThatRuleOut) {
  auto result = translateYaml(route(R"(
  policy:
    retries: {attempts: 2}
  rules:
  - name: ok
    matches: [{path: {value: /ok}}]
    backends: [{service: {name: svc, port: 80}}]
  - name: broken
    matches: [{path: {value: /broken}}]
    backends: [{service: {name: svc, port: 80}}]
    policy:
      retries: {attempts: 20}
      healthCheck: {interval: 500ms}
)"));
  EXPECT_EQ(reports(result, false),
            (std::vector<std::string>{
                "spec.rules[1].policy.retries.attempts: must be between 0 and 10",
                "spec.rules[1].policy.healthCheck.interval: timeout (1000ms) must be shorter "
                "than interval (500ms)"}));
  ASSERT_NE(findRoute(result, "shop/orders/ok"), nullptr);
  EXPECT_EQ(findRoute(result, "shop/orders/ok")->retries->attempts, 2u);
  EXPECT_EQ(findRoute(result, "shop/orders/broken"), nullptr);
  ASSERT_EQ(result.statuses.size(), 1u);
  EXPECT_EQ(result.statuses[0].conditions[0].reason, "PartiallyInvalid");
}

TEST(APIRouteResilience, ConsistentHashWithoutHashOnUsesTheClientIP) {
  auto result = translateYaml(withPolicy("{loadBalancer: ConsistentHash}", false));
  EXPECT_TRUE(result.diagnostics.empty());
  const auto* r = findRoute(result, "shop/orders/0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->load_balancer, config::LoadBalancer::ConsistentHash);
  EXPECT_EQ(r->hash_on, config::HashOn::ClientIP);
  EXPECT_EQ(r->hash_on_name, "");
}

TEST(APIRouteResilience, HashOnForms) {
  const std::vector<std::tuple<std::string, config::HashOn, std::string>> cases = {
      {"ClientIP", config::HashOn::ClientIP, ""},
      {"Header:X-Tenant-ID", config::HashOn::Header, "x-tenant-id"},
      {"Cookie:JSESSIONID", config::HashOn::Cookie, "JSESSIONID"}};
  for (const auto& [text, on, name] : cases) {
    auto result =
        translateYaml(withPolicy("{loadBalancer: ConsistentHash, hashOn: \"" + text + "\"}", true));
    EXPECT_TRUE(result.diagnostics.empty()) << text;
    const auto* r = findRoute(result, "shop/orders/0");
    ASSERT_NE(r, nullptr) << text;
    EXPECT_EQ(r->hash_on, on) << text;
    EXPECT_EQ(r->hash_on_name, name) << text;
  }
}

TEST(APIRouteResilience, HashOnWithoutConsistentHashIsAWarning) {
  for (const char* lb : {"", "loadBalancer: RoundRobin, ", "loadBalancer: LeastRequest, "}) {
    for (bool route_wide : {false, true}) {
      auto result = translateYaml(
          withPolicy(std::string("{") + lb + "hashOn: \"Header:X-User\"}", route_wide));
      EXPECT_EQ(reports(result, false), std::vector<std::string>{});
      EXPECT_EQ(reports(result, true),
                std::vector<std::string>{
                    std::string(route_wide ? "spec.policy" : "spec.rules[0].policy") +
                    ".hashOn: is only used with loadBalancer: ConsistentHash; ignored"})
          << lb;
      // Served, balanced as written, without a key.
      const auto* r = findRoute(result, "shop/orders/0");
      ASSERT_NE(r, nullptr);
      EXPECT_NE(r->load_balancer, config::LoadBalancer::ConsistentHash);
      EXPECT_EQ(r->hash_on, config::HashOn::ClientIP);
      EXPECT_EQ(r->hash_on_name, "");
    }
  }
}

TEST(APIRouteResilience, RouteWideHashOnUsedByOneRuleIsQuiet) {
  // The route names the key; one rule turns ConsistentHash on, the other keeps RoundRobin.
  auto result = translateYaml(route(R"(
  policy:
    hashOn: "Cookie:session"
  rules:
  - name: sticky
    matches: [{path: {value: /cart}}]
    backends: [{service: {name: svc, port: 80}}]
    policy: {loadBalancer: ConsistentHash}
  - name: spread
    matches: [{path: {value: /search}}]
    backends: [{service: {name: svc, port: 80}}]
)"));
  EXPECT_TRUE(result.diagnostics.empty()) << result.diagnostics.front().format();
  const auto* sticky = findRoute(result, "shop/orders/sticky");
  ASSERT_NE(sticky, nullptr);
  EXPECT_EQ(sticky->hash_on, config::HashOn::Cookie);
  EXPECT_EQ(sticky->hash_on_name, "session");
  const auto* spread = findRoute(result, "shop/orders/spread");
  ASSERT_NE(spread, nullptr);
  EXPECT_EQ(spread->load_balancer, config::LoadBalancer::RoundRobin);
  EXPECT_EQ(spread->hash_on_name, "");
}

TEST(APIRouteResilience, RouteWideHashOnOverriddenEverywhereIsAWarningOnce) {
  auto result = translateYaml(route(R"(
  policy:
    loadBalancer: ConsistentHash
    hashOn: "Header:X-User"
  rules:
  - matches: [{path: {value: /a}}]
    backends: [{service: {name: svc, port: 80}}]
    policy: {loadBalancer: RoundRobin}
  - matches: [{path: {value: /b}}]
    backends: [{service: {name: svc, port: 80}}]
    policy: {hashOn: ClientIP}
)"));
  // Rule 1 keys on its own hashOn and rule 0 balances round-robin: the route's is never used.
  EXPECT_EQ(reports(result, true),
            std::vector<std::string>{
                "spec.policy.hashOn: is only used with loadBalancer: ConsistentHash; ignored"});
  EXPECT_EQ(findRoute(result, "shop/orders/1")->hash_on, config::HashOn::ClientIP);
  EXPECT_EQ(findRoute(result, "shop/orders/1")->load_balancer,
            config::LoadBalancer::ConsistentHash);
}

TEST(APIRouteResilience, UnknownFieldsInsidePoliciesAreWarnings) {
  auto result = translateYaml(
      withPolicy("{cache: {tll: 5s}, retries: {attemps: 2}, circuitBreaker: {openfor: 1s}, "
                 "healthCheck: {intervall: 5s}, fallback: {status: 503, content-type: text/html}}",
                 false));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  EXPECT_EQ(reports(result, true),
            (std::vector<std::string>{
                "spec.rules[0].policy.cache.tll: unknown field, ignored",
                "spec.rules[0].policy.retries.attemps: unknown field, ignored",
                "spec.rules[0].policy.circuitBreaker.openfor: unknown field, ignored",
                "spec.rules[0].policy.healthCheck.intervall: unknown field, ignored",
                "spec.rules[0].policy.fallback.content-type: unknown field, ignored"}));
}

TEST(APIRouteResilience, DirectResponseSharesTheFallbackReader) {
  auto result = translateYaml(route(R"(
  rules:
  - name: ok
    matches: [{path: {value: /ok}}]
    directResponse: {status: 204}
  - name: typo
    matches: [{path: {value: /typo}}]
    directResponse: {status: 200, bdy: x}
  - name: injected
    matches: [{path: {value: /bad}}]
    directResponse: {status: 200, contentType: "a\nb"}
  - name: huge-status
    matches: [{path: {value: /huge}}]
    directResponse: {status: 4294967496}
)"));
  EXPECT_EQ(reports(result, false),
            (std::vector<std::string>{
                "spec.rules[2].directResponse.contentType: must not contain control characters",
                "spec.rules[3].directResponse.status: must be between 200 and 599"}));
  EXPECT_EQ(reports(result, true),
            std::vector<std::string>{"spec.rules[1].directResponse.bdy: unknown field, ignored"});
  EXPECT_EQ(findRoute(result, "shop/orders/ok")->direct_response,
            (config::DirectResponse{204, "text/plain", ""}));
  EXPECT_NE(findRoute(result, "shop/orders/typo"), nullptr);
  EXPECT_EQ(findRoute(result, "shop/orders/injected"), nullptr);
  EXPECT_EQ(findRoute(result, "shop/orders/huge-status"), nullptr);
}

TEST(APIRouteResilience, TimeoutsUseTheSharedDurationReader) {
  // Below a millisecond is still more than zero (as the CRD's rule sees it); zero is refused.
  auto result = translateYaml(withPolicy("{timeouts: {connect: 250us}}", false));
  EXPECT_TRUE(result.diagnostics.empty());
  EXPECT_EQ(findRoute(result, "shop/orders/0")->timeouts.connect_ms, 1u);
  auto zero = translateYaml(withPolicy("{timeouts: {idle: 0s}}", false));
  EXPECT_EQ(
      reports(zero, false),
      std::vector<std::string>{"spec.rules[0].policy.timeouts.idle: must be greater than zero"});
}

TEST(APIRouteResilience, TheCacheCarriesPoliciesAndSeesTheirEdits) {
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
  const auto before = versioned(
      withPolicy("{cache: {ttl: 1s}, retries: {attempts: 1}, hashOn: ClientIP}", false), "1");
  const auto after =
      versioned(withPolicy("{cache: {ttl: 9s}, retries: {attempts: 3}}", false), "2");
  TranslationCache cache;
  const auto cold = translate(before, options(), &cache);
  EXPECT_EQ(cold, translate(before, options()));
  const auto warm = translate(before, options(), &cache);
  EXPECT_EQ(warm, cold);  // diagnostics (the hashOn warning) replayed too
  EXPECT_EQ(reports(warm, true).size(), 1u);
  const auto edited = translate(after, options(), &cache);
  EXPECT_EQ(edited, translate(after, options()));
  const auto* r = findRoute(edited, "shop/orders/0");
  ASSERT_TRUE(r && r->cache && r->retries);
  EXPECT_EQ(r->cache->ttl_ms, 9'000u);
  EXPECT_EQ(r->retries->attempts, 3u);
  EXPECT_TRUE(reports(edited, true).empty());
}

}  // namespace
}  // namespace atrium::controller::translator
