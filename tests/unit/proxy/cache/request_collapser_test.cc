#include "proxy/cache/request_collapser.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace atrium::proxy::cache {
namespace {

using std::chrono::milliseconds;

const SteadyTime kT0 = SteadyTime{} + std::chrono::hours(1000);  // the injected clock's start

// What followers were told, in order.
struct Outcomes {
  std::vector<CollapseOutcome> seen;
  RequestCollapser::OnDone callback() {
    return [this](CollapseOutcome o) { seen.push_back(o); };
  }
};

TEST(RequestCollapserTest, OneLeaderAndItsFollowersAreNotified) {
  CacheCounters counters;
  RequestCollapser collapser({}, &counters);
  Outcomes outcomes;
  auto leader = collapser.join("k", outcomes.callback(), kT0);
  EXPECT_EQ(leader.role, CollapseRole::Leader);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(collapser.join("k", outcomes.callback(), kT0).role, CollapseRole::Follower);
  }
  EXPECT_EQ(collapser.join("other", outcomes.callback(), kT0).role, CollapseRole::Leader);
  EXPECT_EQ(collapser.inFlight(), 2u);
  EXPECT_TRUE(outcomes.seen.empty());

  collapser.complete("k", leader.id, CollapseOutcome::Stored);
  EXPECT_EQ(outcomes.seen, std::vector<CollapseOutcome>(5, CollapseOutcome::Stored));
  EXPECT_EQ(counters.collapsed_followers.load(), 5u);
  EXPECT_EQ(collapser.inFlight(), 1u);
  // The key is free again: the next miss leads.
  EXPECT_EQ(collapser.join("k", outcomes.callback(), kT0).role, CollapseRole::Leader);
}

TEST(RequestCollapserTest, FollowersAreBounded) {
  RequestCollapser collapser({.max_followers_per_key = 2});
  Outcomes outcomes;
  auto leader = collapser.join("k", outcomes.callback(), kT0);
  EXPECT_EQ(collapser.join("k", outcomes.callback(), kT0).role, CollapseRole::Follower);
  EXPECT_EQ(collapser.join("k", outcomes.callback(), kT0).role, CollapseRole::Follower);
  EXPECT_EQ(collapser.join("k", outcomes.callback(), kT0).role, CollapseRole::Bypass);
  collapser.complete("k", leader.id, CollapseOutcome::Stored);
  EXPECT_EQ(outcomes.seen.size(), 2u);  // the bypassing request is never called back
}

TEST(RequestCollapserTest, LeaderFailureReleasesFollowers) {
  RequestCollapser collapser;
  Outcomes outcomes;
  {
    auto ticket = collapser.join("k", outcomes.callback(), kT0);
    ASSERT_EQ(ticket.role, CollapseRole::Leader);
    LeaderGuard guard(collapser, "k", ticket.id);
    collapser.join("k", outcomes.callback(), kT0);
    collapser.join("k", outcomes.callback(), kT0);
    // The leader's request fails: the guard goes out of scope without complete().
  }
  EXPECT_EQ(outcomes.seen, std::vector<CollapseOutcome>(2, CollapseOutcome::NotStored));
  EXPECT_EQ(collapser.inFlight(), 0u);
}

TEST(RequestCollapserTest, LeaderGuardCompletesOnce) {
  RequestCollapser collapser;
  Outcomes outcomes;
  auto ticket = collapser.join("k", outcomes.callback(), kT0);
  LeaderGuard guard(collapser, "k", ticket.id);
  collapser.join("k", outcomes.callback(), kT0);
  LeaderGuard moved = std::move(guard);
  EXPECT_FALSE(guard.active());
  EXPECT_TRUE(moved.active());
  moved.complete(CollapseOutcome::Stored);
  moved.complete(CollapseOutcome::NotStored);
  EXPECT_EQ(outcomes.seen, std::vector<CollapseOutcome>{CollapseOutcome::Stored});
}

TEST(RequestCollapserTest, OnlyTheCurrentLeaderCompletes) {
  RequestCollapser collapser;
  Outcomes outcomes;
  auto leader = collapser.join("k", outcomes.callback(), kT0);
  collapser.join("k", outcomes.callback(), kT0);
  collapser.complete("k", leader.id + 1000, CollapseOutcome::Stored);
  collapser.complete("other", leader.id, CollapseOutcome::Stored);
  EXPECT_TRUE(outcomes.seen.empty());
  collapser.complete("k", leader.id, CollapseOutcome::NotStored);
  EXPECT_EQ(outcomes.seen, std::vector<CollapseOutcome>{CollapseOutcome::NotStored});
}

TEST(RequestCollapserTest, ALeaderPastItsDeadlineIsReplaced) {
  RequestCollapser collapser({.leader_deadline = milliseconds(500)});
  Outcomes outcomes;
  auto stuck = collapser.join("k", outcomes.callback(), kT0);
  EXPECT_EQ(collapser.join("k", outcomes.callback(), kT0 + milliseconds(499)).role,
            CollapseRole::Follower);
  auto next = collapser.join("k", outcomes.callback(), kT0 + milliseconds(500));
  EXPECT_EQ(next.role, CollapseRole::Leader);
  EXPECT_EQ(outcomes.seen, std::vector<CollapseOutcome>{CollapseOutcome::NotStored});

  EXPECT_EQ(collapser.join("k", outcomes.callback(), kT0 + milliseconds(600)).role,
            CollapseRole::Follower);
  collapser.complete("k", stuck.id, CollapseOutcome::Stored);  // too late: ignored
  EXPECT_EQ(outcomes.seen.size(), 1u);
  collapser.complete("k", next.id, CollapseOutcome::Stored);
  EXPECT_EQ(outcomes.seen.back(), CollapseOutcome::Stored);
  EXPECT_EQ(outcomes.seen.size(), 2u);
}

TEST(RequestCollapserTest, AbandonedFollowersAreNotCalled) {
  RequestCollapser collapser;
  Outcomes outcomes;
  auto leader = collapser.join("k", outcomes.callback(), kT0);
  auto gone = collapser.join("k", outcomes.callback(), kT0);
  auto stays = collapser.join("k", outcomes.callback(), kT0);
  ASSERT_EQ(gone.role, CollapseRole::Follower);
  ASSERT_EQ(stays.role, CollapseRole::Follower);
  EXPECT_TRUE(collapser.abandon("k", gone.id));
  EXPECT_FALSE(collapser.abandon("k", gone.id));
  collapser.complete("k", leader.id, CollapseOutcome::Stored);
  EXPECT_EQ(outcomes.seen.size(), 1u);
  EXPECT_FALSE(collapser.abandon("k", stays.id));  // already released
}

TEST(RequestCollapserTest, CallbacksRunOutsideTheLock) {
  RequestCollapser collapser;
  CollapseTicket rejoined;
  auto leader = collapser.join("k", nullptr, kT0);
  collapser.join(
      "k", [&](CollapseOutcome) { rejoined = collapser.join("k", nullptr, kT0); }, kT0);
  collapser.complete("k", leader.id, CollapseOutcome::NotStored);  // would deadlock otherwise
  EXPECT_EQ(rejoined.role, CollapseRole::Leader);
}

// A worker's executor: callbacks from other threads are posted here and run by its owner.
class Executor {
 public:
  void post(std::function<void()> f) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(f));
    cv_.notify_one();
  }
  // Runs posted work until `done()`.
  template <class Done>
  void runUntil(Done done) {
    while (!done()) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty(); });
      auto f = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      f();
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

// Worker threads miss the same keys at the same time: each round has exactly one leader, every
// follower hears the outcome exactly once, on its own thread, and no request is lost.
TEST(RequestCollapserTest, ConcurrentWorkers) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 300;
  CacheCounters counters;
  RequestCollapser collapser({.max_followers_per_key = 64}, &counters);
  std::atomic<int> leaders{0}, followers{0}, bypasses{0}, notified{0}, wrong_thread{0};

  auto worker = [&] {
    Executor executor;
    const auto me = std::this_thread::get_id();
    for (int round = 0; round < kRounds; ++round) {
      const std::string key = "key" + std::to_string(round % 7);
      bool done = false;
      auto ticket = collapser.join(
          key,
          [&executor, &done, &notified, &wrong_thread, me](CollapseOutcome) {
            executor.post([&done, &notified, &wrong_thread, me] {
              if (std::this_thread::get_id() != me) ++wrong_thread;
              ++notified;
              done = true;
            });
          },
          kT0);
      switch (ticket.role) {
        case CollapseRole::Leader: {
          ++leaders;
          LeaderGuard guard(collapser, key, ticket.id);
          std::this_thread::yield();  // the upstream request
          guard.complete(round % 2 ? CollapseOutcome::Stored : CollapseOutcome::NotStored);
          break;
        }
        case CollapseRole::Follower:
          ++followers;
          executor.runUntil([&] { return done; });
          break;
        case CollapseRole::Bypass:
          ++bypasses;
          break;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();

  EXPECT_EQ(leaders + followers + bypasses, kThreads * kRounds);
  EXPECT_EQ(notified.load(), followers.load());
  EXPECT_EQ(wrong_thread.load(), 0);
  EXPECT_EQ(bypasses.load(), 0);
  EXPECT_EQ(counters.collapsed_followers.load(), static_cast<uint64_t>(followers.load()));
  EXPECT_EQ(collapser.inFlight(), 0u);
}

}  // namespace
}  // namespace atrium::proxy::cache
