// atrium.dev/policy (and its nginx alias) on an Ingress: the spec.policy of an APIRoute of the
// same namespace applies to every route of the Ingress, the Ingress's own annotations override
// what they set, and an Ingress whose policy cannot be read is not served without it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/controller/translator/translate_yaml.h"

namespace atrium::controller::translator {
namespace {

using namespace yaml_support;  // translateYaml, findRoute, reports

const char* kPolicyRoute = R"(
apiVersion: atrium.dev/v1alpha1
kind: APIRoute
metadata: {name: shop-policy, namespace: shop}
spec:
  policy:
    auth: {type: APIKey}
    rateLimit: {limits: [{requests: 10, period: 1m, key: ClientIP}]}
    timeouts: {request: 5s, connect: 1s}
    ipDeny: [10.0.0.0/8]
    cors: {allowOrigins: ["https://app.example.com"]}
  rules:
  - directResponse: {status: 200}
---
)";

std::string ingress(const std::string& annotations) {
  return std::string(kPolicyRoute) + R"(apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  annotations:
)" + annotations + R"(
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: svc, port: {number: 80}}}}
)" + kService;
}

TEST(IngressPolicy, TheAPIRoutePolicyAppliesToTheIngressRoutes) {
  auto result = translateYaml(ingress("    atrium.dev/policy: shop-policy"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto* r = findRoute(result, "shop/web");
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->auth);
  EXPECT_TRUE(r->auth->api_key);
  ASSERT_TRUE(r->rate_limit);
  EXPECT_EQ(r->rate_limit->limits[0].requests, 10u);
  EXPECT_EQ(r->rate_limit->scope, "Ingress shop/web");  // buckets of the Ingress's own
  EXPECT_EQ(r->timeouts.request_ms, 5000u);
  EXPECT_EQ(r->timeouts.connect_ms, 1000u);
  EXPECT_EQ(r->ip_deny, std::vector<std::string>{"10.0.0.0/8"});
  ASSERT_TRUE(r->cors);
  EXPECT_FALSE(r->backends.empty());
}

TEST(IngressPolicy, TheIngressAnnotationsOverrideThePolicy) {
  auto result = translateYaml(ingress(
      "    nginx.ingress.kubernetes.io/policy: shop-policy\n"
      "    nginx.ingress.kubernetes.io/proxy-connect-timeout: \"3\"\n"
      "    nginx.ingress.kubernetes.io/denylist-source-range: 192.0.2.0/24"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto* r = findRoute(result, "shop/web");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->timeouts.connect_ms, 3000u);
  EXPECT_EQ(r->timeouts.request_ms, 5000u);  // not overridden: the policy's
  EXPECT_EQ(r->ip_deny, std::vector<std::string>{"192.0.2.0/24"});
  EXPECT_TRUE(r->auth);
}

TEST(IngressPolicy, AnUnreadablePolicyKeepsTheIngressOut) {
  for (const auto& [annotation, expected] : std::vector<std::pair<std::string, std::string>>{
           {"    atrium.dev/policy: nowhere",
            "metadata.annotations[atrium.dev/policy]: APIRoute shop/nowhere not found"},
           {"    atrium.dev/policy: Not_A_Name",
            "metadata.annotations[atrium.dev/policy]: must be the name of an APIRoute"}}) {
    auto result = translateYaml(ingress(annotation));
    const auto errors = reports(result, false);
    ASSERT_EQ(errors.size(), 1u) << annotation;
    EXPECT_EQ(errors[0].rfind(expected, 0), 0u) << errors[0];
    EXPECT_EQ(findRoute(result, "shop/web"), nullptr);
  }
  // An invalid policy is reported on its APIRoute, and the Ingress is not served without it.
  std::string broken = ingress("    atrium.dev/policy: shop-policy");
  broken.replace(broken.find("requests: 10"), 12, "requests: -1");
  auto result = translateYaml(broken);
  bool on_ingress = false;
  for (const auto& e : reports(result, false)) {
    if (e.find("metadata.annotations[atrium.dev/policy]: the spec.policy of APIRoute "
               "shop/shop-policy is invalid") == 0) {
      on_ingress = true;
    }
  }
  EXPECT_TRUE(on_ingress) << ::testing::PrintToString(reports(result, false));
  EXPECT_EQ(findRoute(result, "shop/web"), nullptr);
}

}  // namespace
}  // namespace atrium::controller::translator
