#include "src/config/snapshot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "src/config/snapshot_json.h"

namespace atrium::config {
namespace {

// A snapshot where every field of every type differs from its default.
ConfigSnapshot fullSnapshot() {
  ConfigSnapshot s;

  Route api;
  api.name = "shop/orders/list-orders";
  api.source = "APIRoute shop/orders";
  api.object_rank = 3;
  api.rule_index = 2;
  RouteMatch m1;
  m1.path = {PathType::Exact, "/v1/orders"};
  m1.method = "GET";
  m1.headers = {{"x-api-version", StringMatchType::Exact, "2"},
                {"x-tenant", StringMatchType::RegularExpression, "t-[0-9]+"}};
  m1.query_params = {{"beta", StringMatchType::Exact, "1"},
                     {"Page", StringMatchType::RegularExpression, "[0-9]{1,3}"}};
  RouteMatch m2;
  m2.path = {PathType::RegularExpression, "/v[0-9]+/orders/.*"};
  RouteMatch m3;  // default path (PathPrefix /)
  m3.method = "POST";
  api.matches = {m1, m2, m3};
  api.backends = {{"shop/orders-v2:8080", 90, ""},
                  {"url:http://10.0.0.7:9000", 0, ""},
                  {"", 10, "Service shop/orders-v3 not found"}};
  api.rewrite = {"orders.internal", "/orders", "/fixed", "(?i)^(?:/a(.*))", "/b\\1"};
  api.request_headers = {{{"X-A", "1"}}, {{"X-B", "2"}, {"X-B", "3"}}, {"X-C", "X-D"}};
  api.response_headers = {{{"Cache-Control", "no-store"}}, {{"Vary", "Accept"}}, {"Server-Timing"}};
  api.timeouts = {1500, 30000, 45000};
  api.max_request_body_bytes = std::numeric_limits<uint64_t>::max();
  api.ip_allow = {"10.0.0.0/8", "2001:db8::/32"};
  api.ip_deny = {"10.9.0.0/16"};
  api.rate_limit = RateLimitPolicy{{{100, 60'000, 20, RateLimitKey::Consumer, ""},
                                    {10, 1'000, 0, RateLimitKey::Header, "x-tenant"},
                                    {5, 500, 1, RateLimitKey::ClientIP, ""},
                                    {1, 86'400'000, 0, RateLimitKey::Route, ""}},
                                   true,
                                   "shop/orders"};
  CachePolicy cache;
  cache.ttl_ms = 30'000;
  cache.methods = {"GET", "HEAD", "POST"};
  cache.vary = {"accept", "accept-language"};
  cache.respect_cache_control = false;
  cache.stale_if_error_ms = 300'000;
  cache.max_object_bytes = 8ull << 30;
  cache.key_whole_query = false;
  cache.key_query_params = {"Page", "sort"};
  cache.share_across_consumers = true;
  cache.cache_set_cookie = true;
  api.cache = cache;
  api.retries = RetryPolicy{
      3, {RetryOn::ConnectFailure, RetryOn::Status502, RetryOn::Status504}, 750, 0, true};
  api.circuit_breaker = CircuitBreaker{10, 60'000, 1024, 128};
  api.health_check = HealthCheck{"/ready", 10'000, 2'500, 5, 1};
  api.load_balancer = LoadBalancer::ConsistentHash;
  api.hash_on = HashOn::Header;
  api.hash_on_name = "x-user";
  api.fallback = DirectResponse{503, "application/json", "{\"down\":true}"};

  Route redirect;
  redirect.name = "shop/orders/moved";
  redirect.source = "APIRoute shop/orders";
  redirect.matches.push_back({{PathType::Prefix, "/old"}, "", {}, {}});
  redirect.redirect = Redirect{"https", "x.example.com", 8443, "/new", "/y", 301};
  redirect.load_balancer = LoadBalancer::LeastRequest;

  Route direct;
  direct.name = "shop/orders/health";
  direct.source = "APIRoute shop/orders";
  direct.direct_response = DirectResponse{503, "application/json", "{\"ok\":false}\n\u00e9"};
  direct.rate_limit =
      RateLimitPolicy{{{7, 1'000, 0, RateLimitKey::ClientIP, ""}}, false, "shop/orders/health"};
  // Policies at their defaults are still written (whole); ConsistentHash on the client IP too.
  direct.cache = CachePolicy{};
  direct.retries = RetryPolicy{};
  direct.circuit_breaker = CircuitBreaker{};
  direct.health_check = HealthCheck{};
  direct.load_balancer = LoadBalancer::ConsistentHash;

  Route fallback;
  fallback.name = "default/web";
  fallback.source = "Ingress default/web";
  fallback.is_default_backend = true;
  fallback.backends = {{"default/web:80#https", 1, ""}};
  fallback.load_balancer = LoadBalancer::ConsistentHash;
  fallback.hash_on = HashOn::Cookie;
  fallback.hash_on_name = "Session";  // cookie names are case-sensitive
  fallback.cache = CachePolicy{};
  fallback.cache->key_whole_query = false;  // keyQueryParams: [] — no query in the key
  fallback.fallback = DirectResponse{};

  s.virtual_hosts = {
      {"", {fallback}}, {"*.example.com", {api, redirect, direct}}, {"api.example.com", {api}}};
  s.clusters = {{"default/web:80#https", {{"10.0.0.1", 8443}, {"fd00::1", 8443}}, true},
                {"shop/orders-v2:8080", {{"10.1.0.1", 8080}}, false},
                {"url:http://10.0.0.7:9000", {{"10.0.0.7", 9000}}, false},
                {"shop/empty:80", {}, false}};

  // Consumers as toJson writes them: without credentials (never written).
  Consumer acme;
  acme.ns = "shop";
  acme.name = "acme";
  acme.groups = {"gold", "beta"};
  acme.display_name = "ACME Corp \u00e9";
  acme.plan.rate_limit = RateLimit{50, 1'000, 100, RateLimitKey::Consumer, ""};
  acme.plan.quota_requests = 1'000'000;
  acme.plan.quota_period = QuotaPeriod::Day;
  acme.plan.currency = "USD";
  acme.plan.per_thousand_requests = "0.40";
  Consumer quota_only;
  quota_only.ns = "shop";
  quota_only.name = "monthly";
  quota_only.plan.quota_requests = 5;
  Consumer bare;
  bare.ns = "tools";
  bare.name = "ci";
  s.consumers = {acme, quota_only, bare};
  return s;
}

TEST(SnapshotJson, FullRoundTrip) {
  const ConfigSnapshot original = fullSnapshot();
  const nlohmann::json doc = toJson(original);
  EXPECT_EQ(snapshotFromJson(doc), original);
  // Through text too, as /config and the golden files carry it.
  EXPECT_EQ(snapshotFromJson(nlohmann::json::parse(doc.dump(2))), original);
}

TEST(SnapshotJson, RoundTripIsStable) {
  const nlohmann::json doc = toJson(fullSnapshot());
  EXPECT_EQ(toJson(snapshotFromJson(doc)), doc);
}

TEST(SnapshotJson, EmptySnapshot) {
  const ConfigSnapshot empty;
  const nlohmann::json doc = toJson(empty);
  EXPECT_EQ(doc, nlohmann::json::parse(R"({"virtual_hosts": [], "clusters": []})"));
  EXPECT_EQ(snapshotFromJson(doc), empty);
}

TEST(SnapshotJson, DefaultsAreOmitted) {
  ConfigSnapshot s;
  Route r;
  r.name = "default/web";
  r.source = "Ingress default/web";
  r.matches.push_back({{PathType::Prefix, "/"}, "", {}, {}});
  r.backends = {{"default/web:80", 1, ""}};
  s.virtual_hosts = {{"a.example", {r}}};
  s.clusters = {{"default/web:80", {{"10.0.0.1", 80}}, false}};
  const auto route_json = toJson(s)["virtual_hosts"][0]["routes"][0];
  EXPECT_EQ(route_json, nlohmann::json::parse(R"({
    "name": "default/web", "source": "Ingress default/web", "object_rank": 0, "rule_index": 0,
    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
    "backends": [{"cluster": "default/web:80", "weight": 1}]
  })"));
}

TEST(SnapshotJson, RateLimitAndPlanShape) {
  const nlohmann::json doc = toJson(fullSnapshot());
  EXPECT_EQ(doc["virtual_hosts"][1]["routes"][0]["rate_limit"], nlohmann::json::parse(R"({
    "scope": "shop/orders", "global": true, "limits": [
      {"requests": 100, "period_ms": 60000, "burst": 20, "key": "Consumer"},
      {"requests": 10, "period_ms": 1000, "burst": 0, "key": "Header", "header": "x-tenant"},
      {"requests": 5, "period_ms": 500, "burst": 1, "key": "ClientIP"},
      {"requests": 1, "period_ms": 86400000, "burst": 0, "key": "Route"}]
  })"));
  EXPECT_FALSE(doc["virtual_hosts"][1]["routes"][1].contains("rate_limit"));  // none
  // Plans are not secret: written whole, each part when set.
  EXPECT_EQ(doc["consumers"], nlohmann::json::parse(R"([
    {"namespace": "shop", "name": "acme", "display_name": "ACME Corp \u00e9",
     "groups": ["gold", "beta"], "api_keys": 0, "basic_auth": false, "jwt": false,
     "plan": {"rate_limit": {"requests": 50, "period_ms": 1000, "burst": 100, "key": "Consumer"},
              "quota": {"requests": 1000000, "period": "day"},
              "pricing": {"currency": "USD", "per_thousand_requests": "0.40"}}},
    {"namespace": "shop", "name": "monthly", "groups": [], "api_keys": 0, "basic_auth": false,
     "jwt": false, "plan": {"quota": {"requests": 5, "period": "month"}}},
    {"namespace": "tools", "name": "ci", "groups": [], "api_keys": 0, "basic_auth": false,
     "jwt": false}
  ])"));
}

TEST(SnapshotJson, ResiliencePolicyShape) {
  const nlohmann::json doc = toJson(fullSnapshot());
  const nlohmann::json& api = doc["virtual_hosts"][1]["routes"][0];
  EXPECT_EQ(api["cache"], nlohmann::json::parse(R"({
    "ttl_ms": 30000, "methods": ["GET", "HEAD", "POST"], "vary": ["accept", "accept-language"],
    "respect_cache_control": false, "stale_if_error_ms": 300000, "max_object_bytes": 8589934592,
    "key_whole_query": false, "key_query_params": ["Page", "sort"],
    "share_across_consumers": true, "cache_set_cookie": true
  })"));
  EXPECT_EQ(api["retries"], nlohmann::json::parse(R"({
    "attempts": 3, "retry_on": ["connect-failure", "502", "504"], "per_try_timeout_ms": 750,
    "backoff_ms": 0, "retry_non_idempotent": true
  })"));
  EXPECT_EQ(api["circuit_breaker"], nlohmann::json::parse(R"({
    "consecutive_failures": 10, "open_for_ms": 60000, "max_connections": 1024,
    "max_pending_requests": 128
  })"));
  EXPECT_EQ(api["health_check"], nlohmann::json::parse(R"({
    "path": "/ready", "interval_ms": 10000, "timeout_ms": 2500, "unhealthy_threshold": 5,
    "healthy_threshold": 1
  })"));
  EXPECT_EQ(api["load_balancer"], "ConsistentHash");
  EXPECT_EQ(api["hash_on"], "Header");
  EXPECT_EQ(api["hash_on_name"], "x-user");
  EXPECT_EQ(api["fallback"], nlohmann::json::parse(R"({
    "status": 503, "content_type": "application/json", "body": "{\"down\":true}"
  })"));
  // Present at their defaults: written whole, so /config shows what the route does.
  const nlohmann::json& direct = doc["virtual_hosts"][1]["routes"][2];
  EXPECT_EQ(direct["cache"], nlohmann::json::parse(R"({
    "ttl_ms": 0, "methods": ["GET", "HEAD"], "vary": [], "respect_cache_control": true,
    "stale_if_error_ms": 0, "max_object_bytes": 1048576, "key_whole_query": true,
    "key_query_params": [], "share_across_consumers": false, "cache_set_cookie": false
  })"));
  EXPECT_EQ(direct["retries"], nlohmann::json::parse(R"({
    "attempts": 0, "retry_on": ["connect-failure", "reset"], "per_try_timeout_ms": 0,
    "backoff_ms": 25, "retry_non_idempotent": false
  })"));
  EXPECT_EQ(direct["circuit_breaker"], nlohmann::json::parse(R"({
    "consecutive_failures": 5, "open_for_ms": 30000, "max_connections": 0,
    "max_pending_requests": 0
  })"));
  EXPECT_EQ(direct["health_check"], nlohmann::json::parse(R"({
    "path": "/healthz", "interval_ms": 5000, "timeout_ms": 1000, "unhealthy_threshold": 3,
    "healthy_threshold": 2
  })"));
  // ConsistentHash names its key even when it is the default client IP.
  EXPECT_EQ(direct["load_balancer"], "ConsistentHash");
  EXPECT_EQ(direct["hash_on"], "ClientIP");
  EXPECT_FALSE(direct.contains("hash_on_name"));
  EXPECT_FALSE(direct.contains("fallback"));
  const nlohmann::json& redirect = doc["virtual_hosts"][1]["routes"][1];
  EXPECT_EQ(redirect["load_balancer"], "LeastRequest");
  for (const char* absent : {"cache", "retries", "circuit_breaker", "health_check", "hash_on",
                             "hash_on_name", "fallback"}) {
    EXPECT_FALSE(redirect.contains(absent)) << absent;
  }
  const nlohmann::json& cookie = doc["virtual_hosts"][0]["routes"][0];
  EXPECT_EQ(cookie["hash_on"], "Cookie");
  EXPECT_EQ(cookie["hash_on_name"], "Session");
  EXPECT_EQ(cookie["cache"]["key_whole_query"], false);
  EXPECT_EQ(cookie["cache"]["key_query_params"], nlohmann::json::array());
  EXPECT_EQ(cookie["fallback"],
            nlohmann::json::parse(R"({"status": 200, "content_type": "", "body": ""})"));
}

TEST(SnapshotJson, ResiliencePolicyMissingFieldsReadAsDefaults) {
  // Older or hand-written documents: an empty object is the IR default, not zeroes.
  const auto doc = nlohmann::json::parse(R"({"virtual_hosts": [{"hostname": "", "routes": [
    {"name": "a", "direct_response": {"status": 200}, "cache": {}, "retries": {},
     "circuit_breaker": {}, "health_check": {}, "fallback": {}}]}], "clusters": []})");
  const Route r = snapshotFromJson(doc).virtual_hosts[0].routes[0];
  EXPECT_EQ(r.cache, CachePolicy{});
  EXPECT_EQ(r.retries, RetryPolicy{});
  EXPECT_EQ(r.circuit_breaker, CircuitBreaker{});
  EXPECT_EQ(r.health_check, HealthCheck{});
  EXPECT_EQ(r.fallback, DirectResponse{});
  EXPECT_EQ(r.load_balancer, LoadBalancer::RoundRobin);
  EXPECT_EQ(r.hash_on, HashOn::ClientIP);
  EXPECT_EQ(r.hash_on_name, "");
}

TEST(SnapshotJson, ConsumerCredentialsAreNeverWritten) {
  ConfigSnapshot s;
  Consumer c;
  c.ns = "shop";
  c.name = "acme";
  c.api_key_sha256 = {"ab12"};
  c.basic_username = "acme";
  c.basic_password = "sha256:cd34";
  c.jwt_subject = "acme-sub";
  c.plan.rate_limit = RateLimit{1, 1'000, 0, RateLimitKey::Consumer, ""};
  s.consumers = {c};
  const std::string text = toJson(s).dump();
  for (const char* secret : {"ab12", "cd34", "acme-sub"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
  // What comes back is the consumer without them, plan included.
  const ConfigSnapshot decoded = snapshotFromJson(toJson(s));
  ASSERT_EQ(decoded.consumers.size(), 1u);
  EXPECT_EQ(decoded.consumers[0].plan, c.plan);
  EXPECT_TRUE(decoded.consumers[0].api_key_sha256.empty());
}

TEST(SnapshotJson, EnumNames) {
  EXPECT_STREQ(toString(PathType::Exact), "Exact");
  EXPECT_STREQ(toString(PathType::Prefix), "PathPrefix");
  EXPECT_STREQ(toString(PathType::RegularExpression), "RegularExpression");
  EXPECT_STREQ(toString(StringMatchType::Exact), "Exact");
  EXPECT_STREQ(toString(StringMatchType::RegularExpression), "RegularExpression");
}

TEST(SnapshotJson, MalformedDocumentsThrow) {
  EXPECT_THROW(snapshotFromJson(nlohmann::json::parse("{}")), nlohmann::json::exception);
  EXPECT_THROW(
      snapshotFromJson(nlohmann::json::parse(R"({"virtual_hosts": [{}], "clusters": []})")),
      nlohmann::json::exception);
  EXPECT_THROW(
      snapshotFromJson(nlohmann::json::parse(
          R"({"virtual_hosts": [{"hostname": "a", "routes": [{"source": "x"}]}], "clusters": []})")),
      nlohmann::json::exception);
}

// ---- validate() ------------------------------------------------------------------------------

bool mentions(const std::vector<std::string>& problems, const std::string& needle) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(needle) != std::string::npos; });
}

std::string joined(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) out += p + "\n";
  return out;
}

TEST(SnapshotValidate, FullSnapshotIsValid) { EXPECT_EQ(joined(validate(fullSnapshot())), ""); }

TEST(SnapshotValidate, DuplicateHosts) {
  ConfigSnapshot s = fullSnapshot();
  s.virtual_hosts.push_back(s.virtual_hosts[2]);
  auto problems = validate(s);
  EXPECT_TRUE(mentions(problems, "duplicate virtual host 'api.example.com'")) << joined(problems);
}

TEST(SnapshotValidate, DuplicateClusters) {
  ConfigSnapshot s = fullSnapshot();
  s.clusters.push_back(s.clusters[1]);
  auto problems = validate(s);
  EXPECT_TRUE(mentions(problems, "duplicate cluster shop/orders-v2:8080")) << joined(problems);
}

TEST(SnapshotValidate, UnknownCluster) {
  ConfigSnapshot s = fullSnapshot();
  s.virtual_hosts[0].routes[0].backends[0].cluster = "default/nope:80";
  auto problems = validate(s);
  EXPECT_TRUE(mentions(problems, "unknown cluster default/nope:80")) << joined(problems);
}

TEST(SnapshotValidate, UnresolvedBackendIsNotAnUnknownCluster) {
  ConfigSnapshot s = fullSnapshot();
  s.virtual_hosts[0].routes[0].backends = {{"", 1, "Service default/web not found"}};
  EXPECT_EQ(joined(validate(s)), "");
}

TEST(SnapshotValidate, RedirectStatusMustBe3xx) {
  for (int status : {200, 299, 400, 404, 0}) {
    ConfigSnapshot s = fullSnapshot();
    s.virtual_hosts[1].routes[1].redirect->status_code = status;
    auto problems = validate(s);
    EXPECT_TRUE(mentions(problems, "redirect status must be 3xx")) << status;
  }
}

TEST(SnapshotValidate, DirectResponseStatusRange) {
  for (int status : {0, 100, 199, 600}) {
    ConfigSnapshot s = fullSnapshot();
    s.virtual_hosts[1].routes[2].direct_response->status = status;
    EXPECT_TRUE(mentions(validate(s), "direct response status out of range")) << status;
  }
}

TEST(SnapshotValidate, WildcardMustBeOneLeadingLabel) {
  for (const char* host :
       {"foo.*.com", "a*.example.com", "*example.com", "*.*.example.com", "example.*", "*"}) {
    ConfigSnapshot s = fullSnapshot();
    s.virtual_hosts[1].hostname = host;
    auto problems = validate(s);
    EXPECT_TRUE(mentions(problems, "wildcard must be one leading label")) << host << "\n"
                                                                          << joined(problems);
  }
}

TEST(SnapshotValidate, HostsMustBeLowerCase) {
  ConfigSnapshot s = fullSnapshot();
  s.virtual_hosts[2].hostname = "API.example.com";
  EXPECT_TRUE(mentions(validate(s), "is not lower-case"));
}

TEST(SnapshotValidate, ExactlyOneAction) {
  ConfigSnapshot s = fullSnapshot();
  s.virtual_hosts[1].routes[1].direct_response = DirectResponse{};  // redirect + direct response
  EXPECT_TRUE(mentions(validate(s), "needs exactly one of backends, direct_response, redirect"));

  ConfigSnapshot none = fullSnapshot();
  none.virtual_hosts[0].routes[0].backends.clear();
  EXPECT_TRUE(mentions(validate(none), "needs exactly one of backends, direct_response, redirect"));
}

TEST(SnapshotValidate, PathsMustBeAbsolute) {
  ConfigSnapshot s = fullSnapshot();
  s.virtual_hosts[1].routes[1].matches[0].path.value = "old";
  EXPECT_TRUE(mentions(validate(s), "invalid path 'old'"));
  ConfigSnapshot empty_regex = fullSnapshot();
  empty_regex.virtual_hosts[1].routes[0].matches[1].path.value = "";
  EXPECT_TRUE(mentions(validate(empty_regex), "invalid path ''"));
}

TEST(SnapshotValidate, EndpointsNeedAddressAndPort) {
  ConfigSnapshot s = fullSnapshot();
  s.clusters[1].endpoints.push_back({"10.1.0.2", 0});
  EXPECT_TRUE(mentions(validate(s), "endpoint without address or port"));
}

TEST(SnapshotValidate, RateLimitInvariants) {
  auto problemsWith = [](auto&& change) {
    ConfigSnapshot s = fullSnapshot();
    change(*s.virtual_hosts[1].routes[0].rate_limit);
    return validate(s);
  };
  const std::string where = "route shop/orders/list-orders (host '*.example.com'): ";
  EXPECT_TRUE(mentions(problemsWith([](RateLimitPolicy& p) { p.limits[0].requests = 0; }),
                       where + "rate limit 0: requests must be at least 1"));
  EXPECT_TRUE(mentions(problemsWith([](RateLimitPolicy& p) { p.limits[2].period_ms = 0; }),
                       where + "rate limit 2: period must be at least 1 ms"));
  EXPECT_TRUE(mentions(problemsWith([](RateLimitPolicy& p) { p.limits[1].header = ""; }),
                       where + "rate limit 1: key Header needs a header name"));
  EXPECT_TRUE(mentions(problemsWith([](RateLimitPolicy& p) { p.limits[1].header = "X-Tenant"; }),
                       where + "rate limit 1: header name is not lower-case"));
  EXPECT_TRUE(mentions(problemsWith([](RateLimitPolicy& p) { p.limits.clear(); }),
                       where + "rate limit without limits"));
  EXPECT_TRUE(mentions(problemsWith([](RateLimitPolicy& p) { p.scope.clear(); }),
                       where + "rate limit without scope"));
}

TEST(SnapshotValidate, PlanInvariants) {
  auto problemsWith = [](auto&& change) {
    ConfigSnapshot s = fullSnapshot();
    change(s.consumers[0].plan);
    return validate(s);
  };
  const std::string where = "consumer shop/acme: plan";
  EXPECT_TRUE(mentions(problemsWith([](Plan& p) { p.rate_limit->requests = 0; }),
                       where + " rate limit: requests must be at least 1"));
  EXPECT_TRUE(mentions(problemsWith([](Plan& p) { p.rate_limit->period_ms = 0; }),
                       where + " rate limit: period must be at least 1 ms"));
  EXPECT_TRUE(mentions(problemsWith([](Plan& p) { p.rate_limit->key = RateLimitKey::ClientIP; }),
                       where + " rate limit: key must be Consumer"));
  EXPECT_TRUE(mentions(problemsWith([](Plan& p) { p.currency.clear(); }),
                       where + ": pricing needs both a currency and a price"));
  EXPECT_TRUE(mentions(problemsWith([](Plan& p) { p.per_thousand_requests.clear(); }),
                       where + ": pricing needs both a currency and a price"));
  EXPECT_TRUE(mentions(problemsWith([](Plan& p) { p.currency = "usd"; }),
                       where + ": currency 'usd' is not an ISO 4217 code"));
  for (const char* price : {"1e3", "-1", ".5", "1.", "0.1234567", "1,5", "NaN", "1234567890123"}) {
    EXPECT_TRUE(mentions(problemsWith([&](Plan& p) { p.per_thousand_requests = price; }),
                         where + ": price '" + price +
                             "' is not a decimal (1-12 digits, optionally '.' and 1-6 digits)"))
        << price;
  }
  for (const char* price : {"0", "0.40", "12.000001", "999999999999.999999"}) {
    EXPECT_EQ(joined(problemsWith([&](Plan& p) { p.per_thousand_requests = price; })), "") << price;
  }
  // No pricing at all, or no plan at all, is fine.
  EXPECT_EQ(joined(problemsWith([](Plan& p) { p = Plan{}; })), "");
}

TEST(SnapshotValidate, CacheInvariants) {
  auto problemsWith = [](auto&& change) {
    ConfigSnapshot s = fullSnapshot();
    change(*s.virtual_hosts[1].routes[0].cache);
    return validate(s);
  };
  const std::string where = "route shop/orders/list-orders (host '*.example.com'): ";
  EXPECT_TRUE(mentions(problemsWith([](CachePolicy& c) { c.methods.clear(); }),
                       where + "cache without methods"));
  EXPECT_TRUE(mentions(problemsWith([](CachePolicy& c) { c.methods = {"get"}; }),
                       where + "cache method 'get' is not an upper-case method"));
  EXPECT_TRUE(mentions(problemsWith([](CachePolicy& c) { c.vary = {"Accept"}; }),
                       where + "cache vary header 'Accept' is not a lower-case name"));
  EXPECT_TRUE(mentions(problemsWith([](CachePolicy& c) {
                         c.vary = {"b", "a"};
                       }),
                       where + "cache lists must be sorted without duplicates"));
  EXPECT_TRUE(mentions(problemsWith([](CachePolicy& c) {
                         c.methods = {"GET", "GET"};
                       }),
                       where + "cache lists must be sorted without duplicates"));
  EXPECT_TRUE(mentions(problemsWith([](CachePolicy& c) {
                         c.key_query_params = {"z", "a"};
                       }),
                       where + "cache lists must be sorted without duplicates"));
  EXPECT_TRUE(mentions(problemsWith([](CachePolicy& c) { c.key_whole_query = true; }),
                       where + "cache key names query parameters and the whole query"));
  EXPECT_TRUE(mentions(problemsWith([](CachePolicy& c) { c.key_query_params = {""}; }),
                       where + "cache key query parameter without a name"));
  EXPECT_EQ(joined(problemsWith([](CachePolicy& c) { c = CachePolicy{}; })), "");
}

TEST(SnapshotValidate, ResilienceInvariants) {
  auto problemsWith = [](auto&& change) {
    ConfigSnapshot s = fullSnapshot();
    change(s.virtual_hosts[1].routes[0]);
    return validate(s);
  };
  const std::string where = "route shop/orders/list-orders (host '*.example.com'): ";
  EXPECT_TRUE(mentions(problemsWith([](Route& r) { r.retries->attempts = 11; }),
                       where + "more than 10 retry attempts"));
  EXPECT_TRUE(mentions(problemsWith([](Route& r) {
                         r.retries->retry_on = {RetryOn::Reset, RetryOn::ConnectFailure};
                       }),
                       where + "retry_on must be sorted without duplicates"));
  EXPECT_TRUE(mentions(problemsWith([](Route& r) {
                         r.retries->retry_on = {RetryOn::Reset, RetryOn::Reset};
                       }),
                       where + "retry_on must be sorted without duplicates"));
  EXPECT_EQ(joined(problemsWith([](Route& r) { r.retries->retry_on.clear(); })), "");
  EXPECT_TRUE(mentions(problemsWith([](Route& r) { r.circuit_breaker->open_for_ms = 0; }),
                       where + "circuit breaker opens for 0 ms"));
  EXPECT_EQ(joined(problemsWith([](Route& r) {
              r.circuit_breaker->open_for_ms = 0;
              r.circuit_breaker->consecutive_failures = 0;  // never opens
            })),
            "");
  EXPECT_TRUE(mentions(problemsWith([](Route& r) { r.health_check->path = "healthz"; }),
                       where + "health check path 'healthz' is not absolute"));
  for (auto change :
       {+[](HealthCheck& h) { h.timeout_ms = h.interval_ms; },
        +[](HealthCheck& h) { h.timeout_ms = 0; }, +[](HealthCheck& h) { h.interval_ms = 0; }}) {
    EXPECT_TRUE(mentions(problemsWith([&](Route& r) { change(*r.health_check); }),
                         where + "health check timeout must be above 0 and below the interval"));
  }
  EXPECT_TRUE(mentions(problemsWith([](Route& r) { r.health_check->healthy_threshold = 0; }),
                       where + "health check thresholds must be at least 1"));
  EXPECT_TRUE(mentions(problemsWith([](Route& r) { r.health_check->unhealthy_threshold = 0; }),
                       where + "health check thresholds must be at least 1"));
  EXPECT_TRUE(mentions(problemsWith([](Route& r) { r.fallback->status = 99; }),
                       where + "fallback status out of range"));
  EXPECT_TRUE(mentions(problemsWith([](Route& r) { r.fallback->status = 600; }),
                       where + "fallback status out of range"));
}

TEST(SnapshotValidate, HashKeyInvariants) {
  auto problemsWith = [](auto&& change) {
    ConfigSnapshot s = fullSnapshot();
    change(s.virtual_hosts[1].routes[0]);
    return validate(s);
  };
  const std::string where = "route shop/orders/list-orders (host '*.example.com'): ";
  EXPECT_TRUE(mentions(problemsWith([](Route& r) { r.load_balancer = LoadBalancer::RoundRobin; }),
                       where + "hash key without load balancer ConsistentHash"));
  EXPECT_TRUE(mentions(problemsWith([](Route& r) {
                         r.load_balancer = LoadBalancer::LeastRequest;
                         r.hash_on = HashOn::ClientIP;
                       }),
                       where + "hash key without load balancer ConsistentHash"));
  EXPECT_TRUE(mentions(problemsWith([](Route& r) { r.hash_on_name.clear(); }),
                       where + "hash key needs a name"));
  EXPECT_TRUE(mentions(problemsWith([](Route& r) { r.hash_on = HashOn::ClientIP; }),
                       where + "hash key ClientIP takes no name"));
  EXPECT_TRUE(mentions(problemsWith([](Route& r) { r.hash_on_name = "X-User"; }),
                       where + "hash header name is not lower-case"));
  // A cookie name keeps its case; ConsistentHash on the client IP needs no name.
  EXPECT_EQ(joined(problemsWith([](Route& r) {
              r.hash_on = HashOn::Cookie;
              r.hash_on_name = "Session";
            })),
            "");
  EXPECT_EQ(joined(problemsWith([](Route& r) {
              r.hash_on = HashOn::ClientIP;
              r.hash_on_name.clear();
            })),
            "");
  EXPECT_EQ(joined(problemsWith([](Route& r) {
              r.load_balancer = LoadBalancer::RoundRobin;
              r.hash_on = HashOn::ClientIP;
              r.hash_on_name.clear();
            })),
            "");
}

TEST(SnapshotValidate, FindCluster) {
  const ConfigSnapshot s = fullSnapshot();
  const Cluster* c = findCluster(s, "shop/orders-v2:8080");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->endpoints.size(), 1u);
  EXPECT_EQ(findCluster(s, "shop/orders-v2:8081"), nullptr);
}

}  // namespace
}  // namespace atrium::config
