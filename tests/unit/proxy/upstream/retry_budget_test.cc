#include "proxy/upstream/retry_budget.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace atrium::proxy::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using TimePoint = RetryBudget::TimePoint;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(1000);

TEST(RetryBudgetTest, AllowsTheMinimumPerSecondWithoutTraffic) {
  RetryBudget b;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.tryRetry(kT0 + milliseconds(i))) << i;
  EXPECT_FALSE(b.tryRetry(kT0 + milliseconds(10)));
  EXPECT_FALSE(b.tryRetry(kT0 + milliseconds(999)));
  // The next second brings three more.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.tryRetry(kT0 + seconds(1))) << i;
  EXPECT_FALSE(b.tryRetry(kT0 + seconds(1)));
  EXPECT_EQ(b.retriesInWindow(kT0 + seconds(1)), 6u);
}

TEST(RetryBudgetTest, LowTrafficStillGetsTheMinimum) {
  RetryBudget b;
  b.onRequest(kT0);
  b.onRequest(kT0);
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += b.tryRetry(kT0) ? 1 : 0;
  EXPECT_EQ(allowed, 3);
}

TEST(RetryBudgetTest, RatioAllowsTwentyPercentOfTheWindow) {
  RetryBudget b({.ratio = 0.2, .min_retries_per_second = 0, .window_seconds = 10});
  for (int i = 0; i < 100; ++i) b.onRequest(kT0 + milliseconds(i));
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += b.tryRetry(kT0 + milliseconds(500)) ? 1 : 0;
  EXPECT_EQ(allowed, 20);
  // Still inside the window: nothing more.
  EXPECT_FALSE(b.tryRetry(kT0 + seconds(9)));
  // The requests leave the window 10 s later: so does the allowance.
  EXPECT_EQ(b.requestsInWindow(kT0 + seconds(9)), 100u);
  EXPECT_EQ(b.requestsInWindow(kT0 + seconds(10)), 0u);
  EXPECT_EQ(b.retriesInWindow(kT0 + seconds(10)), 0u);
  EXPECT_FALSE(b.tryRetry(kT0 + seconds(10)));
}

TEST(RetryBudgetTest, SteadyLoadWhereEveryRequestFailsStaysNearTwentyPercent) {
  RetryBudget b;
  // 100 requests per second for two minutes; every one fails and asks for a retry.
  uint64_t requests = 0;
  uint64_t retries = 0;
  for (int s = 0; s < 120; ++s) {
    for (int i = 0; i < 100; ++i) {
      const auto now = kT0 + seconds(s) + milliseconds(i * 10);
      b.onRequest(now);
      const bool allowed = b.tryRetry(now);
      if (s >= 10) {  // after the first window
        ++requests;
        retries += allowed ? 1 : 0;
      }
      // At no moment do retries exceed 20% of the window plus one second's minimum.
      ASSERT_LE(b.retriesInWindow(now), 0.2 * b.requestsInWindow(now) + 3) << s << " " << i;
    }
  }
  const double share = static_cast<double>(retries) / static_cast<double>(requests);
  EXPECT_GT(share, 0.19);
  EXPECT_LE(share, 0.21);
}

TEST(RetryBudgetTest, ConcurrentCountsAreExact) {
  RetryBudget b;
  constexpr int kThreads = 8;
  constexpr int kRequests = 10'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        // Spread over three seconds so buckets roll over while others count.
        b.onRequest(kT0 + milliseconds((i * 3000 / kRequests + t) % 3000));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(b.requestsInWindow(kT0 + seconds(2)), uint64_t{kThreads} * kRequests);
}

TEST(RetryBudgetTest, ConcurrentRetriesStayWithinTheBudgetPlusOnePerThread) {
  RetryBudget b({.ratio = 0.2, .min_retries_per_second = 0, .window_seconds = 10});
  for (int i = 0; i < 1000; ++i) b.onRequest(kT0);
  constexpr int kThreads = 8;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) allowed += b.tryRetry(kT0) ? 1 : 0;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GE(allowed.load(), 200);
  EXPECT_LE(allowed.load(), 200 + kThreads);
}

}  // namespace
}  // namespace atrium::proxy::upstream
