#include "proxy/upstream/circuit_breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

namespace atrium::proxy::upstream {
namespace {

using std::chrono::milliseconds;
using State = CircuitBreaker::State;
using Reason = CircuitBreaker::Reason;

const CircuitBreaker::TimePoint kT0 = CircuitBreaker::TimePoint{} + std::chrono::hours(1000);

config::CircuitBreaker breakerConfig(uint32_t failures, uint32_t open_for_ms,
                                     uint32_t max_connections = 0, uint32_t max_pending = 0) {
  config::CircuitBreaker c;
  c.consecutive_failures = failures;
  c.open_for_ms = open_for_ms;
  c.max_connections = max_connections;
  c.max_pending_requests = max_pending;
  return c;
}

// One admitted try that ends with `success` at `now`.
void tryOnce(CircuitBreaker& b, bool success, CircuitBreaker::TimePoint now) {
  auto a = b.admit(now);
  ASSERT_TRUE(a.allowed());
  a.record(success, now);
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresAndRejectsWhileOpen) {
  CircuitBreaker b(breakerConfig(3, 1000));
  EXPECT_EQ(b.state(), State::Closed);
  tryOnce(b, false, kT0);
  tryOnce(b, false, kT0);
  EXPECT_EQ(b.state(), State::Closed);
  EXPECT_EQ(b.consecutiveFailures(), 2u);
  tryOnce(b, false, kT0);
  EXPECT_EQ(b.state(), State::Open);
  EXPECT_EQ(static_cast<int>(b.state()), 1);  // the metric's value

  auto rejected = b.admit(kT0 + milliseconds(999));
  EXPECT_FALSE(rejected);
  EXPECT_EQ(rejected.reason(), Reason::Open);
  EXPECT_EQ(b.active(), 0u);  // a rejection holds no slot
}

TEST(CircuitBreakerTest, ASuccessResetsTheFailureCount) {
  CircuitBreaker b(breakerConfig(3, 1000));
  tryOnce(b, false, kT0);
  tryOnce(b, false, kT0);
  tryOnce(b, true, kT0);
  EXPECT_EQ(b.consecutiveFailures(), 0u);
  tryOnce(b, false, kT0);
  tryOnce(b, false, kT0);
  EXPECT_EQ(b.state(), State::Closed);
  tryOnce(b, false, kT0);
  EXPECT_EQ(b.state(), State::Open);
}

TEST(CircuitBreakerTest, HalfOpenLetsExactlyOneProbeThrough) {
  CircuitBreaker b(breakerConfig(1, 1000));
  tryOnce(b, false, kT0);
  ASSERT_EQ(b.state(), State::Open);

  auto probe = b.admit(kT0 + milliseconds(1000));
  ASSERT_TRUE(probe);
  EXPECT_TRUE(probe.probe());
  EXPECT_EQ(b.state(), State::HalfOpen);
  EXPECT_EQ(static_cast<int>(b.state()), 2);
  for (int i = 0; i < 3; ++i) {
    auto other = b.admit(kT0 + milliseconds(1001 + i));
    EXPECT_FALSE(other);
    EXPECT_EQ(other.reason(), Reason::HalfOpenBusy);
  }
}

TEST(CircuitBreakerTest, ProbeSuccessClosesTheCircuit) {
  CircuitBreaker b(breakerConfig(2, 1000));
  tryOnce(b, false, kT0);
  tryOnce(b, false, kT0);
  auto probe = b.admit(kT0 + milliseconds(1500));
  ASSERT_TRUE(probe.probe());
  probe.record(true, kT0 + milliseconds(1600));
  EXPECT_EQ(b.state(), State::Closed);
  EXPECT_EQ(b.consecutiveFailures(), 0u);
  auto next = b.admit(kT0 + milliseconds(1600));
  EXPECT_TRUE(next);
  EXPECT_FALSE(next.probe());
  // Back to needing the full run of failures.
  next.record(false, kT0 + milliseconds(1600));
  EXPECT_EQ(b.state(), State::Closed);
}

TEST(CircuitBreakerTest, ProbeFailureReopensForTheSameOpenFor) {
  CircuitBreaker b(breakerConfig(1, 1000));
  tryOnce(b, false, kT0);
  const auto t1 = kT0 + milliseconds(5000);
  {
    auto probe = b.admit(t1);
    ASSERT_TRUE(probe.probe());
    probe.record(false, t1);
  }
  EXPECT_EQ(b.state(), State::Open);
  EXPECT_EQ(b.admit(t1 + milliseconds(999)).reason(), Reason::Open);
  auto second = b.admit(t1 + milliseconds(1000));  // open_for does not grow
  EXPECT_TRUE(second.probe());
}

TEST(CircuitBreakerTest, AnAbandonedProbeLetsTheNextAdmitProbe) {
  CircuitBreaker b(breakerConfig(1, 1000));
  tryOnce(b, false, kT0);
  {
    auto probe = b.admit(kT0 + milliseconds(1000));
    ASSERT_TRUE(probe.probe());
  }  // the client went away: no result
  EXPECT_EQ(b.state(), State::Open);
  auto next = b.admit(kT0 + milliseconds(1001));
  EXPECT_TRUE(next.probe());
}

TEST(CircuitBreakerTest, ResultsOfEarlierRequestsAreIgnoredOnceOpen) {
  CircuitBreaker b(breakerConfig(1, 1000));
  auto straggler1 = b.admit(kT0);
  auto straggler2 = b.admit(kT0);
  tryOnce(b, false, kT0);
  ASSERT_EQ(b.state(), State::Open);
  straggler1.record(true, kT0 + milliseconds(10));
  EXPECT_EQ(b.state(), State::Open);  // a late success does not close it

  auto probe = b.admit(kT0 + milliseconds(1000));
  ASSERT_TRUE(probe.probe());
  straggler2.record(true, kT0 + milliseconds(1001));
  EXPECT_EQ(b.state(), State::HalfOpen);  // only the probe decides
  probe.record(true, kT0 + milliseconds(1002));
  EXPECT_EQ(b.state(), State::Closed);
}

TEST(CircuitBreakerTest, ZeroConsecutiveFailuresNeverOpens) {
  CircuitBreaker b(breakerConfig(0, 1000));
  for (int i = 0; i < 100; ++i) tryOnce(b, false, kT0);
  EXPECT_EQ(b.state(), State::Closed);
}

TEST(CircuitBreakerTest, RecordCountsOnce) {
  CircuitBreaker b(breakerConfig(2, 1000));
  auto a = b.admit(kT0);
  a.record(false, kT0);
  a.record(false, kT0);
  EXPECT_EQ(b.consecutiveFailures(), 1u);
  EXPECT_EQ(b.state(), State::Closed);
}

TEST(CircuitBreakerTest, MaxConnectionsOverflows) {
  CircuitBreaker b(breakerConfig(5, 1000, /*max_connections=*/2));
  auto a1 = b.admit(kT0);
  auto a2 = b.admit(kT0);
  ASSERT_TRUE(a1);
  ASSERT_TRUE(a2);
  EXPECT_EQ(b.active(), 2u);
  auto a3 = b.admit(kT0);
  EXPECT_FALSE(a3);
  EXPECT_EQ(a3.reason(), Reason::Overflow);
  EXPECT_EQ(b.active(), 2u);

  a1.record(true, kT0);  // a result alone keeps the slot …
  EXPECT_EQ(b.active(), 2u);
  a1.release();  // … until the try is over
  EXPECT_EQ(b.active(), 1u);
  auto a4 = b.admit(kT0);
  EXPECT_TRUE(a4);
  // Moving an admission moves the slot, it does not duplicate or drop it.
  auto moved = std::move(a4);
  EXPECT_EQ(b.active(), 2u);
  a2 = std::move(moved);  // a2's old slot is given back
  EXPECT_EQ(b.active(), 1u);
  EXPECT_EQ(b.state(), State::Closed);  // overflow is not a failure
}

TEST(CircuitBreakerTest, MaxPendingRequestsBoundsTheTicketsWaitingForAConnection) {
  CircuitBreaker b(breakerConfig(5, 1000, 0, /*max_pending=*/1));
  auto t1 = b.queueForConnection();
  EXPECT_TRUE(t1);
  EXPECT_EQ(b.pending(), 1u);
  auto t2 = b.queueForConnection();
  EXPECT_FALSE(t2);
  EXPECT_EQ(b.pending(), 1u);
  t1.release();
  EXPECT_EQ(b.pending(), 0u);
  auto t3 = b.queueForConnection();
  EXPECT_TRUE(t3);

  EXPECT_STREQ(CircuitBreaker::reasonName(Reason::PendingOverflow), "pending_overflow");
  EXPECT_STREQ(CircuitBreaker::reasonName(Reason::Open), "open");
  EXPECT_STREQ(CircuitBreaker::reasonName(Reason::HalfOpenBusy), "half_open_busy");
  EXPECT_STREQ(CircuitBreaker::reasonName(Reason::Overflow), "overflow");

  CircuitBreaker unlimited(breakerConfig(5, 1000));
  std::vector<CircuitBreaker::PendingTicket> tickets;
  for (int i = 0; i < 100; ++i) tickets.push_back(unlimited.queueForConnection());
  for (auto& t : tickets) EXPECT_TRUE(t);
  EXPECT_EQ(unlimited.pending(), 100u);
  tickets.clear();
  EXPECT_EQ(unlimited.pending(), 0u);
}

TEST(CircuitBreakerTest, ConcurrentAdmitsNeverExceedMaxConnections) {
  constexpr uint32_t kMax = 5;
  constexpr int kThreads = 8;
  constexpr int kIterations = 20'000;
  CircuitBreaker b(breakerConfig(0, 1000, kMax));
  std::atomic<int> in_flight{0};
  std::atomic<int> peak{0};
  std::atomic<int> allowed{0};
  std::atomic<int> overflow{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIterations; ++i) {
        auto a = b.admit(kT0);
        if (!a) {
          EXPECT_EQ(a.reason(), Reason::Overflow);
          overflow.fetch_add(1);
          continue;
        }
        allowed.fetch_add(1);
        const int now = in_flight.fetch_add(1) + 1;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        in_flight.fetch_sub(1);
        a.record(true, kT0);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load() + overflow.load(), kThreads * kIterations);
  EXPECT_LE(peak.load(), static_cast<int>(kMax));
  EXPECT_GT(allowed.load(), 0);
  EXPECT_EQ(b.active(), 0u);
}

TEST(CircuitBreakerTest, ConcurrentAdmitsInHalfOpenSendExactlyOneProbe) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 50;
  CircuitBreaker b(breakerConfig(1, 1000));
  tryOnce(b, false, kT0);
  auto t = kT0;
  for (int round = 0; round < kRounds; ++round) {
    t += milliseconds(1000);  // the open period is over: everyone races for the probe
    std::vector<std::optional<CircuitBreaker::Admission>> results(kThreads);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int k = 0; k < kThreads; ++k) {
      threads.emplace_back([&, k] {
        while (!go.load()) {
        }
        results[k].emplace(b.admit(t));
      });
    }
    go.store(true);
    for (auto& th : threads) th.join();
    int probes = 0;
    int busy = 0;
    CircuitBreaker::Admission* probe = nullptr;
    for (auto& r : results) {
      if (r->probe()) {
        ++probes;
        probe = &*r;
      } else if (r->reason() == Reason::HalfOpenBusy) {
        ++busy;
      }
    }
    ASSERT_EQ(probes, 1) << "round " << round;
    EXPECT_EQ(busy, kThreads - 1);
    probe->record(false, t);  // fails: Open again for another open_for
    ASSERT_EQ(b.state(), State::Open);
  }
  EXPECT_EQ(b.active(), 0u);
}

TEST(CircuitBreakerTest, ConcurrentFailuresOpenItOnce) {
  constexpr int kThreads = 8;
  CircuitBreaker b(breakerConfig(100, 1000));
  std::vector<std::thread> threads;
  for (int k = 0; k < kThreads; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        auto a = b.admit(kT0);
        if (a) a.record(false, kT0);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(b.state(), State::Open);
  EXPECT_EQ(b.active(), 0u);
  auto probe = b.admit(kT0 + milliseconds(1000));
  EXPECT_TRUE(probe.probe());
}

}  // namespace
}  // namespace atrium::proxy::upstream
