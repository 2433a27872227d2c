#include "proxy/upstream/backoff.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>

namespace atrium::proxy::upstream {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(BackoffTest, CeilingDoublesUpToTenTimesTheBase) {
  const milliseconds base(25);
  EXPECT_EQ(backoffCeiling(base, 0), milliseconds(25));
  EXPECT_EQ(backoffCeiling(base, 1), milliseconds(50));
  EXPECT_EQ(backoffCeiling(base, 2), milliseconds(100));
  EXPECT_EQ(backoffCeiling(base, 3), milliseconds(200));
  EXPECT_EQ(backoffCeiling(base, 4), milliseconds(250));
  EXPECT_EQ(backoffCeiling(base, 5), milliseconds(250));
  EXPECT_EQ(backoffCeiling(base, 1000), milliseconds(250));  // no overflow
  EXPECT_EQ(backoffCeiling(base, 3, /*cap_multiplier=*/4), milliseconds(100));
  EXPECT_EQ(backoffCeiling(milliseconds(0), 3), microseconds(0));
}

TEST(BackoffTest, FullJitterStaysWithinZeroAndTheCeiling) {
  const milliseconds base(25);
  EXPECT_EQ(backoffDelay(base, 2, 0), microseconds(0));
  EXPECT_EQ(backoffDelay(base, 2, 100'000), milliseconds(100));  // the ceiling itself
  EXPECT_EQ(backoffDelay(base, 2, 100'001), microseconds(0));
  EXPECT_LE(backoffDelay(base, 2, std::numeric_limits<uint64_t>::max()), milliseconds(100));
  EXPECT_EQ(backoffDelay(milliseconds(0), 5, 12345), microseconds(0));

  std::mt19937_64 rng(7);
  for (uint32_t retry = 0; retry < 8; ++retry) {
    const auto ceiling = backoffCeiling(base, retry);
    double sum = 0;
    constexpr int kRolls = 20'000;
    for (int i = 0; i < kRolls; ++i) {
      const auto d = backoffDelay(base, retry, rng());
      ASSERT_GE(d.count(), 0);
      ASSERT_LE(d, ceiling);
      sum += static_cast<double>(d.count());
    }
    // Uniform: the mean is half the ceiling.
    EXPECT_NEAR(sum / kRolls / static_cast<double>(ceiling.count()), 0.5, 0.02) << retry;
  }
}

TEST(BackoffTest, BackoffIsDeterministicForASeedAndGrows) {
  Backoff a(milliseconds(100), 42);
  Backoff b(milliseconds(100), 42);
  Backoff c(milliseconds(100), 43);
  bool differs = false;
  for (uint32_t i = 0; i < 6; ++i) {
    const auto da = a.next();
    EXPECT_EQ(da, b.next());
    differs |= da != c.next();
    EXPECT_LE(da, backoffCeiling(milliseconds(100), i));
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(a.retries(), 6u);
}

}  // namespace
}  // namespace atrium::proxy::upstream
