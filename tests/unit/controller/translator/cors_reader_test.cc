// policy.cors as written in manifests → config::CorsPolicy: every field, the normal forms the
// data plane compares (lower-case origins without default ports, upper-case methods,
// lower-case header names, sorted and unique, "*" standing alone), fields applied on top of an
// inherited policy, each way of getting it wrong reported at its exact field path, credentials
// with any origin refused, and the whole translator carrying it to the route (rule overrides,
// an invalid cors leaving the rule or route out).
#include "controller/translator/cors_reader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/config/snapshot_json.h"
#include "tests/unit/controller/translator/field_reports.h"
#include "tests/unit/controller/translator/translate_yaml.h"

namespace atrium::controller::translator {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

const std::string kPath = "spec.rules[0].policy.cors";

using Outcome = field_reports::ReadOutcome<config::CorsPolicy>;

Outcome read(const json& cors, const config::CorsPolicy& base = {}) {
  return field_reports::readOutcome<config::CorsPolicy>(
      [&](FieldReader& r) { return readCorsPolicy(r, cors, kPath, base); });
}

// The single error of {field: value}.
std::string errorFor(const char* field, const json& value) {
  json cors = {{field, value}};
  if (!cors.contains("allowOrigins")) cors["allowOrigins"] = {"https://a.test"};
  auto out = read(cors);
  EXPECT_FALSE(out.policy) << field << " " << value.dump();
  EXPECT_EQ(out.errors.size(), 1u) << field << " " << value.dump();
  return out.errors.empty() ? "" : out.errors.front();
}

TEST(CorsReader, EveryField) {
  auto out = read(json::parse(R"({
    "allowOrigins": ["https://app.example.com", "https://*.Example.com", "http://localhost:3000"],
    "allowMethods": ["put", "GET", "PUT"],
    "allowHeaders": ["Content-Type", "Authorization", "content-type"],
    "exposeHeaders": ["X-Request-Id"],
    "allowCredentials": true,
    "maxAge": 600})"));
  ASSERT_TRUE(out.policy) << ::testing::PrintToString(out.errors);
  EXPECT_TRUE(out.errors.empty());
  EXPECT_TRUE(out.warnings.empty()) << ::testing::PrintToString(out.warnings);
  EXPECT_EQ(out.policy->allow_origins,
            (Strings{"http://localhost:3000", "https://*.example.com", "https://app.example.com"}));
  EXPECT_EQ(out.policy->allow_methods, (Strings{"GET", "PUT"}));
  EXPECT_EQ(out.policy->allow_headers, (Strings{"authorization", "content-type"}));
  EXPECT_EQ(out.policy->expose_headers, (Strings{"x-request-id"}));
  EXPECT_TRUE(out.policy->allow_credentials);
  EXPECT_EQ(out.policy->max_age_s, 600u);
}

TEST(CorsReader, Defaults) {
  auto out = read({{"allowOrigins", {"*"}}});
  ASSERT_TRUE(out.policy);
  EXPECT_TRUE(out.errors.empty());
  EXPECT_TRUE(out.warnings.empty());
  EXPECT_EQ(out.policy->allow_origins, Strings{"*"});
  EXPECT_TRUE(out.policy->allow_methods.empty());  // the data plane's GET, HEAD, POST
  EXPECT_TRUE(out.policy->allow_headers.empty());  // what the preflight asks for
  EXPECT_TRUE(out.policy->expose_headers.empty());
  EXPECT_FALSE(out.policy->allow_credentials);
  EXPECT_EQ(out.policy->max_age_s, 0u);
  // Without origins nothing is allowed: served, but said.
  out = read(json::object());
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.warnings,
            Strings{kPath + ": no allowOrigins: every cross-origin request is refused"});
}

TEST(CorsReader, OriginNormalForm) {
  struct Case {
    const char* written;
    const char* stored;
  };
  for (const Case& c : {Case{"*", "*"}, Case{"HTTPS://App.Example.COM", "https://app.example.com"},
                        Case{"https://app.example.com:443", "https://app.example.com"},
                        Case{"http://app.example.com:80", "http://app.example.com"},
                        Case{"http://app.example.com:443", "http://app.example.com:443"},
                        Case{"https://app.example.com:08443", "https://app.example.com:8443"},
                        Case{"https://*.example.com", "https://*.example.com"},
                        Case{"http://localhost", "http://localhost"},
                        Case{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
                        Case{"http://[::1]:8080", "http://[::1]:8080"}}) {
    std::string problem;
    auto got = normalizeCorsOrigin(c.written, problem);
    ASSERT_TRUE(got) << c.written << ": " << problem;
    EXPECT_EQ(*got, c.stored);
  }
  // "*" with others is just "*".
  auto out = read({{"allowOrigins", {"https://a.test", "*"}}});
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.policy->allow_origins, Strings{"*"});
}

TEST(CorsReader, BadOrigins) {
  const std::string at = kPath + ".allowOrigins[0]: ";
  EXPECT_EQ(errorFor("allowOrigins", {"app.example.com"}),
            at + "must be \"*\" or scheme://host[:port] (e.g. https://app.example.com, "
                 "https://*.example.com)");
  EXPECT_EQ(errorFor("allowOrigins", {"ftp://app.example.com"}),
            at + "the scheme must be http or https");
  EXPECT_EQ(errorFor("allowOrigins", {"null"}),
            at + "must be \"*\" or scheme://host[:port] (e.g. https://app.example.com, "
                 "https://*.example.com)");
  for (const char* bad :
       {"https://app.example.com/", "https://app.example.com/path", "https://user@app.example.com",
        "https://app.example.com?x", "https://app example.com", "https://app.example.com\r\n"}) {
    EXPECT_EQ(errorFor("allowOrigins", {bad}),
              at + "must be scheme://host[:port], without a path, query, user or spaces")
        << bad;
  }
  for (const char* bad : {"https://app.example.com:0", "https://app.example.com:65536",
                          "https://app.example.com:", "https://app.example.com:x1",
                          "https://app.example.com:123456"}) {
    const auto e = errorFor("allowOrigins", {bad});
    EXPECT_TRUE(e.find("port") != std::string::npos ||
                e.find("without a path") != std::string::npos)
        << bad << " → " << e;
  }
  for (const char* bad : {"https://a.*.example.com", "https://*", "https://*example.com",
                          "https://", "https://-bad-.example.com", "https://[::1"}) {
    EXPECT_NE(errorFor("allowOrigins", {bad}), "") << bad;
  }
  EXPECT_EQ(errorFor("allowOrigins", {42}), at + "must be a string");
  EXPECT_EQ(errorFor("allowOrigins", {std::string(513, 'a')}), at + "must be 1 to 512 characters");
  EXPECT_EQ(errorFor("allowOrigins", json::array({""})), at + "must be 1 to 512 characters");
  json many = json::array();
  for (int i = 0; i < 33; ++i) many.push_back("https://a" + std::to_string(i) + ".test");
  auto out = read({{"allowOrigins", many}});
  EXPECT_FALSE(out.policy);
  EXPECT_EQ(out.errors, Strings{kPath + ".allowOrigins: holds at most 32 origins"});
  // One bad entry among good ones: still an error (the rule is left out).
  out = read({{"allowOrigins", {"https://a.test", "https://b.test/x"}}});
  EXPECT_FALSE(out.policy);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].rfind(kPath + ".allowOrigins[1]: ", 0), 0u);
}

TEST(CorsReader, MethodsAndHeaders) {
  auto out = read({{"allowOrigins", {"https://a.test"}},
                   {"allowMethods", {"GET", "*"}},
                   {"allowHeaders", {"X-A", "*"}},
                   {"exposeHeaders", {"*"}}});
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.policy->allow_methods, Strings{"*"});
  EXPECT_EQ(out.policy->allow_headers, Strings{"*"});
  EXPECT_EQ(out.policy->expose_headers, Strings{"*"});
  EXPECT_EQ(errorFor("allowMethods", {"GET", "FETCH"}),
            kPath +
                ".allowMethods[1]: must be an HTTP method (GET, HEAD, POST, PUT, DELETE, "
                "CONNECT, OPTIONS, TRACE, PATCH) or \"*\"");
  EXPECT_EQ(errorFor("allowMethods", json::array({"GET", "GET", "GET", "GET", "GET", "GET", "GET",
                                                  "GET", "GET", "GET", "GET"})),
            kPath + ".allowMethods: holds at most 10 methods");
  EXPECT_EQ(errorFor("allowHeaders", {"X-Ok", "Bad Header"}),
            kPath + ".allowHeaders[1]: must be an HTTP header name (or \"*\")");
  EXPECT_EQ(errorFor("allowHeaders", {"X-Ok", "x:y"}),
            kPath + ".allowHeaders[1]: must be an HTTP header name (or \"*\")");
  EXPECT_EQ(errorFor("exposeHeaders", {"a\r\nb"}),
            kPath + ".exposeHeaders[0]: must be an HTTP header name (or \"*\")");
  EXPECT_EQ(errorFor("exposeHeaders", {std::string(257, 'x')}),
            kPath + ".exposeHeaders[0]: must be an HTTP header name (or \"*\")");
  EXPECT_EQ(errorFor("allowHeaders", "X-A"), kPath + ".allowHeaders: must be a list");
}

TEST(CorsReader, MaxAgeAndTypes) {
  EXPECT_EQ(errorFor("maxAge", -1), kPath + ".maxAge: must be between 0 and 86400 (seconds)");
  EXPECT_EQ(errorFor("maxAge", 86401), kPath + ".maxAge: must be between 0 and 86400 (seconds)");
  EXPECT_NE(errorFor("maxAge", "10m"), "");  // the CRD says integer seconds
  EXPECT_NE(errorFor("allowCredentials", "yes"), "");
  auto out = read({{"allowOrigins", {"https://a.test"}}, {"maxAge", 86400}});
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.policy->max_age_s, 86400u);
  out = read({{"allowOrigins", {"https://a.test"}}, {"maxAge", 0}});
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.policy->max_age_s, 0u);
}

TEST(CorsReader, CredentialsWithAnyOriginAreRefused) {
  auto out = read({{"allowOrigins", {"*"}}, {"allowCredentials", true}});
  EXPECT_FALSE(out.policy);
  EXPECT_EQ(out.errors,
            Strings{kPath + ".allowCredentials: cannot be combined with allowOrigins: ['*']: "
                            "browsers refuse credentialed responses to any origin; list the "
                            "origins"});
  // Inherited credentials, origin "*" written here: reported at the origins.
  config::CorsPolicy base;
  base.allow_origins = {"https://a.test"};
  base.allow_credentials = true;
  out = read({{"allowOrigins", {"*"}}}, base);
  EXPECT_FALSE(out.policy);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].rfind(kPath + ".allowOrigins: ['*'] cannot be combined", 0), 0u);
  // allowCredentials: false with "*" is fine.
  out = read({{"allowOrigins", {"*"}}, {"allowCredentials", false}});
  EXPECT_TRUE(out.policy);
}

TEST(CorsReader, ExposeAnyWithCredentialsIsAWarning) {
  auto out = read(
      {{"allowOrigins", {"https://a.test"}}, {"allowCredentials", true}, {"exposeHeaders", {"*"}}});
  ASSERT_TRUE(out.policy);
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_EQ(out.warnings[0].rfind(kPath + ".exposeHeaders: with allowCredentials", 0), 0u);
}

TEST(CorsReader, FieldsOverrideTheInheritedOnesOneByOne) {
  config::CorsPolicy base;
  base.allow_origins = {"https://a.test"};
  base.allow_methods = {"PUT"};
  base.allow_headers = {"x-a"};
  base.allow_credentials = true;
  base.max_age_s = 60;
  auto out = read({{"allowMethods", {"DELETE"}}, {"maxAge", 0}}, base);
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.policy->allow_origins, Strings{"https://a.test"});
  EXPECT_EQ(out.policy->allow_methods, Strings{"DELETE"});  // lists replace whole
  EXPECT_EQ(out.policy->allow_headers, Strings{"x-a"});
  EXPECT_TRUE(out.policy->allow_credentials);
  EXPECT_EQ(out.policy->max_age_s, 0u);
}

TEST(CorsReader, UnknownFieldIsAWarning) {
  auto out = read({{"allowOrigins", {"https://a.test"}}, {"allowOrigin", {"https://b.test"}}});
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.warnings, Strings{kPath + ".allowOrigin: unknown field, ignored"});
}

// Through the whole translator.
using namespace yaml_support;  // translateYaml, findRoute, reports, route

TEST(APIRouteCors, RouteWideAndRuleOverride) {
  auto result = translateYaml(route(R"(
  policy:
    cors:
      allowOrigins: ["https://app.example.com"]
      allowMethods: [GET, PUT]
      allowCredentials: true
      maxAge: 600
  rules:
  - name: a
    matches: [{path: {value: /a}}]
    backends: [{service: {name: svc, port: 80}}]
  - name: b
    matches: [{path: {value: /b}}]
    backends: [{service: {name: svc, port: 80}}]
    policy:
      cors: {allowOrigins: ["https://*.example.com"], exposeHeaders: [X-Total]}
)"));
  EXPECT_TRUE(result.diagnostics.empty()) << ::testing::PrintToString(reports(result, false))
                                          << ::testing::PrintToString(reports(result, true));
  const auto* a = findRoute(result, "shop/orders/a");
  const auto* b = findRoute(result, "shop/orders/b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->cors && b->cors);
  EXPECT_EQ(a->cors->allow_origins, Strings{"https://app.example.com"});
  EXPECT_EQ(a->cors->allow_methods, (Strings{"GET", "PUT"}));
  EXPECT_TRUE(a->cors->allow_credentials);
  EXPECT_EQ(a->cors->max_age_s, 600u);
  EXPECT_EQ(b->cors->allow_origins, Strings{"https://*.example.com"});
  EXPECT_EQ(b->cors->allow_methods, (Strings{"GET", "PUT"}));
  EXPECT_TRUE(b->cors->allow_credentials);
  EXPECT_EQ(b->cors->expose_headers, Strings{"x-total"});
  EXPECT_TRUE(config::validate(result.snapshot).empty());
  // The codec writes cors and reads it back unchanged.
  const auto json = config::toJson(result.snapshot);
  EXPECT_NE(json.dump().find("\"cors\""), std::string::npos);
  EXPECT_EQ(config::snapshotFromJson(json), result.snapshot);
}

TEST(APIRouteCors, NoCorsIsNotWritten) {
  auto result = translateYaml(route(R"(
  rules:
  - backends: [{service: {name: svc, port: 80}}]
)"));
  const auto* r = findRoute(result, "shop/orders/0");
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->cors);
  EXPECT_EQ(config::toJson(result.snapshot).dump().find("\"cors\""), std::string::npos);
}

TEST(APIRouteCors, InvalidCorsLeavesTheRuleOrRouteOut) {
  // In a rule: that rule is left out, the others stay.
  auto result = translateYaml(route(R"(
  rules:
  - name: good
    matches: [{path: {value: /good}}]
    backends: [{service: {name: svc, port: 80}}]
  - name: bad
    matches: [{path: {value: /bad}}]
    backends: [{service: {name: svc, port: 80}}]
    policy:
      cors: {allowOrigins: ["*"], allowCredentials: true}
)"));
  EXPECT_NE(findRoute(result, "shop/orders/good"), nullptr);
  EXPECT_EQ(findRoute(result, "shop/orders/bad"), nullptr);
  EXPECT_EQ(reports(result, false),
            Strings{"spec.rules[1].policy.cors.allowCredentials: cannot be combined with "
                    "allowOrigins: ['*']: browsers refuse credentialed responses to any origin; "
                    "list the origins"});
  // Route-wide: the whole APIRoute is not served.
  result = translateYaml(route(R"(
  policy:
    cors: {allowOrigins: ["https://app.example.com/"]}
  rules:
  - backends: [{service: {name: svc, port: 80}}]
)"));
  EXPECT_EQ(findRoute(result, "shop/orders/0"), nullptr);
  ASSERT_EQ(reports(result, false).size(), 1u);
  EXPECT_EQ(reports(result, false)[0].rfind("spec.policy.cors.allowOrigins[0]: ", 0), 0u);
  // A rule inheriting route-wide credentials cannot open up to "*".
  result = translateYaml(route(R"(
  policy:
    cors: {allowOrigins: ["https://app.example.com"], allowCredentials: true}
  rules:
  - backends: [{service: {name: svc, port: 80}}]
    policy:
      cors: {allowOrigins: ["*"]}
)"));
  EXPECT_EQ(findRoute(result, "shop/orders/0"), nullptr);
  ASSERT_EQ(reports(result, false).size(), 1u);
  EXPECT_EQ(reports(result, false)[0].rfind("spec.rules[0].policy.cors.allowOrigins: ", 0), 0u);
}

TEST(APIRouteCors, ValidateRefusesWhatTheTranslatorWouldNot) {
  config::ConfigSnapshot snapshot;
  config::VirtualHost vh;
  vh.hostname = "api.example.com";
  config::Route r;
  r.name = "shop/orders/0";
  r.direct_response = config::DirectResponse{};
  r.direct_response->status = 200;
  config::CorsPolicy c;
  c.allow_origins = {"https://app.example.com"};
  r.cors = c;
  vh.routes.push_back(r);
  snapshot.virtual_hosts.push_back(vh);
  EXPECT_TRUE(config::validate(snapshot).empty())
      << ::testing::PrintToString(config::validate(snapshot));
  auto with = [&](auto change) {
    auto s = snapshot;
    change(*s.virtual_hosts[0].routes[0].cors);
    return config::validate(s);
  };
  EXPECT_FALSE(with([](config::CorsPolicy& p) {
                 p.allow_origins = {"*"};
                 p.allow_credentials = true;
               }).empty());
  EXPECT_FALSE(with([](config::CorsPolicy& p) { p.allow_origins = {"https://A.test"}; }).empty());
  EXPECT_FALSE(
      with([](config::CorsPolicy& p) { p.allow_origins = {"https://a.test\r\nX: y"}; }).empty());
  EXPECT_FALSE(with([](config::CorsPolicy& p) { p.allow_origins = {"ftp://a.test"}; }).empty());
  EXPECT_FALSE(with([](config::CorsPolicy& p) { p.allow_methods = {"get"}; }).empty());
  EXPECT_FALSE(with([](config::CorsPolicy& p) { p.allow_headers = {"X-A"}; }).empty());
  EXPECT_FALSE(with([](config::CorsPolicy& p) { p.expose_headers = {"a b"}; }).empty());
  EXPECT_FALSE(with([](config::CorsPolicy& p) { p.allow_headers = {"b", "a"}; }).empty());
  EXPECT_FALSE(with([](config::CorsPolicy& p) { p.max_age_s = 86401; }).empty());
}

}  // namespace
}  // namespace atrium::controller::translator
