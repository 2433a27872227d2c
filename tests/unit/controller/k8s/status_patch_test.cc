// What goes into status, and when nothing should be written.
#include "controller/k8s/status_patch.h"

#include <gtest/gtest.h>

namespace atrium::controller::k8s {
namespace {

using nlohmann::json;

KubeObject object(const std::string& kind, json body) {
  KubeObject o;
  o.kind = kind;
  o.ns = "shop";
  o.name = "web";
  o.body = std::move(body);
  return o;
}

TEST(PublishAddresses, IpsAndHostnames) {
  std::string error;
  auto a = parsePublishAddresses("192.0.2.10, 2001:db8::1,lb.example.com", error);
  EXPECT_EQ(error, "");
  EXPECT_EQ(a, json::parse(R"([{"ip":"192.0.2.10"},{"ip":"2001:db8::1"},
                               {"hostname":"lb.example.com"}])"));
}

TEST(PublishAddresses, RejectsWhatIsNeitherIpNorDnsName) {
  for (const char* bad : {"", "a,,b", "Under_score.example", "-lead.example", "has space",
                          "http://x"}) {
    std::string error;
    parsePublishAddresses(bad, error);
    EXPECT_NE(error, "") << bad;
  }
}

TEST(ServiceAddresses, LoadBalancerThenExternalIpsWithoutDuplicates) {
  auto svc = object("Service", json::parse(R"({
    "spec": {"type": "LoadBalancer", "externalIPs": ["198.51.100.1", "203.0.113.5"]},
    "status": {"loadBalancer": {"ingress": [
      {"ip": "203.0.113.5", "ports": [{"port": 80, "protocol": "TCP"}]},
      {"hostname": "elb.example.net"}]}}})"));
  EXPECT_EQ(serviceAddresses(svc), json::parse(R"([{"ip":"203.0.113.5"},
      {"hostname":"elb.example.net"},{"ip":"198.51.100.1"}])"));
}

TEST(ServiceAddresses, ExternalNameAndPendingLoadBalancer) {
  EXPECT_EQ(serviceAddresses(object("Service", json::parse(
                R"({"spec":{"type":"ExternalName","externalName":"edge.example.com"}})"))),
            json::parse(R"([{"hostname":"edge.example.com"}])"));
  EXPECT_EQ(serviceAddresses(object("Service", json::parse(R"({"spec":{"type":"LoadBalancer"}})"))),
            json::array());
}

TEST(IngressStatusPatch, WrittenOnlyWhenAddressesDiffer) {
  const json addresses = json::parse(R"([{"ip":"192.0.2.10"}])");
  auto bare = object("Ingress", json::parse(R"({"spec":{}})"));
  auto patch = ingressStatusPatch(bare, addresses);
  ASSERT_TRUE(patch);
  EXPECT_EQ(*patch, json::parse(R"({"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.10"}]}}})"));

  // Same address (with ports the API may add): nothing to write.
  auto same = object("Ingress", json::parse(R"({"status":{"loadBalancer":{"ingress":[
      {"ip":"192.0.2.10","ports":[{"port":80,"protocol":"TCP"}]}]}}})"));
  EXPECT_FALSE(ingressStatusPatch(same, addresses));

  // No address any more: the field is removed (merge patch null), once.
  auto cleared = ingressStatusPatch(same, json::array());
  ASSERT_TRUE(cleared);
  EXPECT_TRUE((*cleared)["status"]["loadBalancer"]["ingress"].is_null());
  EXPECT_FALSE(ingressStatusPatch(bare, json::array()));
}

translator::ObjectStatus desired(int64_t generation, bool resolved) {
  return {"APIRoute", "shop", "web", generation,
          {{"Accepted", true, "Accepted", "the route is valid"},
           {"ResolvedRefs", resolved, resolved ? "ResolvedRefs" : "BackendNotFound", "m"},
           {"Programmed", true, "Programmed", "p"}}};
}

TEST(ApiRouteStatusPatch, ConditionsWithObservedGenerationAndTimes) {
  auto route = object("APIRoute", json::parse(R"({"metadata":{"generation":3}})"));
  auto patch = apiRouteStatusPatch(route, desired(3, false), "2026-11-26T10:00:00Z");
  ASSERT_TRUE(patch);
  const auto& status = (*patch)["status"];
  EXPECT_EQ(status["observedGeneration"], 3);
  ASSERT_EQ(status["conditions"].size(), 3u);
  EXPECT_EQ(status["conditions"][1]["type"], "ResolvedRefs");
  EXPECT_EQ(status["conditions"][1]["status"], "False");
  EXPECT_EQ(status["conditions"][1]["reason"], "BackendNotFound");
  EXPECT_EQ(status["conditions"][1]["observedGeneration"], 3);
  EXPECT_EQ(status["conditions"][1]["lastTransitionTime"], "2026-11-26T10:00:00Z");
}

TEST(ApiRouteStatusPatch, UnchangedIsNotWrittenAndUnchangedStatusKeepsItsTime) {
  auto route = object("APIRoute", json::parse(R"({"metadata":{"generation":3}})"));
  route.body["status"] = (*apiRouteStatusPatch(route, desired(3, false), "T1"))["status"];
  EXPECT_FALSE(apiRouteStatusPatch(route, desired(3, false), "T2"));

  // ResolvedRefs flips: only its time moves.
  auto patch = apiRouteStatusPatch(route, desired(3, true), "T2");
  ASSERT_TRUE(patch);
  EXPECT_EQ((*patch)["status"]["conditions"][0]["lastTransitionTime"], "T1");
  EXPECT_EQ((*patch)["status"]["conditions"][1]["lastTransitionTime"], "T2");

  // A new generation alone is a change (observedGeneration must follow).
  auto bumped = apiRouteStatusPatch(route, desired(4, false), "T3");
  ASSERT_TRUE(bumped);
  EXPECT_EQ((*bumped)["status"]["observedGeneration"], 4);
  EXPECT_EQ((*bumped)["status"]["conditions"][2]["lastTransitionTime"], "T1");
}

TEST(ApiRouteStatusPatch, ForeignOrMalformedStatusIsReplaced) {
  auto route = object("APIRoute", json::parse(R"({"status":{"conditions":"nonsense"}})"));
  EXPECT_TRUE(apiRouteStatusPatch(route, desired(1, true), "T"));
  route.body["status"] = json::parse(R"({"observedGeneration":1,"conditions":[{"type":"Other"}]})");
  EXPECT_TRUE(apiRouteStatusPatch(route, desired(1, true), "T"));
}

TEST(Times, Rfc3339AndMicroTime) {
  EXPECT_EQ(rfc3339Now().size(), 20u);
  EXPECT_EQ(rfc3339Now().back(), 'Z');
  EXPECT_EQ(microTimeNow().size(), 27u);
  EXPECT_EQ(microTimeNow()[19], '.');
}

}  // namespace
}  // namespace atrium::controller::k8s
