// ingress-nginx compatibility annotations on Ingresses through the whole translator: limit-rps /
// limit-rpm → a per-client-IP rate limit, enable-cors and the cors-* keys → the route's CORS
// policy ("*" never with credentials), denylist-source-range, and the keys Atrium refuses:
// snippets (warned, never executed), auth-* other than basic (the Ingress is not served), and
// the other ingress-nginx keys (warned as not supported). Canaries and basic authentication
// have their own tests (ingress_canary_test.cc, ingress_basic_auth_test.cc).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "tests/unit/controller/translator/translate_yaml.h"

namespace atrium::controller::translator {
namespace {

using namespace yaml_support;  // translateYaml, findRoute, reports, kService

// An Ingress shop/web on web.example.com, path / to Service svc, with these annotations.
std::string ingress(const std::map<std::string, std::string>& annotations) {
  return annotatedIngress(annotations);
}

const std::string kN = "nginx.ingress.kubernetes.io/";

TEST(IngressNginxAnnotations, LimitRpsIsPerClientIpWithTheBurstMultiplier) {
  auto result = translateYaml(ingress({{kN + "limit-rps", "10"}}));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto* r = findRoute(result, "shop/web");
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->rate_limit);
  // ingress-nginx: burst = 10 × 5 requests at once; the bucket holds requests + burst.
  const config::RateLimitPolicy expected{
      {{10, 1000, 40, config::RateLimitKey::ClientIP, ""}}, false, "Ingress shop/web"};
  EXPECT_EQ(*r->rate_limit, expected);
}

TEST(IngressNginxAnnotations, LimitRpsAndRpmBothApply) {
  auto result = translateYaml(ingress({{kN + "limit-rps", "5"},
                                       {"atrium.dev/limit-rpm", "100"},
                                       {kN + "limit-burst-multiplier", "2"}}));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto* r = findRoute(result, "shop/web");
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->rate_limit);
  ASSERT_EQ(r->rate_limit->limits.size(), 2u);
  EXPECT_EQ(r->rate_limit->limits[0],
            (config::RateLimit{5, 1000, 5, config::RateLimitKey::ClientIP, ""}));
  EXPECT_EQ(r->rate_limit->limits[1],
            (config::RateLimit{100, 60'000, 100, config::RateLimitKey::ClientIP, ""}));
}

TEST(IngressNginxAnnotations, LimitZeroIsNoLimitAndBadValuesRefuseTheIngress) {
  auto zero = translateYaml(ingress({{kN + "limit-rps", "0"}}));
  const auto* r = findRoute(zero, "shop/web");
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->rate_limit);
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"limit-rps", "ten"}, {"limit-rpm", "-1"}, {"limit-burst-multiplier", "0"}}) {
    auto result = translateYaml(ingress({{kN + key, value}}));
    EXPECT_EQ(findRoute(result, "shop/web"), nullptr) << key;
    EXPECT_EQ(reports(result, false).size(), 1u) << key;
  }
}

TEST(IngressNginxAnnotations, EnableCorsUsesIngressNginxDefaultsWithoutStarCredentials) {
  auto result = translateYaml(ingress({{kN + "enable-cors", "true"}}));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  EXPECT_EQ(reports(result, true),
            std::vector<std::string>{
                "metadata.annotations[nginx.ingress.kubernetes.io/enable-cors]: credentials are "
                "not allowed for the origin \"*\" (ingress-nginx would echo any origin and let "
                "every site read credentialed responses); list the origins in cors-allow-origin "
                "to allow credentials, or set cors-allow-credentials: \"false\""});
  const auto* r = findRoute(result, "shop/web");
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->cors);
  EXPECT_EQ(r->cors->allow_origins, std::vector<std::string>{"*"});
  // Sorted sets, as the data plane compares them.
  EXPECT_EQ(r->cors->allow_methods,
            (std::vector<std::string>{"DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"}));
  EXPECT_EQ(r->cors->allow_headers,
            (std::vector<std::string>{"authorization", "cache-control", "content-type", "dnt",
                                      "if-modified-since", "keep-alive", "range", "user-agent",
                                      "x-requested-with"}));
  EXPECT_TRUE(r->cors->expose_headers.empty());
  EXPECT_FALSE(r->cors->allow_credentials);
  EXPECT_EQ(r->cors->max_age_s, 86400u);  // ingress-nginx's 1728000, capped silently
}

TEST(IngressNginxAnnotations, ListedOriginsKeepCredentials) {
  auto result = translateYaml(ingress({{kN + "enable-cors", "true"},
                                       {kN + "cors-allow-origin",
                                        "https://App.example.com:443, https://*.example.org:8443"},
                                       {kN + "cors-allow-methods", "post,get,GET"},
                                       {kN + "cors-allow-headers", "X-Tenant"},
                                       {kN + "cors-expose-headers", "X-Request-Id"},
                                       {kN + "cors-max-age", "600"}}));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  EXPECT_EQ(reports(result, true), std::vector<std::string>{});
  const auto* r = findRoute(result, "shop/web");
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->cors);
  const config::CorsPolicy expected{
      {"https://*.example.org:8443", "https://app.example.com"}, {"GET", "POST"}, {"x-tenant"},
      {"x-request-id"}, true, 600};
  EXPECT_EQ(*r->cors, expected);
  auto capped = translateYaml(ingress({{kN + "enable-cors", "true"},
                                       {kN + "cors-allow-origin", "https://a.example.com"},
                                       {kN + "cors-max-age", "1728000"}}));
  EXPECT_EQ(reports(capped, true),
            std::vector<std::string>{
                "metadata.annotations[nginx.ingress.kubernetes.io/cors-max-age]: capped at "
                "86400 seconds (browsers keep a preflight a day at most)"});
  ASSERT_NE(findRoute(capped, "shop/web"), nullptr);
  EXPECT_EQ(findRoute(capped, "shop/web")->cors->max_age_s, 86400u);
}

TEST(IngressNginxAnnotations, CorsKeysWithoutEnableCorsAreIgnoredAndBadValuesRefused) {
  auto off = translateYaml(ingress({{kN + "cors-allow-origin", "https://a.example.com"}}));
  EXPECT_EQ(reports(off, true),
            std::vector<std::string>{
                "metadata.annotations[nginx.ingress.kubernetes.io/cors-allow-origin]: ignored: "
                "enable-cors is not \"true\""});
  ASSERT_NE(findRoute(off, "shop/web"), nullptr);
  EXPECT_FALSE(findRoute(off, "shop/web")->cors);
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"cors-allow-origin", "https://a.example.com/path"},
           {"cors-allow-origin", "javascript:alert(1)"},
           {"cors-allow-methods", "GET POST"},
           {"cors-allow-credentials", "yes"},
           {"cors-max-age", "1h"}}) {
    auto result = translateYaml(ingress({{kN + "enable-cors", "true"}, {kN + key, value}}));
    EXPECT_EQ(findRoute(result, "shop/web"), nullptr) << key << "=" << value;
    EXPECT_EQ(reports(result, false).size(), 1u) << key << "=" << value;
  }
}

TEST(IngressNginxAnnotations, DenylistSourceRange) {
  auto result = translateYaml(ingress({{kN + "denylist-source-range", "10.0.0.0/8, ::1/128"}}));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto* r = findRoute(result, "shop/web");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->ip_deny, (std::vector<std::string>{"10.0.0.0/8", "::1/128"}));
}

TEST(IngressNginxAnnotations, SnippetsAreRefusedButTheIngressIsServed) {
  for (const char* key : {"configuration-snippet", "server-snippet", "stream-snippet"}) {
    auto result = translateYaml(ingress({{kN + key, "return 200;"}}));
    EXPECT_EQ(reports(result, false), std::vector<std::string>{});
    EXPECT_EQ(reports(result, true),
              std::vector<std::string>{"metadata.annotations[" + kN + key +
                                       "]: snippets are refused for security: Atrium never "
                                       "executes configuration from annotations; the Ingress "
                                       "is served without it"});
    EXPECT_NE(findRoute(result, "shop/web"), nullptr);
  }
}

TEST(IngressNginxAnnotations, AuthOtherThanBasicRefusesTheIngress) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"auth-url", "http://auth.example.com/"}, {"auth-tls-verify-client", "on"}}) {
    auto result = translateYaml(ingress({{kN + key, value}}));
    EXPECT_EQ(findRoute(result, "shop/web"), nullptr) << key;
    ASSERT_EQ(reports(result, false).size(), 1u) << key;
    EXPECT_NE(reports(result, false)[0].find("not supported by Atrium"), std::string::npos);
  }
  auto not_canary = translateYaml(ingress({{kN + "canary", "false"}}));
  EXPECT_NE(findRoute(not_canary, "shop/web"), nullptr);
  EXPECT_EQ(reports(not_canary, false), std::vector<std::string>{});
}

TEST(IngressNginxAnnotations, OtherIngressNginxKeysAreNotSupported) {
  auto result = translateYaml(ingress({{kN + "force-ssl-redirect", "true"},
                                       {kN + "lua-resty-waf", "active"},
                                       {kN + "enable-modsecurity", "true"},
                                       {"atrium.dev/no-such-key", "1"}}));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const std::string ignored = "is not supported by Atrium and is ignored (never executed)";
  EXPECT_EQ(reports(result, true),
            (std::vector<std::string>{
                "metadata.annotations[atrium.dev/no-such-key]: unknown annotation, ignored",
                "metadata.annotations[" + kN + "enable-modsecurity]: " + ignored,
                "metadata.annotations[" + kN + "force-ssl-redirect]: " + ignored +
                    "; hosts without spec.tls are not redirected; list the host in spec.tls, or "
                    "use an APIRoute with spec.tls.redirectHTTP",
                "metadata.annotations[" + kN + "lua-resty-waf]: " + ignored}));
  EXPECT_NE(findRoute(result, "shop/web"), nullptr);
}

}  // namespace
}  // namespace atrium::controller::translator
