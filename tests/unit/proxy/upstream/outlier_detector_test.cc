#include "proxy/upstream/outlier_detector.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace atrium::proxy::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1000);

// `n` gateway failures of endpoint `i` at `now`; true when the last one ejected it.
bool fail(OutlierDetector& d, size_t i, int n, TimePoint now) {
  bool ejected = false;
  for (int k = 0; k < n; ++k) ejected = d.onOutcome(i, AttemptOutcome::reset(), now);
  return ejected;
}

TEST(OutlierDetectorTest, EjectsAfterThresholdConsecutiveGatewayFailures) {
  HealthSet set(4);
  OutlierDetector d(set);
  EXPECT_FALSE(fail(d, 0, 4, kT0));
  EXPECT_TRUE(set.usable(0, kT0));
  EXPECT_EQ(set[0].consecutiveFailures(), 4u);
  EXPECT_TRUE(d.onOutcome(0, AttemptOutcome::timeout(), kT0));
  EXPECT_TRUE(set[0].ejected(kT0));
  EXPECT_FALSE(set.usable(0, kT0));
  EXPECT_EQ(set[0].ejectedUntil(), kT0 + seconds(30));
  EXPECT_EQ(set[0].timesEjected(), 1u);
  EXPECT_TRUE(set.usable(1, kT0));
}

TEST(OutlierDetectorTest, EveryGatewayFailureKindCountsAndOtherAnswersReset) {
  HealthSet set(4);
  OutlierDetector d(set);
  d.onOutcome(0, AttemptOutcome::connectFailure(), kT0);
  d.onOutcome(0, AttemptOutcome::reset(), kT0);
  d.onOutcome(0, AttemptOutcome::timeout(), kT0);
  d.onOutcome(0, AttemptOutcome::response(502), kT0);
  EXPECT_EQ(set[0].consecutiveFailures(), 4u);
  d.onOutcome(0, AttemptOutcome::response(500), kT0);  // answered: alive
  EXPECT_EQ(set[0].consecutiveFailures(), 0u);
  d.onOutcome(0, AttemptOutcome::response(503), kT0);
  d.onOutcome(0, AttemptOutcome::response(504), kT0);
  d.onOutcome(0, AttemptOutcome::response(404), kT0);
  EXPECT_EQ(set[0].consecutiveFailures(), 0u);
  EXPECT_FALSE(fail(d, 0, 4, kT0));
  d.onOutcome(0, AttemptOutcome::response(200), kT0);
  EXPECT_FALSE(fail(d, 0, 4, kT0));
  EXPECT_FALSE(set[0].ejected(kT0));
}

TEST(OutlierDetectorTest, EjectedEndpointComesBackByItself) {
  HealthSet set(2);
  OutlierDetector d(set);
  ASSERT_TRUE(fail(d, 1, 5, kT0));
  EXPECT_FALSE(set.usable(1, kT0 + seconds(30) - milliseconds(1)));
  EXPECT_TRUE(set.usable(1, kT0 + seconds(30)));
  EXPECT_EQ(set.ejectedCount(kT0 + seconds(30)), 0u);
}

TEST(OutlierDetectorTest, OutcomesWhileEjectedAreIgnored) {
  HealthSet set(2);
  OutlierDetector d(set);
  ASSERT_TRUE(fail(d, 0, 5, kT0));
  EXPECT_FALSE(fail(d, 0, 10, kT0 + seconds(1)));  // requests that were in flight
  EXPECT_EQ(set[0].consecutiveFailures(), 0u);
  const auto back = kT0 + seconds(30);
  EXPECT_FALSE(fail(d, 0, 4, back));  // a fresh run is needed
  EXPECT_TRUE(fail(d, 0, 1, back));
}

TEST(OutlierDetectorTest, EjectionTimeGrowsWithEachEjectionUpToTheCap) {
  HealthSet set(2);
  OutlierDetector d(set);
  auto t = kT0;
  for (int n = 1; n <= 12; ++n) {
    ASSERT_TRUE(fail(d, 0, 5, t)) << n;
    const auto expected = seconds(std::min(30 * n, 300));
    EXPECT_EQ(set[0].ejectedUntil() - t, expected) << n;
    EXPECT_EQ(set[0].timesEjected(), static_cast<uint32_t>(n));
    t = set[0].ejectedUntil();  // fails again the moment it is back
  }
}

TEST(OutlierDetectorTest, TimeBackInRotationForgivesPastEjections) {
  HealthSet set(2);
  OutlierDetector d(set);
  ASSERT_TRUE(fail(d, 0, 5, kT0));                // 30 s
  ASSERT_TRUE(fail(d, 0, 5, kT0 + seconds(30)));  // 60 s, until 90 s
  ASSERT_TRUE(fail(d, 0, 5, kT0 + seconds(90)));  // 90 s, until 180 s
  EXPECT_EQ(set[0].timesEjected(), 3u);
  // 65 s healthy (two full base periods): 3 - 2 + 1 = 2 → 60 s.
  const auto t = kT0 + seconds(180 + 65);
  ASSERT_TRUE(fail(d, 0, 5, t));
  EXPECT_EQ(set[0].ejectedUntil() - t, seconds(60));
  // A long healthy stretch starts over at the base.
  const auto later = set[0].ejectedUntil() + std::chrono::hours(1);
  ASSERT_TRUE(fail(d, 0, 5, later));
  EXPECT_EQ(set[0].ejectedUntil() - later, seconds(30));
}

TEST(OutlierDetectorTest, NeverEjectsMoreThanMaxEjectionPercent) {
  HealthSet set(4);
  OutlierDetector d(set);  // 50%: two of four
  ASSERT_TRUE(fail(d, 0, 5, kT0));
  ASSERT_TRUE(fail(d, 1, 5, kT0 + seconds(10)));
  EXPECT_FALSE(fail(d, 2, 5, kT0 + seconds(10)));
  EXPECT_FALSE(fail(d, 2, 20, kT0 + seconds(10)));
  EXPECT_EQ(set.ejectedCount(kT0 + seconds(10)), 2u);
  EXPECT_TRUE(set.usable(2, kT0 + seconds(10)));
  // Endpoint 0 comes back at 30 s: the next failure of endpoint 2 ejects it.
  EXPECT_TRUE(fail(d, 2, 1, kT0 + seconds(30)));
  EXPECT_EQ(set.ejectedCount(kT0 + seconds(30)), 2u);
}

TEST(OutlierDetectorTest, PercentRoundsDownSoALoneEndpointStays) {
  {
    HealthSet set(1);
    OutlierDetector d(set);
    EXPECT_FALSE(fail(d, 0, 50, kT0));
    EXPECT_TRUE(set.usable(0, kT0));
  }
  {
    HealthSet set(3);
    OutlierDetector d(set);  // 50% of 3: one
    EXPECT_TRUE(fail(d, 0, 5, kT0));
    EXPECT_FALSE(fail(d, 1, 5, kT0));
  }
  {
    HealthSet set(3);
    OutlierDetector d(set, {.max_ejection_percent = 100});
    EXPECT_TRUE(fail(d, 0, 5, kT0));
    EXPECT_TRUE(fail(d, 1, 5, kT0));
    EXPECT_TRUE(fail(d, 2, 5, kT0));
  }
}

TEST(OutlierDetectorTest, ConfigurableThresholdAndZeroDisables) {
  HealthSet set(4);
  OutlierDetector d(set, {.consecutive_failures = 2, .base_ejection = seconds(10)});
  EXPECT_FALSE(fail(d, 0, 1, kT0));
  EXPECT_TRUE(fail(d, 0, 1, kT0));
  EXPECT_EQ(set[0].ejectedUntil(), kT0 + seconds(10));
  OutlierDetector never(set, {.consecutive_failures = 0});
  EXPECT_FALSE(fail(never, 1, 100, kT0));
}

TEST(OutlierDetectorTest, UsableCombinesActiveAndPassiveHealth) {
  HealthSet set(4);
  OutlierDetector d(set);
  set[0].recordCheck(false, 1, 1);  // actively unhealthy
  ASSERT_TRUE(fail(d, 1, 5, kT0));  // passively ejected
  EXPECT_FALSE(set.usable(0, kT0));
  EXPECT_FALSE(set.usable(1, kT0));
  EXPECT_TRUE(set.usable(2, kT0));
  EXPECT_EQ(set.usableCount(kT0), 2u);
  EXPECT_EQ(set.usableCount(kT0 + seconds(30)), 3u);
}

TEST(OutlierDetectorTest, ConcurrentFailuresNeverPassMaxEjectionPercent) {
  constexpr int kEndpoints = 8;
  HealthSet set(kEndpoints);
  OutlierDetector d(set);
  std::vector<std::thread> threads;
  for (int i = 0; i < kEndpoints; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 2000; ++k) d.onOutcome(i, AttemptOutcome::reset(), kT0);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(set.ejectedCount(kT0), 4u);
}

}  // namespace
}  // namespace atrium::proxy::upstream
