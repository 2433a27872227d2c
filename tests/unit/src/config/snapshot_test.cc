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

  Route redirect;
  redirect.name = "shop/orders/moved";
  redirect.source = "APIRoute shop/orders";
  redirect.matches.push_back({{PathType::Prefix, "/old"}, "", {}, {}});
  redirect.redirect = Redirect{"https", "x.example.com", 8443, "/new", "/y", 301};

  Route direct;
  direct.name = "shop/orders/health";
  direct.source = "APIRoute shop/orders";
  direct.direct_response = DirectResponse{503, "application/json", "{\"ok\":false}\n\u00e9"};
  direct.rate_limit =
      RateLimitPolicy{{{7, 1'000, 0, RateLimitKey::ClientIP, ""}}, false, "shop/orders/health"};

  Route fallback;
  fallback.name = "default/web";
  fallback.source = "Ingress default/web";
  fallback.is_default_backend = true;
  fallback.backends = {{"default/web:80#https", 1, ""}};

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

TEST(SnapshotValidate, FindCluster) {
  const ConfigSnapshot s = fullSnapshot();
  const Cluster* c = findCluster(s, "shop/orders-v2:8080");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->endpoints.size(), 1u);
  EXPECT_EQ(findCluster(s, "shop/orders-v2:8081"), nullptr);
}

}  // namespace
}  // namespace atrium::config
