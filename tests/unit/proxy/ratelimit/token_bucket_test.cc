#include "proxy/ratelimit/token_bucket.h"

#include <gtest/gtest.h>

#include "proxy/ratelimit/local_buckets.h"

namespace atrium::proxy::ratelimit {
namespace {

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kT0 = 1'000 * kSecond;  // an arbitrary start on the injected clock

// Drives one bucket through takeToken with an explicit clock.
struct Bucket {
  BucketParams params;
  int64_t tat = 0;
  BucketOutcome take(int64_t now) {
    auto o = takeToken(tat, now, params);
    if (o.allowed) tat = o.new_tat_us;
    return o;
  }
};

TEST(TokenBucketTest, AFullBucketAllowsExactlyItsCapacityThenRefuses) {
  Bucket b{bucketParams(10, 60'000, 0)};  // 10 per minute
  for (int i = 0; i < 10; ++i) {
    auto o = b.take(kT0);
    ASSERT_TRUE(o.allowed) << i;
    EXPECT_EQ(o.remaining, 9 - i);
  }
  auto refused = b.take(kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.retry_after_us, 6 * kSecond);  // one token every 6 s
  EXPECT_EQ(secondsCeil(refused.retry_after_us), 6);
  EXPECT_EQ(secondsCeil(refused.reset_us), 60);  // full again a minute after the first take
}

TEST(TokenBucketTest, RefillsOneTokenPerInterval) {
  Bucket b{bucketParams(10, 60'000, 0)};
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(b.take(kT0).allowed);
  EXPECT_FALSE(b.take(kT0 + 6 * kSecond - 1).allowed);
  auto o = b.take(kT0 + 6 * kSecond);
  EXPECT_TRUE(o.allowed);
  EXPECT_EQ(o.remaining, 0);
  EXPECT_FALSE(b.take(kT0 + 6 * kSecond).allowed);
  // After a full period of silence the bucket is full again (not fuller).
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(b.take(kT0 + 200 * kSecond).allowed) << i;
  EXPECT_FALSE(b.take(kT0 + 200 * kSecond).allowed);
}

TEST(TokenBucketTest, BurstAddsToTheCapacityNotToTheRate) {
  Bucket b{bucketParams(2, 1'000, 3)};  // 2/s, burst 3 → 5 at once
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(b.take(kT0).allowed) << i;
  EXPECT_FALSE(b.take(kT0).allowed);
  // Then the steady rate: one every 500 ms.
  EXPECT_TRUE(b.take(kT0 + kSecond / 2).allowed);
  EXPECT_FALSE(b.take(kT0 + kSecond / 2).allowed);
}

TEST(TokenBucketTest, RefundGivesTheTokenBack) {
  Bucket b{bucketParams(1, 1'000, 0)};
  ASSERT_TRUE(b.take(kT0).allowed);
  b.tat = refundToken(b.tat, b.params);
  EXPECT_TRUE(b.take(kT0).allowed);
}

TEST(TokenBucketTest, HugeParametersDoNotOverflow) {
  Bucket b{bucketParams(1, 86'400'000ull * 365, 1'000'000'000)};
  EXPECT_TRUE(b.take(kT0).allowed);
  EXPECT_GT(b.params.horizonUs(), 0);
}

TEST(LocalBucketsTest, SeveralLimitsAreAllOrNothing) {
  LocalBuckets buckets;
  const BucketParams per_second = bucketParams(5, 1'000, 0);
  const BucketParams per_minute = bucketParams(3, 60'000, 0);
  std::vector<BucketRef> refs = {{"a", per_second}, {"b", per_minute}};
  for (int i = 0; i < 3; ++i) {
    auto o = buckets.take(refs, kT0);
    ASSERT_TRUE(o.allowed);
    // The tightest bucket (per minute) describes the headers.
    EXPECT_EQ(o.limit, 3);
    EXPECT_EQ(o.remaining, 2 - i);
  }
  auto refused = buckets.take(refs, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(secondsCeil(refused.retry_after_us), 20);
  // The refused request did not use up the per-second bucket: 2 tokens remain there.
  std::vector<BucketRef> only_a = {{"a", per_second}};
  auto a = buckets.take(only_a, kT0);
  EXPECT_TRUE(a.allowed);
  EXPECT_EQ(a.remaining, 1);
}

TEST(LocalBucketsTest, KeysAreIndependentAndFullBucketsAreSweptAway) {
  LocalBuckets buckets;
  const BucketParams p = bucketParams(1, 1'000, 0);
  for (int i = 0; i < 100; ++i) {
    std::string key = "ip:10.0.0." + std::to_string(i);
    std::vector<BucketRef> refs = {{key, p}};
    ASSERT_TRUE(buckets.take(refs, kT0).allowed);
    ASSERT_FALSE(buckets.take(refs, kT0).allowed);
  }
  EXPECT_EQ(buckets.size(), 100u);
}

}  // namespace
}  // namespace atrium::proxy::ratelimit
