#include "proxy/upstream/load_balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "proxy/upstream/endpoint_health.h"

namespace atrium::proxy::upstream {
namespace {

std::vector<LbEndpoint> endpoints(size_t n, std::vector<uint32_t> weights = {}) {
  std::vector<LbEndpoint> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back({"10.0.0." + std::to_string(i + 1) + ":8080", weights.empty() ? 1 : weights[i]});
  }
  return out;
}

uint64_t keyHash(int k) {
  return hashKey("203.0.113." + std::to_string(k % 256) + "#" + std::to_string(k));
}

constexpr int kKeys = 100'000;

// --- hashKey and EndpointFilter ------------------------------------------------------------------

TEST(HashKeyTest, IsXxh64) {
  // Reference values of XXH64 (libxxhash).
  EXPECT_EQ(hashKey(""), 0xef46db3751d8e999ULL);
  EXPECT_EQ(hashKey("abc"), 0x44bc2cf5ad770999ULL);
  EXPECT_EQ(hashKey("Nobody inspects the spammish repetition"), 0xfbcea83c8a378bf1ULL);
  EXPECT_EQ(hashKey("Nobody inspects the spammish repetition", 20141025), 0xce06936136852706ULL);
  EXPECT_NE(hashKey("10.0.0.1"), hashKey("10.0.0.2"));
}

TEST(EndpointFilterTest, DefaultAcceptsAllAndALambdaIsCalled) {
  EndpointFilter all;
  EXPECT_TRUE(all(0));
  EXPECT_TRUE(all(99));
  auto even = [](size_t i) { return i % 2 == 0; };
  EndpointFilter f(even);
  EXPECT_TRUE(f(2));
  EXPECT_FALSE(f(3));

  HealthSet health(3);
  health[1].recordCheck(false, 1, 1);
  const TimePoint now{};
  auto usable = [&](size_t i) { return health.usable(i, now); };
  RoundRobin rr(endpoints(3));
  for (int k = 0; k < 30; ++k) EXPECT_NE(rr.pick({.usable = usable}), 1);
}

TEST(LbEndpointsTest, FromAClusterWithWeightOne) {
  config::Cluster c;
  c.endpoints = {{"10.0.0.1", 80}, {"fd00::2", 8080}};
  auto eps = lbEndpoints(c);
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(eps[0].key, "10.0.0.1:80");
  EXPECT_EQ(eps[1].key, "[fd00::2]:8080");
  EXPECT_EQ(eps[0].weight, 1u);
  EXPECT_EQ(eps[1].weight, 1u);
}

// --- RoundRobin ----------------------------------------------------------------------------------

TEST(RoundRobinTest, CyclesThroughEveryEndpointInTurn) {
  RoundRobin rr(endpoints(4));
  std::vector<int> counts(4);
  int previous = -1;
  for (int k = 0; k < 400; ++k) {
    const int i = rr.pick({});
    ASSERT_GE(i, 0);
    if (previous >= 0) {
      EXPECT_EQ(i, (previous + 1) % 4);
    }
    previous = i;
    ++counts[i];
  }
  for (int c : counts) EXPECT_EQ(c, 100);
}

TEST(RoundRobinTest, HonoursWeightsSmoothly) {
  RoundRobin rr(endpoints(3, {1, 3, 0}));
  std::vector<int> counts(3);
  int run = 0;
  int previous = -1;
  for (int k = 0; k < 400; ++k) {
    const int i = rr.pick({});
    ++counts[i];
    run = i == previous ? run + 1 : 1;
    previous = i;
    EXPECT_LE(run, 3);  // interleaved, not 3 in a row then 1
  }
  EXPECT_EQ(counts[0], 100);
  EXPECT_EQ(counts[1], 300);
  EXPECT_EQ(counts[2], 0);  // weight 0: never
}

TEST(RoundRobinTest, LargeWeightsAreReducedAndScaled) {
  RoundRobin rr(endpoints(2, {1000, 3000}));
  std::vector<int> counts(2);
  for (int k = 0; k < 400; ++k) ++counts[rr.pick({})];
  EXPECT_EQ(counts[0], 100);
  EXPECT_EQ(counts[1], 300);

  RoundRobin big(endpoints(2, {1, 1'000'000}));  // scaled to the schedule's bound
  int light = 0;
  for (int k = 0; k < 100'000; ++k) light += big.pick({}) == 0 ? 1 : 0;
  EXPECT_GE(light, 1);
  EXPECT_LE(light, 10);
}

TEST(RoundRobinTest, SkipsUnusableEndpoints) {
  RoundRobin rr(endpoints(4));
  auto usable = [](size_t i) { return i != 1; };
  std::vector<int> counts(4);
  std::mt19937_64 rng(1);
  for (int k = 0; k < 3000; ++k) ++counts[rr.pick({.roll = rng(), .usable = usable})];
  EXPECT_EQ(counts[1], 0);
  for (int i : {0, 2, 3}) EXPECT_GT(counts[i], 800) << i;

  auto none = [](size_t) { return false; };
  EXPECT_EQ(rr.pick({.usable = none}), -1);
  RoundRobin empty(endpoints(0));
  EXPECT_EQ(empty.pick({}), -1);
  RoundRobin weightless(endpoints(2, {0, 0}));
  EXPECT_EQ(weightless.pick({}), -1);
}

TEST(RoundRobinTest, EachWorkerHasItsOwnCursor) {
  RoundRobin rr(endpoints(4), /*workers=*/2, /*seed=*/0);
  // Worker 1 starts half-way round so the workers don't begin on the same endpoint.
  EXPECT_EQ(rr.pick({.worker = 0}), 0);
  EXPECT_EQ(rr.pick({.worker = 1}), 2);
  // Worker 0's picks don't move worker 1's rotation.
  for (int k = 0; k < 5; ++k) rr.pick({.worker = 0});
  EXPECT_EQ(rr.pick({.worker = 1}), 3);
  EXPECT_EQ(rr.pick({.worker = 1}), 0);
  // Seeds shift the start.
  RoundRobin seeded(endpoints(4), 1, 3);
  EXPECT_EQ(seeded.pick({}), 3);
}

TEST(RoundRobinTest, ConcurrentWorkersEachSeeAnExactRotation) {
  constexpr int kWorkers = 4;
  RoundRobin rr(endpoints(5), kWorkers);
  std::vector<std::vector<int>> counts(kWorkers, std::vector<int>(5));
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      for (int k = 0; k < 5000; ++k) ++counts[w][rr.pick({.worker = static_cast<uint32_t>(w)})];
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& c : counts) {
    for (int n : c) EXPECT_EQ(n, 1000);
  }
}

// --- LeastRequest --------------------------------------------------------------------------------

TEST(LeastRequestTest, SpreadsEvenlyWithoutLoad) {
  LeastRequest lr(endpoints(4));
  std::mt19937_64 rng(2);
  std::vector<int> counts(4);
  constexpr int kPicks = 40'000;
  for (int k = 0; k < kPicks; ++k) ++counts[lr.pick({.roll = rng()})];
  for (int c : counts) EXPECT_NEAR(c / double(kPicks), 0.25, 0.02);
}

TEST(LeastRequestTest, HonoursWeights) {
  LeastRequest lr(endpoints(3, {1, 3, 0}));
  std::mt19937_64 rng(3);
  std::vector<int> counts(3);
  constexpr int kPicks = 40'000;
  for (int k = 0; k < kPicks; ++k) ++counts[lr.pick({.roll = rng()})];
  EXPECT_NEAR(counts[0] / double(kPicks), 0.25, 0.02);
  EXPECT_NEAR(counts[1] / double(kPicks), 0.75, 0.02);
  EXPECT_EQ(counts[2], 0);
}

TEST(LeastRequestTest, AvoidsABusyEndpoint) {
  LeastRequest lr(endpoints(4));
  std::vector<LoadBalancer::ActiveRequest> held;
  for (int k = 0; k < 10; ++k) held.push_back(lr.startRequest(0));  // a slow endpoint
  EXPECT_EQ(lr.active(0), 10u);
  std::mt19937_64 rng(4);
  std::vector<int> counts(4);
  constexpr int kPicks = 40'000;
  for (int k = 0; k < kPicks; ++k) {
    const int i = lr.pick({.roll = rng()});
    auto request = lr.startRequest(i);  // ends at once
    ++counts[i];
  }
  // Endpoint 0 wins only when both draws are endpoint 0: 1/16.
  EXPECT_NEAR(counts[0] / double(kPicks), 1.0 / 16, 0.01);
  held.clear();
  EXPECT_EQ(lr.active(0), 0u);
}

TEST(LeastRequestTest, KeepsRequestsInFlightBalanced) {
  LeastRequest lr(endpoints(5));
  std::mt19937_64 rng(5);
  std::vector<LoadBalancer::ActiveRequest> held;
  for (int k = 0; k < 500; ++k) held.push_back(lr.startRequest(lr.pick({.roll = rng()})));
  uint32_t lo = UINT32_MAX;
  uint32_t hi = 0;
  for (size_t i = 0; i < 5; ++i) {
    lo = std::min(lo, lr.active(i));
    hi = std::max(hi, lr.active(i));
  }
  EXPECT_LE(hi - lo, 6u);
  // Moving a request moves its count; ending it twice is harmless.
  auto moved = std::move(held[0]);
  held[0].end();
  moved.end();
  moved.end();
  uint32_t total = 0;
  for (size_t i = 0; i < 5; ++i) total += lr.active(i);
  EXPECT_EQ(total, 499u);
}

TEST(LeastRequestTest, SkipsUnusableEndpoints) {
  LeastRequest lr(endpoints(4));
  auto usable = [](size_t i) { return i == 2; };
  std::mt19937_64 rng(6);
  for (int k = 0; k < 100; ++k) EXPECT_EQ(lr.pick({.roll = rng(), .usable = usable}), 2);
  auto none = [](size_t) { return false; };
  EXPECT_EQ(lr.pick({.roll = rng(), .usable = none}), -1);
  LeastRequest empty(endpoints(0));
  EXPECT_EQ(empty.pick({}), -1);
}

// --- ConsistentHash: Maglev and ring -------------------------------------------------------------

template <class Lb>
std::vector<double> shares(const Lb& lb) {
  std::vector<double> counts(lb.size());
  for (int k = 0; k < kKeys; ++k) counts[lb.lookup(keyHash(k))] += 1;
  for (auto& c : counts) c /= kKeys;
  return counts;
}

std::vector<double> expectedShares(const std::vector<uint32_t>& w) {
  double total = 0;
  for (auto x : w) total += x;
  std::vector<double> out;
  for (auto x : w) out.push_back(x / total);
  return out;
}

TEST(MaglevTest, TableSizeIsAPrimeOfAtLeastAHundredPerEndpoint) {
  EXPECT_EQ(Maglev(endpoints(5)).tableSize(), 65537u);
  const size_t big = Maglev(endpoints(1000)).tableSize();
  EXPECT_GE(big, 100'000u);
  for (size_t d = 2; d * d <= big; ++d) ASSERT_NE(big % d, 0u) << d;
}

TEST(MaglevTest, SpreadsKeysByWeight) {
  for (const auto& w : std::vector<std::vector<uint32_t>>{
           {1, 1, 1, 1, 1}, {1, 2, 3, 4}, {1, 1, 10}, {5, 0, 5}, std::vector<uint32_t>(10, 1)}) {
    Maglev m(endpoints(w.size(), w));
    const auto got = shares(m);
    const auto want = expectedShares(w);
    for (size_t i = 0; i < w.size(); ++i) {
      // Within 3% of the weight's share (relative).
      EXPECT_NEAR(got[i], want[i], 0.03 * want[i] + 1e-9) << i << " of " << w.size();
    }
  }
}

TEST(RingHashTest, SpreadsKeysByWeight) {
  for (const auto& w : std::vector<std::vector<uint32_t>>{
           {1, 1, 1, 1, 1}, {1, 2, 3, 4}, {1, 1, 10}, {5, 0, 5}, std::vector<uint32_t>(10, 1)}) {
    RingHash coarse(endpoints(w.size(), w));  // 160 nodes per weight unit
    RingHash fine(endpoints(w.size(), w), 2048);
    const auto got = shares(coarse);
    const auto got_fine = shares(fine);
    const auto want = expectedShares(w);
    for (size_t i = 0; i < w.size(); ++i) {
      // Coarse: within 6 points (two endpoints of 160 nodes split 45/55); more nodes per unit
      // bring it within 2.
      EXPECT_NEAR(got[i], want[i], 0.06) << i << " of " << w.size();
      EXPECT_NEAR(got_fine[i], want[i], 0.02) << i << " of " << w.size();
    }
  }
  EXPECT_EQ(RingHash(endpoints(3, {2, 4, 6})).ringSize(), 6u * 160);  // weights reduced by gcd
  EXPECT_EQ(RingHash(endpoints(3, {0, 4, 6})).ringSize(), 5u * 160);
  EXPECT_LE(RingHash(endpoints(2, {1, 1'000'000})).ringSize(), RingHash::kMaxRingSize + 1);
}

// Keys that change endpoint (compared by key, since indices shift) when `removed` leaves.
template <class Lb>
void expectMinimalRemapping(size_t n, size_t removed, double max_others_moved) {
  auto all = endpoints(n);
  auto fewer = all;
  fewer.erase(fewer.begin() + static_cast<long>(removed));
  Lb before(all);
  Lb after(fewer);
  int moved = 0;
  int on_removed = 0;
  int others_moved = 0;
  for (int k = 0; k < kKeys; ++k) {
    const uint64_t h = keyHash(k);
    const std::string& was = before.endpoint(before.lookup(h)).key;
    const std::string& now = after.endpoint(after.lookup(h)).key;
    if (was == all[removed].key) ++on_removed;
    if (was != now) {
      ++moved;
      if (was != all[removed].key) ++others_moved;
    }
  }
  EXPECT_NEAR(moved / double(kKeys), 1.0 / n, 0.03) << n;
  EXPECT_NEAR(on_removed / double(kKeys), 1.0 / n, 0.03) << n;
  EXPECT_LE(others_moved / double(kKeys), max_others_moved) << n;
}

TEST(RingHashTest, RemovingAnEndpointMovesOnlyItsKeys) {
  for (size_t n : {5, 10, 20}) expectMinimalRemapping<RingHash>(n, n / 3, 0.0);
}

TEST(MaglevTest, RemovingAnEndpointMovesAboutOneNthOfTheKeys) {
  // Maglev moves a little more than the ring: well under 1% of the other endpoints' keys.
  for (size_t n : {5, 10, 20}) expectMinimalRemapping<Maglev>(n, n / 3, 0.01);
}

TEST(MaglevTest, AddingAnEndpointTakesAboutItsShare) {
  Maglev before(endpoints(9));
  Maglev after(endpoints(10));
  int moved = 0;
  int to_new = 0;
  for (int k = 0; k < kKeys; ++k) {
    const uint64_t h = keyHash(k);
    const auto& now = after.endpoint(after.lookup(h)).key;
    if (before.endpoint(before.lookup(h)).key != now) ++moved;
    if (now == after.endpoint(9).key) ++to_new;
  }
  EXPECT_NEAR(to_new / double(kKeys), 0.1, 0.01);
  EXPECT_LE(moved / double(kKeys), 0.11);
}

template <class Lb>
void expectFallbackWhenUnusable() {
  constexpr size_t kN = 5;
  constexpr size_t kDown = 2;
  Lb lb(endpoints(kN));
  auto usable = [](size_t i) { return i != kDown; };
  std::vector<int> displaced(kN);
  int on_down = 0;
  for (int k = 0; k < 20'000; ++k) {
    const uint64_t h = keyHash(k);
    const int primary = lb.lookup(h);
    const int picked = lb.pick({.hash = h, .usable = usable});
    ASSERT_GE(picked, 0);
    ASSERT_NE(picked, static_cast<int>(kDown));
    if (primary != static_cast<int>(kDown)) {
      ASSERT_EQ(picked, primary);  // keys of usable endpoints stay where they are
    } else {
      ++on_down;
      ++displaced[picked];
      ASSERT_EQ(lb.pick({.hash = h, .usable = usable}), picked);  // and the fallback is stable
    }
  }
  ASSERT_GT(on_down, 0);
  // The down endpoint's keys spread over the others instead of landing on one neighbour.
  for (size_t i = 0; i < kN; ++i) {
    if (i == kDown) continue;
    EXPECT_GT(displaced[i] / double(on_down), 0.10) << i;
    EXPECT_LT(displaced[i] / double(on_down), 0.45) << i;
  }
  auto none = [](size_t) { return false; };
  EXPECT_EQ(lb.pick({.hash = 1, .usable = none}), -1);
  auto only_last = [](size_t i) { return i == kN - 1; };
  for (int k = 0; k < 100; ++k) {
    EXPECT_EQ(lb.pick({.hash = keyHash(k), .usable = only_last}), static_cast<int>(kN - 1));
  }
}

TEST(MaglevTest, FallsBackToAnotherUsableEndpoint) { expectFallbackWhenUnusable<Maglev>(); }
TEST(RingHashTest, FallsBackToAnotherUsableEndpoint) { expectFallbackWhenUnusable<RingHash>(); }

TEST(ConsistentHashTest, EmptyOrWeightlessClustersPickNothing) {
  EXPECT_EQ(Maglev(endpoints(0)).pick({.hash = 1}), -1);
  EXPECT_EQ(Maglev(endpoints(2, {0, 0})).pick({.hash = 1}), -1);
  EXPECT_EQ(RingHash(endpoints(0)).pick({.hash = 1}), -1);
  EXPECT_EQ(RingHash(endpoints(2, {0, 0})).pick({.hash = 1}), -1);
}

TEST(ConsistentHashTest, SameKeySameEndpointAcrossBuilds) {
  // Replicas build their own tables: they must agree.
  Maglev a(endpoints(7));
  Maglev b(endpoints(7));
  RingHash c(endpoints(7));
  RingHash d(endpoints(7));
  for (int k = 0; k < 1000; ++k) {
    EXPECT_EQ(a.pick({.hash = keyHash(k)}), b.pick({.hash = keyHash(k)}));
    EXPECT_EQ(c.pick({.hash = keyHash(k)}), d.pick({.hash = keyHash(k)}));
  }
}

TEST(MakeLoadBalancerTest, BuildsTheConfiguredKind) {
  auto rr = makeLoadBalancer(config::LoadBalancer::RoundRobin, endpoints(3), {.workers = 4});
  EXPECT_NE(dynamic_cast<RoundRobin*>(rr.get()), nullptr);
  auto lr = makeLoadBalancer(config::LoadBalancer::LeastRequest, endpoints(3));
  EXPECT_NE(dynamic_cast<LeastRequest*>(lr.get()), nullptr);
  auto ch = makeLoadBalancer(config::LoadBalancer::ConsistentHash, endpoints(3));
  EXPECT_NE(dynamic_cast<Maglev*>(ch.get()), nullptr);
  auto ring = makeLoadBalancer(config::LoadBalancer::ConsistentHash, endpoints(3),
                               {.hash_algorithm = HashAlgorithm::Ring});
  EXPECT_NE(dynamic_cast<RingHash*>(ring.get()), nullptr);
  EXPECT_EQ(ring->size(), 3u);
}

}  // namespace
}  // namespace atrium::proxy::upstream
