#pragma once
// Load balancers over one cluster's endpoints (SPEC §3.2 policy.loadBalancer):
// - RoundRobin: a weighted, smoothly interleaved rotation; one cursor per worker.
// - LeastRequest: power of two choices — two endpoints drawn at random (by weight), the one
//   with fewer requests in flight (per unit of weight) wins.
// - ConsistentHash on a 64-bit key hash (hashKey() of the client IP, a header or a cookie):
//   Maglev (the default: O(1) lookup, even spread) or a ring of virtual nodes (RingHash: exactly
//   minimal remapping). Both honour weights.
//
// An endpoint is chosen by index (the order of the cluster's endpoints) and must pass
// PickContext::usable (healthy and not ejected, see endpoint_health.h); an unusable choice falls
// back to another usable endpoint, -1 when there is none. Endpoints of weight 0 are never chosen.
// EndpointSlices carry no weights: lbEndpoints() gives every endpoint weight 1.
//
// Threading and lifetime: a balancer is immutable once built (per snapshot, off the hot path)
// and shared by all workers; pick() is const and lock-free. The only mutable state is atomics:
// RoundRobin's cursors (one cache line per worker, so workers never contend) and LeastRequest's
// in-flight counters. The balancer must outlive its picks' ActiveRequests.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "src/config/snapshot.h"

namespace atrium::proxy::upstream {

// XXH64 of `data`: fast, well distributed, and stable across processes and replicas (no random
// seed), so that every replica sends one client to the same endpoint. An attacker choosing keys
// gains nothing over sending one key many times.
uint64_t hashKey(std::string_view data, uint64_t seed = 0);

// A non-owning reference to a predicate `bool(size_t endpoint_index)`, like function_ref: no
// allocation, one indirect call. It refers to the callable it was made from, which must outlive
// it — build the PickContext in the pick() call, or keep the lambda in a named variable.
// Default-constructed: every endpoint is usable.
class EndpointFilter {
 public:
  EndpointFilter() = default;
  template <class F,
            class = std::enable_if_t<std::is_object_v<F> && !std::is_same_v<F, EndpointFilter> &&
                                     std::is_invocable_r_v<bool, const F&, size_t>>>
  EndpointFilter(const F& f)  // NOLINT(google-explicit-constructor): a predicate stands for it
      : object_(&f),
        call_([](const void* o, size_t i) -> bool { return (*static_cast<const F*>(o))(i); }) {}

  bool operator()(size_t i) const { return call_ == nullptr || call_(object_, i); }

 private:
  const void* object_ = nullptr;
  bool (*call_)(const void*, size_t) = nullptr;
};

struct PickContext {
  uint64_t hash = 0;        // ConsistentHash: hashKey() of the key. No key (header or cookie
                            // absent): pass a random number, which picks at random by weight.
  uint64_t roll = 0;        // a fresh random number per pick (LeastRequest, fallbacks)
  uint32_t worker = 0;      // the calling worker's index (RoundRobin's cursor)
  EndpointFilter usable{};  // default: every endpoint
};

struct LbEndpoint {
  std::string key;  // "host:port": ConsistentHash places endpoints by it, not by index
  uint32_t weight = 1;
};

// The cluster's endpoints with weight 1, keyed as endpointKeys() does.
std::vector<LbEndpoint> lbEndpoints(const config::Cluster& cluster);

class LoadBalancer {
 public:
  // Marks one request in flight on an endpoint (LeastRequest counts them; others ignore it).
  // Move-only; the request ends when it is destroyed.
  class ActiveRequest {
   public:
    ActiveRequest() = default;
    ActiveRequest(ActiveRequest&& other) noexcept;
    ActiveRequest& operator=(ActiveRequest&& other) noexcept;
    ActiveRequest(const ActiveRequest&) = delete;
    ActiveRequest& operator=(const ActiveRequest&) = delete;
    ~ActiveRequest() { end(); }
    void end();

   private:
    friend class LoadBalancer;
    ActiveRequest(const LoadBalancer* lb, size_t index) : lb_(lb), index_(index) {}
    const LoadBalancer* lb_ = nullptr;
    size_t index_ = 0;
  };

  explicit LoadBalancer(std::vector<LbEndpoint> endpoints);
  virtual ~LoadBalancer() = default;
  LoadBalancer(const LoadBalancer&) = delete;
  LoadBalancer& operator=(const LoadBalancer&) = delete;

  // An endpoint index, or -1 when none is usable. Called on any worker.
  virtual int pick(const PickContext& ctx) const = 0;

  // Call once the request is sent to endpoint `index`; keep the result until it ends.
  ActiveRequest startRequest(size_t index) const;

  size_t size() const { return endpoints_.size(); }
  const LbEndpoint& endpoint(size_t i) const { return endpoints_[i]; }

 protected:
  virtual void requestStarted(size_t) const {}
  virtual void requestEnded(size_t) const {}
  // The first usable endpoint of non-zero weight at or after `start` (wrapping), or -1: the last
  // resort of every fallback, O(endpoints).
  int scanFrom(size_t start, const EndpointFilter& usable) const;

  std::vector<LbEndpoint> endpoints_;
};

class RoundRobin final : public LoadBalancer {
 public:
  // `workers`: how many cursors (one per worker; more workers share them). `seed` shifts the
  // starting points so replicas and reloads don't all begin with the first endpoint.
  explicit RoundRobin(std::vector<LbEndpoint> endpoints, uint32_t workers = 1, uint64_t seed = 0);
  // The next endpoint of the worker's rotation; when it is unusable, the first usable one from a
  // random place (so its share spreads instead of doubling its neighbour's).
  int pick(const PickContext& ctx) const override;

 private:
  struct alignas(64) Cursor {
    std::atomic<uint64_t> next{0};
  };
  // Endpoint indices, each as often as its weight (reduced by the weights' gcd, scaled to at most
  // kMaxSchedule entries), interleaved as nginx's smooth weighted round-robin does.
  static constexpr size_t kMaxSchedule = 1 << 14;
  std::vector<uint32_t> schedule_;
  uint32_t workers_;
  std::unique_ptr<Cursor[]> cursors_;
};

class LeastRequest final : public LoadBalancer {
 public:
  explicit LeastRequest(std::vector<LbEndpoint> endpoints);
  // Two candidates drawn by weight from the two halves of ctx.roll (an unusable one replaced by
  // the next usable endpoint); the one with fewer requests in flight per weight wins, the first on
  // a tie.
  int pick(const PickContext& ctx) const override;
  uint32_t active(size_t i) const { return active_[i].n.load(std::memory_order_relaxed); }

 protected:
  void requestStarted(size_t i) const override;
  void requestEnded(size_t i) const override;

 private:
  struct alignas(64) Counter {
    std::atomic<uint32_t> n{0};
  };
  int weighted(uint32_t r) const;  // an index drawn with probability weight / total

  std::vector<uint64_t> cumulative_;  // prefix sums of the weights
  std::unique_ptr<Counter[]> active_;
};

// Maglev hashing (Eisenbud et al., NSDI 2016), with Envoy's weighted table population: each
// endpoint fills the table along its own permutation, in turns proportional to its weight. The
// table size is a prime ≥ 100 × endpoints (65537 up to 655 endpoints): each endpoint's share is
// then within ~1% of its weight. When one endpoint of N leaves, ~1/N of the keys move plus a few
// percent of the others' (Maglev trades exact minimal disruption for its even spread).
class Maglev final : public LoadBalancer {
 public:
  static constexpr uint32_t kDefaultTableSize = 65537;
  explicit Maglev(std::vector<LbEndpoint> endpoints, uint32_t table_size = kDefaultTableSize);
  // The table's endpoint; when unusable, the endpoints of a few re-hashed slots (so a failed
  // endpoint's keys spread by weight and stay put while it is down), then a linear scan.
  int pick(const PickContext& ctx) const override;
  int lookup(uint64_t hash) const;  // ignoring usability; -1 when no endpoint has weight
  size_t tableSize() const { return table_.size(); }

 private:
  std::vector<uint32_t> table_;
};

// A consistent-hash ring with `vnodes_per_weight` virtual nodes per unit of weight (weights
// reduced by their gcd; at most kMaxRingSize nodes). A key belongs to the first node at or after
// its hash: when an endpoint leaves, only its own keys move. An endpoint's nodes depend on its key
// and weight only — no minimum ring size that would re-spread every endpoint when the cluster
// grows or shrinks — so the spread is coarse for small clusters: with 160 nodes per unit, an
// endpoint's share is typically within ±8% (relative) of its weight, two endpoints may split
// 45/55. That is why Maglev is the default.
class RingHash final : public LoadBalancer {
 public:
  static constexpr uint32_t kDefaultVnodes = 160;
  static constexpr size_t kMaxRingSize = 1 << 18;
  explicit RingHash(std::vector<LbEndpoint> endpoints, uint32_t vnodes_per_weight = kDefaultVnodes);
  // The key's node; when unusable, the next nodes clockwise (a bounded walk), then a linear scan.
  int pick(const PickContext& ctx) const override;
  int lookup(uint64_t hash) const;
  size_t ringSize() const { return ring_.size(); }

 private:
  struct Node {
    uint64_t hash;
    uint32_t endpoint;
  };
  size_t position(uint64_t hash) const;  // the first node at or after hash, wrapping

  std::vector<Node> ring_;
};

enum class HashAlgorithm : uint8_t { Maglev, Ring };

struct LbOptions {
  uint32_t workers = 1;
  uint64_t seed = 0;
  HashAlgorithm hash_algorithm = HashAlgorithm::Maglev;
};

std::unique_ptr<LoadBalancer> makeLoadBalancer(config::LoadBalancer kind,
                                               std::vector<LbEndpoint> endpoints,
                                               const LbOptions& options = {});

}  // namespace atrium::proxy::upstream
