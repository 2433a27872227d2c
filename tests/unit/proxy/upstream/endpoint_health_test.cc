#include "proxy/upstream/endpoint_health.h"

#include <gtest/gtest.h>

namespace atrium::proxy::upstream {
namespace {

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1000);

TEST(EndpointHealthTest, StartsHealthyAndUsable) {
  EndpointHealth h;
  EXPECT_TRUE(h.healthy());
  EXPECT_FALSE(h.ejected(kT0));
  EXPECT_TRUE(h.usable(kT0));
  EXPECT_EQ(h.ejectedUntil(), TimePoint{});
  EXPECT_EQ(h.timesEjected(), 0u);
}

TEST(EndpointHealthTest, UnhealthyAfterThresholdConsecutiveFailedChecks) {
  EndpointHealth h;
  EXPECT_FALSE(h.recordCheck(false, 3, 2));
  EXPECT_FALSE(h.recordCheck(false, 3, 2));
  EXPECT_FALSE(h.recordCheck(true, 3, 2));  // a pass breaks the run
  EXPECT_FALSE(h.recordCheck(false, 3, 2));
  EXPECT_FALSE(h.recordCheck(false, 3, 2));
  EXPECT_TRUE(h.healthy());
  EXPECT_TRUE(h.recordCheck(false, 3, 2));  // third in a row: the verdict changes
  EXPECT_FALSE(h.healthy());
  EXPECT_FALSE(h.usable(kT0));
  EXPECT_FALSE(h.recordCheck(false, 3, 2));  // already unhealthy: no change
}

TEST(EndpointHealthTest, HealthyAgainAfterThresholdConsecutivePasses) {
  EndpointHealth h;
  for (int i = 0; i < 3; ++i) h.recordCheck(false, 3, 2);
  ASSERT_FALSE(h.healthy());
  EXPECT_FALSE(h.recordCheck(true, 3, 2));
  EXPECT_FALSE(h.recordCheck(false, 3, 2));  // a failure breaks the run
  EXPECT_FALSE(h.recordCheck(true, 3, 2));
  EXPECT_FALSE(h.healthy());
  EXPECT_TRUE(h.recordCheck(true, 3, 2));
  EXPECT_TRUE(h.healthy());
  EXPECT_TRUE(h.usable(kT0));
}

TEST(EndpointHealthTest, ThresholdsOfZeroActAsOneAndConfigOverloadUsesTheSpec) {
  EndpointHealth h;
  EXPECT_TRUE(h.recordCheck(false, 0, 0));
  EXPECT_TRUE(h.recordCheck(true, 0, 0));

  config::HealthCheck hc;  // defaults: unhealthy after 3, healthy after 2
  EndpointHealth g;
  EXPECT_FALSE(g.recordCheck(false, hc));
  EXPECT_FALSE(g.recordCheck(false, hc));
  EXPECT_TRUE(g.recordCheck(false, hc));
  EXPECT_FALSE(g.recordCheck(true, hc));
  EXPECT_TRUE(g.recordCheck(true, hc));
}

TEST(EndpointHealthTest, ClassifiesCheckResponses) {
  for (int s : {200, 204, 299, 301, 302, 304, 399}) EXPECT_TRUE(healthCheckPassed(s)) << s;
  for (int s : {0, 100, 199, 400, 404, 429, 500, 502, 503}) EXPECT_FALSE(healthCheckPassed(s)) << s;
}

TEST(EndpointHealthTest, GatewayFailures) {
  EXPECT_TRUE(AttemptOutcome::connectFailure().gatewayFailure());
  EXPECT_TRUE(AttemptOutcome::reset().gatewayFailure());
  EXPECT_TRUE(AttemptOutcome::timeout().gatewayFailure());
  for (int s : {502, 503, 504}) EXPECT_TRUE(AttemptOutcome::response(s).gatewayFailure()) << s;
  for (int s : {200, 404, 500, 501, 505}) {
    EXPECT_FALSE(AttemptOutcome::response(s).gatewayFailure()) << s;
  }
}

TEST(HealthSetTest, UsableCountsAndBoundsCheck) {
  HealthSet set(3);
  EXPECT_EQ(set.size(), 3u);
  EXPECT_EQ(set.usableCount(kT0), 3u);
  set[1].recordCheck(false, 1, 1);
  EXPECT_FALSE(set.usable(1, kT0));
  EXPECT_TRUE(set.usable(2, kT0));
  EXPECT_FALSE(set.usable(3, kT0));  // no such endpoint
  EXPECT_EQ(set.usableCount(kT0), 2u);
  EXPECT_EQ(set.ejectedCount(kT0), 0u);
}

TEST(HealthSetTest, InheritsStateByKeyAcrossSnapshots) {
  HealthSet old_set({"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"});
  old_set[0].recordCheck(false, 1, 1);  // 10.0.0.1 unhealthy
  old_set[2].recordCheck(false, 3, 2);  // 10.0.0.3 one failure into a run
  // The new snapshot reorders, drops 10.0.0.2 and adds 10.0.0.4.
  HealthSet new_set({"10.0.0.3:80", "10.0.0.4:80", "10.0.0.1:80"});
  new_set.inheritFrom(old_set);
  EXPECT_FALSE(new_set[2].healthy());
  EXPECT_TRUE(new_set[1].healthy());
  EXPECT_TRUE(new_set[0].healthy());
  EXPECT_FALSE(new_set[0].recordCheck(false, 3, 2));
  EXPECT_TRUE(new_set[0].recordCheck(false, 3, 2));  // the run continued across the reload
}

TEST(HealthSetTest, EndpointKeysBracketIpv6) {
  config::Cluster c;
  c.endpoints = {{"10.0.0.1", 8080}, {"fd00::1", 80}, {"api.example.com", 443}};
  auto keys = endpointKeys(c);
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[0], "10.0.0.1:8080");
  EXPECT_EQ(keys[1], "[fd00::1]:80");
  EXPECT_EQ(keys[2], "api.example.com:443");
}

}  // namespace
}  // namespace atrium::proxy::upstream
