// ingress-nginx canary Ingresses through the whole translator: a canary shares the traffic of
// the main Ingress with the same host and path in its namespace (weighted split, then
// header/cookie routes that come first), and is never served on its own.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "controller/translator/translation_cache.h"
#include "tests/unit/controller/translator/translate_yaml.h"

namespace atrium::controller::translator {
namespace {

using namespace yaml_support;  // translateYaml, findRoute, reports

const std::string kN = "nginx.ingress.kubernetes.io/";

std::string ingressYaml(const std::string& name, const std::string& ns,
                        const std::map<std::string, std::string>& annotations,
                        const std::string& service, const std::string& path = "/",
                        const std::string& host = "web.example.com") {
  std::string yaml = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: " + name +
                     "\n  namespace: " + ns + "\n  annotations:\n";
  for (const auto& [k, v] : annotations) yaml += "    " + k + ": \"" + v + "\"\n";
  if (annotations.empty()) yaml += "    {}\n";
  yaml +=
      "spec:\n  rules:\n  - host: " + host + "\n    http:\n      paths:\n      - path: \"" + path +
      "\"\n        pathType: ImplementationSpecific\n        backend: {service: {name: " + service +
      ", port: {number: 80}}}\n";
  return yaml;
}

std::string service(const std::string& name, const std::string& ns = "shop") {
  return "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: " + ns +
         "}\nspec:\n  ports: [{port: 80}]\n";
}

// Main Ingress shop/web (→ svc) and canary shop/web-canary (→ svc-canary) with `canary`.
std::string pair(const std::map<std::string, std::string>& canary,
                 const std::map<std::string, std::string>& main = {}) {
  auto annotations = canary;
  annotations[kN + "canary"] = "true";
  return ingressYaml("web", "shop", main, "svc") + "---\n" +
         ingressYaml("web-canary", "shop", annotations, "svc-canary") + service("svc") +
         service("svc-canary");
}

const config::VirtualHost* host(const TranslationResult& result, const std::string& name) {
  for (const auto& vh : result.snapshot.virtual_hosts) {
    if (vh.hostname == name) return &vh;
  }
  return nullptr;
}

// "cluster:weight" of a route's backends.
std::vector<std::string> backends(const config::Route& r) {
  std::vector<std::string> out;
  for (const auto& b : r.backends) out.push_back(b.cluster + ":" + std::to_string(b.weight));
  return out;
}

// The routes of `source` on web.example.com.
std::vector<const config::Route*> routesOf(const TranslationResult& result,
                                           const std::string& source) {
  std::vector<const config::Route*> out;
  if (const auto* vh = host(result, "web.example.com")) {
    for (const auto& r : vh->routes) {
      if (r.source == source) out.push_back(&r);
    }
  }
  return out;
}

TEST(IngressCanary, WeightSplitsTheMainRoute) {
  auto result = translateYaml(pair({{kN + "canary-weight", "30"}}));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  EXPECT_EQ(reports(result, true), std::vector<std::string>{});
  const auto main = routesOf(result, "Ingress shop/web");
  ASSERT_EQ(main.size(), 1u);
  EXPECT_EQ(backends(*main[0]),
            (std::vector<std::string>{"shop/svc:80:70", "shop/svc-canary:80:30"}));
  EXPECT_TRUE(routesOf(result, "Ingress shop/web-canary").empty());  // no route of its own
}

TEST(IngressCanary, WeightTotalAndEdges) {
  auto total =
      translateYaml(pair({{kN + "canary-weight", "1"}, {kN + "canary-weight-total", "1000"}}));
  EXPECT_EQ(reports(total, false), std::vector<std::string>{});
  ASSERT_EQ(routesOf(total, "Ingress shop/web").size(), 1u);
  EXPECT_EQ(backends(*routesOf(total, "Ingress shop/web")[0]),
            (std::vector<std::string>{"shop/svc:80:999", "shop/svc-canary:80:1"}));
  // 0: the main backend keeps everything (the canary only takes header/cookie requests).
  auto zero = translateYaml(pair({{kN + "canary-weight", "0"}}));
  EXPECT_EQ(reports(zero, false), std::vector<std::string>{});
  ASSERT_EQ(routesOf(zero, "Ingress shop/web").size(), 1u);
  EXPECT_EQ(backends(*routesOf(zero, "Ingress shop/web")[0]),
            (std::vector<std::string>{"shop/svc:80:1"}));
  // 100 of 100: everything goes to the canary, as ingress-nginx documents.
  auto all = translateYaml(pair({{kN + "canary-weight", "100"}}));
  EXPECT_EQ(reports(all, false), std::vector<std::string>{});
  ASSERT_EQ(routesOf(all, "Ingress shop/web").size(), 1u);
  EXPECT_EQ(backends(*routesOf(all, "Ingress shop/web")[0]),
            (std::vector<std::string>{"shop/svc-canary:80:100"}));
}

TEST(IngressCanary, BadValuesLeaveTheCanaryOut) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"canary-weight", "101"},
                                                        {"canary-weight", "-1"},
                                                        {"canary-weight", "ten"},
                                                        {"canary-weight-total", "0"},
                                                        {"canary-by-header", "X Canary"},
                                                        {"canary-by-cookie", "a;b"}}) {
    auto result = translateYaml(pair({{kN + key, value}}));
    ASSERT_EQ(reports(result, false).size(), 1u) << key << "=" << value;
    EXPECT_NE(reports(result, false)[0].find("the canary is not used"), std::string::npos);
    const auto main = routesOf(result, "Ingress shop/web");
    ASSERT_EQ(main.size(), 1u) << key;
    EXPECT_EQ(backends(*main[0]), (std::vector<std::string>{"shop/svc:80:1"})) << key;
    EXPECT_TRUE(routesOf(result, "Ingress shop/web-canary").empty()) << key;
  }
  auto pattern = translateYaml(
      pair({{kN + "canary-by-header", "X-Canary"}, {kN + "canary-by-header-pattern", "(a"}}));
  ASSERT_EQ(reports(pattern, false).size(), 1u);
  EXPECT_TRUE(routesOf(pattern, "Ingress shop/web-canary").empty());
}

TEST(IngressCanary, HeaderAlwaysGoesToTheCanaryAndNeverToTheMain) {
  auto result =
      translateYaml(pair({{kN + "canary-by-header", "X-Canary"}, {kN + "canary-weight", "10"}}));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto canary = routesOf(result, "Ingress shop/web-canary");
  ASSERT_EQ(canary.size(), 1u);
  EXPECT_EQ(backends(*canary[0]), (std::vector<std::string>{"shop/svc-canary:80:1"}));
  ASSERT_EQ(canary[0]->matches.size(), 1u);
  EXPECT_EQ(canary[0]->matches[0].path, (config::PathMatch{config::PathType::Prefix, "/"}));
  EXPECT_EQ(
      canary[0]->matches[0].headers,
      (std::vector<config::StringMatch>{{"x-canary", config::StringMatchType::Exact, "always"}}));
  const auto main = routesOf(result, "Ingress shop/web");
  ASSERT_EQ(main.size(), 2u);
  // The weighted route, then the "never" one (the proxy tries routes with more header
  // matches first).
  EXPECT_TRUE(main[0]->matches[0].headers.empty());
  EXPECT_EQ(backends(*main[0]),
            (std::vector<std::string>{"shop/svc:80:90", "shop/svc-canary:80:10"}));
  EXPECT_EQ(
      main[1]->matches[0].headers,
      (std::vector<config::StringMatch>{{"x-canary", config::StringMatchType::Exact, "never"}}));
  EXPECT_EQ(backends(*main[1]), (std::vector<std::string>{"shop/svc:80:1"}));
}

TEST(IngressCanary, HeaderValueAndPattern) {
  auto value = translateYaml(pair({{kN + "canary-by-header", "X-Region"},
                                   {kN + "canary-by-header-value", "eu-west"},
                                   {kN + "canary-by-header-pattern", "eu-.*"}}));
  EXPECT_EQ(reports(value, false), std::vector<std::string>{});
  EXPECT_EQ(
      reports(value, true),
      std::vector<std::string>{"metadata.annotations[" + kN +
                               "canary-by-header-pattern]: ignored: "
                               "canary-by-header-value is set and wins, as in ingress-nginx"});
  const auto canary = routesOf(value, "Ingress shop/web-canary");
  ASSERT_EQ(canary.size(), 1u);
  EXPECT_EQ(
      canary[0]->matches[0].headers,
      (std::vector<config::StringMatch>{{"x-region", config::StringMatchType::Exact, "eu-west"}}));
  // No "never" route with a value: other values go by weight.
  EXPECT_EQ(routesOf(value, "Ingress shop/web").size(), 1u);

  auto pattern = translateYaml(
      pair({{kN + "canary-by-header", "X-Region"}, {kN + "canary-by-header-pattern", "^eu-"}}));
  EXPECT_EQ(reports(pattern, false), std::vector<std::string>{});
  const auto by_pattern = routesOf(pattern, "Ingress shop/web-canary");
  ASSERT_EQ(by_pattern.size(), 1u);
  EXPECT_EQ(by_pattern[0]->matches[0].headers,
            (std::vector<config::StringMatch>{
                {"x-region", config::StringMatchType::RegularExpression, "(?s).*(?:^eu-).*"}}));
}

TEST(IngressCanary, CookieComesAfterTheHeader) {
  auto result = translateYaml(
      pair({{kN + "canary-by-header", "X-Canary"}, {kN + "canary-by-cookie", "use_canary"}}));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto canary = routesOf(result, "Ingress shop/web-canary");
  ASSERT_EQ(canary.size(), 1u);
  ASSERT_EQ(canary[0]->matches.size(), 2u);
  EXPECT_EQ(canary[0]->matches[0].headers[0].name, "x-canary");
  EXPECT_EQ(
      canary[0]->matches[1].headers,
      (std::vector<config::StringMatch>{{"cookie", config::StringMatchType::RegularExpression,
                                         "(?:.*;)?[ \t]*(?i:use_canary)=always(?:[ \t]*;.*)?"}}));
  const auto main = routesOf(result, "Ingress shop/web");
  ASSERT_EQ(main.size(), 2u);
  ASSERT_EQ(main[1]->matches.size(), 2u);
  EXPECT_EQ(main[1]->matches[0].headers[0].value, "never");
  EXPECT_EQ(main[1]->matches[1].headers[0].value,
            "(?:.*;)?[ \t]*(?i:use_canary)=never(?:[ \t]*;.*)?");
}

TEST(IngressCanary, TheCanaryTakesTheMainRoutesPolicies) {
  // Other annotations of a canary are ignored (as ingress-nginx), the main's apply to it.
  auto result = translateYaml(
      pair({{kN + "canary-by-header", "X-Canary"}, {kN + "proxy-body-size", "1k"}},
           {{kN + "proxy-body-size", "2k"}, {kN + "whitelist-source-range", "10.0.0.0/8"}}));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  EXPECT_EQ(reports(result, true),
            std::vector<std::string>{"metadata.annotations[" + kN +
                                     "proxy-body-size]: ignored on a canary Ingress: it takes "
                                     "its main Ingress's settings, as in ingress-nginx"});
  const auto canary = routesOf(result, "Ingress shop/web-canary");
  ASSERT_EQ(canary.size(), 1u);
  EXPECT_EQ(canary[0]->max_request_body_bytes, 2048u);
  EXPECT_EQ(canary[0]->ip_allow, std::vector<std::string>{"10.0.0.0/8"});
}

TEST(IngressCanary, RegexPathsMatchAsTheMainReadsThem) {
  const std::string path = "/something(/|$)(.*)";
  auto canary_annotations =
      std::map<std::string, std::string>{{kN + "canary", "true"}, {kN + "canary-weight", "50"}};
  auto result = translateYaml(
      ingressYaml("web", "shop", {{kN + "use-regex", "true"}, {kN + "rewrite-target", "/$2"}},
                  "svc", path) +
      "---\n" + ingressYaml("web-canary", "shop", canary_annotations, "svc-canary", path) +
      service("svc") + service("svc-canary"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto main = routesOf(result, "Ingress shop/web");
  ASSERT_EQ(main.size(), 1u);
  EXPECT_EQ(backends(*main[0]),
            (std::vector<std::string>{"shop/svc:80:50", "shop/svc-canary:80:50"}));
  EXPECT_EQ(main[0]->rewrite.substitution, "/\\2");
}

TEST(IngressCanary, WithoutAMainIngressTheCanaryIsAnErrorAndNotServed) {
  auto annotations =
      std::map<std::string, std::string>{{kN + "canary", "true"}, {kN + "canary-weight", "50"}};
  auto alone = translateYaml(ingressYaml("web-canary", "shop", annotations, "svc-canary") +
                             service("svc-canary"));
  EXPECT_EQ(reports(alone, false),
            std::vector<std::string>{
                "spec.rules[0].http.paths[0]: no main Ingress (one without canary: \"true\") in "
                "namespace \"shop\" serves host \"web.example.com\" with this path; a canary "
                "only shares a main Ingress's traffic, so this path is not served"});
  EXPECT_EQ(host(alone, "web.example.com"), nullptr);
  // Another path, another host, another namespace: no match either.
  for (const std::string& yaml :
       {ingressYaml("web", "shop", {}, "svc", "/other") + "---\n" +
            ingressYaml("web-canary", "shop", annotations, "svc-canary"),
        ingressYaml("web", "shop", {}, "svc", "/", "other.example.com") + "---\n" +
            ingressYaml("web-canary", "shop", annotations, "svc-canary"),
        ingressYaml("web", "other", {}, "svc") + "---\n" +
            ingressYaml("web-canary", "shop", annotations, "svc-canary")}) {
    auto result =
        translateYaml(yaml + service("svc") + service("svc", "other") + service("svc-canary"));
    ASSERT_EQ(reports(result, false).size(), 1u) << yaml;
    EXPECT_NE(reports(result, false)[0].find("no main Ingress"), std::string::npos);
    EXPECT_TRUE(routesOf(result, "Ingress shop/web-canary").empty());
    for (const auto& vh : result.snapshot.virtual_hosts) {
      for (const auto& r : vh.routes) {
        for (const auto& b : r.backends) EXPECT_NE(b.cluster, "shop/svc-canary:80") << yaml;
      }
    }
  }
}

TEST(IngressCanary, ASecondCanaryForOnePathIsRefused) {
  auto first =
      std::map<std::string, std::string>{{kN + "canary", "true"}, {kN + "canary-weight", "20"}};
  auto result = translateYaml(ingressYaml("web", "shop", {}, "svc") + "---\n" +
                              ingressYaml("a-canary", "shop", first, "svc-canary") + "---\n" +
                              ingressYaml("b-canary", "shop", first, "svc") + service("svc") +
                              service("svc-canary"));
  ASSERT_EQ(reports(result, false).size(), 1u);
  EXPECT_EQ(reports(result, false)[0],
            "spec.rules[0].http.paths[0]: this host and path of Ingress shop/web already has the "
            "canary Ingress shop/a-canary, which is older and wins; this path is not used");
  EXPECT_EQ(backends(*routesOf(result, "Ingress shop/web")[0]),
            (std::vector<std::string>{"shop/svc:80:80", "shop/svc-canary:80:20"}));
}

TEST(IngressCanary, AnUnresolvedCanaryServiceLeavesTheMainAlone) {
  auto result = translateYaml(ingressYaml("web", "shop", {}, "svc") + "---\n" +
                              ingressYaml("web-canary", "shop",
                                          {{kN + "canary", "true"}, {kN + "canary-weight", "50"}},
                                          "missing") +
                              service("svc"));
  EXPECT_EQ(backends(*routesOf(result, "Ingress shop/web")[0]),
            (std::vector<std::string>{"shop/svc:80:1"}));
}

TEST(IngressCanary, CanaryKeysOnAMainIngressAreIgnored) {
  auto result = translateYaml(ingressYaml("web", "shop", {{kN + "canary-weight", "10"}}, "svc") +
                              service("svc"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  EXPECT_EQ(reports(result, true),
            std::vector<std::string>{"metadata.annotations[" + kN +
                                     "canary-weight]: ignored: this Ingress is not a canary "
                                     "(canary is not \"true\")"});
  EXPECT_EQ(routesOf(result, "Ingress shop/web").size(), 1u);
}

TEST(IngressCanary, AppliedAgainWhenTheMainRouteComesFromTheCache) {
  const ObjectStore store =
      versioned(pair({{kN + "canary-weight", "30"}, {kN + "canary-by-header", "X-Canary"}}));
  TranslationCache cache;
  const auto cold = translate(store, options(), &cache);
  const auto warm = translate(store, options(), &cache);
  EXPECT_EQ(warm, cold);
  EXPECT_EQ(warm, translate(store, options()));
  EXPECT_EQ(routesOf(warm, "Ingress shop/web-canary").size(), 1u);
  EXPECT_EQ(backends(*routesOf(warm, "Ingress shop/web")[0]),
            (std::vector<std::string>{"shop/svc:80:70", "shop/svc-canary:80:30"}));
}

}  // namespace
}  // namespace atrium::controller::translator
