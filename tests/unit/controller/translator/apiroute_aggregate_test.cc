// APIRoute rules with `aggregate` through the whole translator: calls resolved to clusters,
// defaults, every field's errors at their paths (the rule is left out), and the snapshot's own
// validation refusing what the translator would not write.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/config/snapshot_json.h"
#include "tests/unit/controller/translator/translate_yaml.h"

namespace atrium::controller::translator {
namespace {

using namespace yaml_support;  // translateYaml, findRoute, reports, route

std::string withAggregate(const std::string& aggregate) {
  return route("  rules:\n  - matches: [{path: {value: /bundle}}]\n    aggregate: " + aggregate +
               "\n");
}

TEST(APIRouteAggregate, CallsAreResolvedWithDefaults) {
  auto result = translateYaml(withAggregate(R"(
      calls:
      - {name: user, service: {name: svc, port: 80}, path: "/users/{query.id}"}
      - {name: orders, service: {name: svc, port: 80}, path: "/orders?user={query.id}", method: POST}
      - {name: rates, url: "http://127.0.0.1:9000", path: /rates})"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto* r = findRoute(result, "shop/orders/0");
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->aggregate);
  EXPECT_TRUE(r->backends.empty());
  const auto& a = *r->aggregate;
  ASSERT_EQ(a.calls.size(), 3u);
  EXPECT_EQ(a.calls[0].name, "user");
  EXPECT_EQ(a.calls[0].cluster, "shop/svc:80");
  EXPECT_EQ(a.calls[0].method, "GET");
  EXPECT_EQ(a.calls[0].path, "/users/{query.id}");
  EXPECT_EQ(a.calls[1].method, "POST");
  EXPECT_FALSE(a.calls[2].cluster.empty());
  EXPECT_EQ(a.timeout_ms, 0u);
  EXPECT_EQ(a.on_error, config::AggregateOnError::Partial);
  EXPECT_EQ(a.max_call_body_bytes, 1024u * 1024u);
  for (const auto& problem : config::validate(result.snapshot)) ADD_FAILURE() << problem;
  // The snapshot's JSON form keeps it (the /config dump and the golden files).
  const auto json = config::toJson(result.snapshot);
  const auto back = config::snapshotFromJson(json);
  ASSERT_EQ(back.virtual_hosts.size(), result.snapshot.virtual_hosts.size());
  EXPECT_EQ(back.virtual_hosts[0].routes[0].aggregate, r->aggregate);
}

TEST(APIRouteAggregate, TimeoutOnErrorAndBodyBound) {
  auto result = translateYaml(withAggregate(R"(
      calls: [{name: a, service: {name: svc, port: 80}}]
      timeout: 750ms
      onError: Fail
      maxCallBodySize: 64Ki)"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const auto* r = findRoute(result, "shop/orders/0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->aggregate->timeout_ms, 750u);
  EXPECT_EQ(r->aggregate->on_error, config::AggregateOnError::Fail);
  EXPECT_EQ(r->aggregate->max_call_body_bytes, 64u * 1024u);
  EXPECT_EQ(r->aggregate->calls[0].path, "/");
}

TEST(APIRouteAggregate, AnUnresolvedServiceIsAWarningAndTheCallFailsLater) {
  auto result = translateYaml(withAggregate(
      R"({calls: [{name: a, service: {name: missing, port: 80}}, {name: b, service: {name: svc, port: 80}}]})"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  ASSERT_EQ(reports(result, true).size(), 1u);
  EXPECT_NE(reports(result, true)[0].find("spec.rules[0].aggregate.calls[0].service"),
            std::string::npos);
  const auto* r = findRoute(result, "shop/orders/0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->aggregate->calls[0].cluster, "");
  EXPECT_EQ(r->aggregate->calls[1].cluster, "shop/svc:80");
}

TEST(APIRouteAggregate, InvalidFieldsLeaveTheRuleOut) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{calls: []}", "spec.rules[0].aggregate.calls: needs at least one call"},
      {"{calls: [{name: '1a', service: {name: svc, port: 80}}]}",
       "spec.rules[0].aggregate.calls[0].name: must match"},
      {"{calls: [{name: _status, service: {name: svc, port: 80}}]}",
       "spec.rules[0].aggregate.calls[0].name: _status"},
      {"{calls: [{name: a, service: {name: svc, port: 80}}, {name: a, service: {name: svc, port: 80}}]}",
       "spec.rules[0].aggregate.calls[1].name: is used by another call"},
      {"{calls: [{name: a, service: {name: svc, port: 80}, path: 'users/{query.id}'}]}",
       "spec.rules[0].aggregate.calls[0].path: must start with '/'"},
      {"{calls: [{name: a, service: {name: svc, port: 80}, path: '//evil.example/x'}]}",
       "spec.rules[0].aggregate.calls[0].path: must not start with '//'"},
      {"{calls: [{name: a, service: {name: svc, port: 80}, path: '/x/{cookie.sid}'}]}",
       "spec.rules[0].aggregate.calls[0].path: unknown placeholder {cookie.sid}"},
      {"{calls: [{name: a, service: {name: svc, port: 80}, method: get}]}",
       "spec.rules[0].aggregate.calls[0].method: must be an upper-case HTTP method"},
      {"{calls: [{name: a}]}", "spec.rules[0].aggregate.calls[0]: exactly one of service or url"},
      {"{calls: [{name: a, service: {name: svc, port: 80}}], onError: Ignore}",
       "spec.rules[0].aggregate.onError: must be Partial or Fail"},
      {"{calls: [{name: a, service: {name: svc, port: 80}}], timeout: soon}",
       "spec.rules[0].aggregate.timeout"},
      {"{calls: [{name: a, service: {name: svc, port: 80}}], maxCallBodySize: 1Gi}",
       "spec.rules[0].aggregate.maxCallBodySize: must be between"},
  };
  for (const auto& [aggregate, expected] : cases) {
    auto result = translateYaml(withAggregate(aggregate));
    const auto errors = reports(result, false);
    ASSERT_FALSE(errors.empty()) << aggregate;
    EXPECT_EQ(errors[0].rfind(expected, 0), 0u) << aggregate << " gave " << errors[0];
    EXPECT_EQ(findRoute(result, "shop/orders/0"), nullptr) << aggregate;
  }
}

TEST(APIRouteAggregate, AggregateWithBackendsIsRefused) {
  auto result = translateYaml(route(R"(
  rules:
  - backends: [{service: {name: svc, port: 80}}]
    aggregate: {calls: [{name: a, service: {name: svc, port: 80}}]}
)"));
  ASSERT_FALSE(reports(result, false).empty());
  EXPECT_EQ(findRoute(result, "shop/orders/0"), nullptr);
}

TEST(APIRouteAggregate, ValidateRefusesWhatTheTranslatorWouldNot) {
  auto result = translateYaml(withAggregate("{calls: [{name: a, service: {name: svc, port: 80}}]}"));
  ASSERT_TRUE(config::validate(result.snapshot).empty());
  auto bad = result.snapshot;
  auto& call = bad.virtual_hosts[0].routes[0].aggregate->calls[0];
  call.path = "/x\r\nHost: evil";
  EXPECT_FALSE(config::validate(bad).empty());
  call.path = "/x";
  call.name = "_status";
  EXPECT_FALSE(config::validate(bad).empty());
  call.name = "a";
  call.cluster = "shop/nowhere:80";
  EXPECT_FALSE(config::validate(bad).empty());
  call.cluster = "";
  call.method = "get";
  EXPECT_FALSE(config::validate(bad).empty());
}

}  // namespace
}  // namespace atrium::controller::translator
