#include "proxy/upstream/load_balancer.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "proxy/upstream/endpoint_health.h"

namespace atrium::proxy::upstream {

// --- hashKey: XXH64 ------------------------------------------------------------------------------

namespace {

constexpr uint64_t kP1 = 11400714785074694791ULL;
constexpr uint64_t kP2 = 14029467366897019727ULL;
constexpr uint64_t kP3 = 1609587929392839161ULL;
constexpr uint64_t kP4 = 9650029242287828579ULL;
constexpr uint64_t kP5 = 2870177450012600261ULL;

constexpr uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

// Little-endian loads, byte by byte: the same hash on every platform (compilers emit one load).
inline uint64_t read64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t read32(const unsigned char* p) {
  return uint64_t{p[0]} | uint64_t{p[1]} << 8 | uint64_t{p[2]} << 16 | uint64_t{p[3]} << 24;
}

inline uint64_t round64(uint64_t acc, uint64_t input) {
  acc += input * kP2;
  acc = rotl(acc, 31);
  return acc * kP1;
}

inline uint64_t mergeRound(uint64_t acc, uint64_t val) {
  acc ^= round64(0, val);
  return acc * kP1 + kP4;
}

// SplitMix64's finaliser: derives independent-looking hashes from one (Maglev's fallback slots).
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

bool isPrime(uint64_t n) {
  if (n < 2) return false;
  if (n % 2 == 0) return n == 2;
  for (uint64_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) return false;
  }
  return true;
}

}  // namespace

uint64_t hashKey(std::string_view data, uint64_t seed) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t len = data.size();
  const unsigned char* const end = p + len;
  uint64_t h;
  if (len >= 32) {
    uint64_t v1 = seed + kP1 + kP2;
    uint64_t v2 = seed + kP2;
    uint64_t v3 = seed;
    uint64_t v4 = seed - kP1;
    const unsigned char* const limit = end - 32;
    do {
      v1 = round64(v1, read64(p));
      v2 = round64(v2, read64(p + 8));
      v3 = round64(v3, read64(p + 16));
      v4 = round64(v4, read64(p + 24));
      p += 32;
    } while (p <= limit);
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = mergeRound(h, v1);
    h = mergeRound(h, v2);
    h = mergeRound(h, v3);
    h = mergeRound(h, v4);
  } else {
    h = seed + kP5;
  }
  h += static_cast<uint64_t>(len);
  while (end - p >= 8) {
    h ^= round64(0, read64(p));
    h = rotl(h, 27) * kP1 + kP4;
    p += 8;
  }
  if (end - p >= 4) {
    h ^= read32(p) * kP1;
    h = rotl(h, 23) * kP2 + kP3;
    p += 4;
  }
  while (p < end) {
    h ^= (*p) * kP5;
    h = rotl(h, 11) * kP1;
    ++p;
  }
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

std::vector<LbEndpoint> lbEndpoints(const config::Cluster& cluster) {
  std::vector<LbEndpoint> out;
  for (auto& key : endpointKeys(cluster)) out.push_back({std::move(key), 1});
  return out;
}

// --- LoadBalancer --------------------------------------------------------------------------------

LoadBalancer::ActiveRequest::ActiveRequest(ActiveRequest&& other) noexcept
    : lb_(std::exchange(other.lb_, nullptr)), index_(other.index_) {}

LoadBalancer::ActiveRequest& LoadBalancer::ActiveRequest::operator=(
    ActiveRequest&& other) noexcept {
  if (this != &other) {
    end();
    lb_ = std::exchange(other.lb_, nullptr);
    index_ = other.index_;
  }
  return *this;
}

void LoadBalancer::ActiveRequest::end() {
  if (lb_ != nullptr) std::exchange(lb_, nullptr)->requestEnded(index_);
}

LoadBalancer::LoadBalancer(std::vector<LbEndpoint> endpoints) : endpoints_(std::move(endpoints)) {}

LoadBalancer::ActiveRequest LoadBalancer::startRequest(size_t index) const {
  if (index >= endpoints_.size()) return {};
  requestStarted(index);
  return ActiveRequest(this, index);
}

int LoadBalancer::scanFrom(size_t start, const EndpointFilter& usable) const {
  const size_t n = endpoints_.size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (start + k) % n;
    if (endpoints_[i].weight > 0 && usable(i)) return static_cast<int>(i);
  }
  return -1;
}

// --- RoundRobin ----------------------------------------------------------------------------------

RoundRobin::RoundRobin(std::vector<LbEndpoint> endpoints, uint32_t workers, uint64_t seed)
    : LoadBalancer(std::move(endpoints)),
      workers_(std::max<uint32_t>(workers, 1)),
      cursors_(std::make_unique<Cursor[]>(workers_)) {
  std::vector<uint64_t> w(endpoints_.size());
  uint64_t g = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = endpoints_[i].weight;
    g = std::gcd(g, w[i]);
  }
  if (g > 0) {
    uint64_t total = 0;
    for (auto& x : w) total += (x /= g);
    if (total > kMaxSchedule) {
      // Scale down; an endpoint with weight keeps at least one turn.
      uint64_t scaled = 0;
      for (auto& x : w) {
        if (x > 0) x = std::max<uint64_t>(1, x * kMaxSchedule / total);
        scaled += x;
      }
      total = scaled;
    }
    // Smooth weighted round-robin (nginx): every step each endpoint gains its weight, the
    // richest is chosen and pays the total. Heavier endpoints come more often, never in clumps.
    std::vector<int64_t> current(w.size(), 0);
    schedule_.reserve(total);
    for (uint64_t step = 0; step < total; ++step) {
      size_t best = 0;
      for (size_t i = 0; i < w.size(); ++i) {
        current[i] += static_cast<int64_t>(w[i]);
        if (current[i] > current[best]) best = i;
      }
      current[best] -= static_cast<int64_t>(total);
      schedule_.push_back(static_cast<uint32_t>(best));
    }
  }
  // Spread the workers' starting points over the rotation.
  const uint64_t len = std::max<size_t>(schedule_.size(), 1);
  for (uint32_t k = 0; k < workers_; ++k) {
    cursors_[k].next.store((seed + uint64_t{k} * len / workers_) % len, std::memory_order_relaxed);
  }
}

int RoundRobin::pick(const PickContext& ctx) const {
  if (schedule_.empty()) return -1;
  // Only the owning worker moves its cursor, so relaxed is enough (and never contended).
  const uint64_t n = cursors_[ctx.worker % workers_].next.fetch_add(1, std::memory_order_relaxed);
  const uint32_t i = schedule_[n % schedule_.size()];
  if (ctx.usable(i)) return static_cast<int>(i);
  return scanFrom(ctx.roll % endpoints_.size(), ctx.usable);
}

// --- LeastRequest --------------------------------------------------------------------------------

LeastRequest::LeastRequest(std::vector<LbEndpoint> endpoints)
    : LoadBalancer(std::move(endpoints)), active_(std::make_unique<Counter[]>(endpoints_.size())) {
  uint64_t sum = 0;
  for (const auto& e : endpoints_) cumulative_.push_back(sum += e.weight);
}

void LeastRequest::requestStarted(size_t i) const {
  active_[i].n.fetch_add(1, std::memory_order_relaxed);
}

void LeastRequest::requestEnded(size_t i) const {
  active_[i].n.fetch_sub(1, std::memory_order_relaxed);
}

int LeastRequest::weighted(uint32_t r) const {
  const uint64_t total = cumulative_.back();
  // r / 2^32 of the total weight; upper_bound skips endpoints of weight 0.
  const auto target = static_cast<uint64_t>((static_cast<unsigned __int128>(r) * total) >> 32);
  return static_cast<int>(std::upper_bound(cumulative_.begin(), cumulative_.end(), target) -
                          cumulative_.begin());
}

int LeastRequest::pick(const PickContext& ctx) const {
  if (cumulative_.empty() || cumulative_.back() == 0) return -1;
  int a = weighted(static_cast<uint32_t>(ctx.roll));
  if (!ctx.usable(a)) a = scanFrom(a + 1, ctx.usable);
  if (a < 0) return -1;
  int b = weighted(static_cast<uint32_t>(ctx.roll >> 32));
  if (!ctx.usable(b)) b = scanFrom(b + 1, ctx.usable);
  if (b < 0 || b == a) return a;
  // active_a / weight_a vs active_b / weight_b, without division.
  const uint64_t load_a = uint64_t{active(a)} * endpoints_[b].weight;
  const uint64_t load_b = uint64_t{active(b)} * endpoints_[a].weight;
  return load_b < load_a ? b : a;
}

// --- Maglev --------------------------------------------------------------------------------------

Maglev::Maglev(std::vector<LbEndpoint> endpoints, uint32_t table_size)
    : LoadBalancer(std::move(endpoints)) {
  struct Entry {
    uint32_t index;
    uint64_t weight;
    uint64_t offset;
    uint64_t skip;
    uint64_t next = 0;
    uint64_t target = 0;
  };
  std::vector<Entry> entries;
  uint64_t max_weight = 0;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (endpoints_[i].weight == 0) continue;
    entries.push_back({static_cast<uint32_t>(i), endpoints_[i].weight, 0, 0});
    max_weight = std::max<uint64_t>(max_weight, endpoints_[i].weight);
  }
  if (entries.empty()) return;

  uint64_t m = std::max<uint64_t>(table_size, 100 * entries.size());
  while (!isPrime(m)) ++m;
  for (auto& e : entries) {
    const std::string& key = endpoints_[e.index].key;
    e.offset = hashKey(key, 0) % m;
    e.skip = hashKey(key, 1) % (m - 1) + 1;  // in [1, m-1]: coprime with the prime m
    e.target = max_weight;
  }

  constexpr uint32_t kEmpty = UINT32_MAX;
  table_.assign(m, kEmpty);
  uint64_t filled = 0;
  // Each turn, an endpoint of the largest weight takes a slot; one of a third of that weight takes
  // one every third turn, and so on.
  for (uint64_t turn = 1; filled < m; ++turn) {
    for (auto& e : entries) {
      if (filled == m) break;
      if (turn * e.weight < e.target) continue;
      e.target += max_weight;
      uint64_t slot;
      do {
        slot = (e.offset + e.next * e.skip) % m;
        ++e.next;
      } while (table_[slot] != kEmpty);
      table_[slot] = e.index;
      ++filled;
    }
  }
}

int Maglev::lookup(uint64_t hash) const {
  if (table_.empty()) return -1;
  return static_cast<int>(table_[hash % table_.size()]);
}

int Maglev::pick(const PickContext& ctx) const {
  const int first = lookup(ctx.hash);
  if (first < 0) return -1;
  if (ctx.usable(first)) return first;
  constexpr uint64_t kRehashes = 8;
  for (uint64_t k = 1; k <= kRehashes; ++k) {
    const int i = lookup(mix64(ctx.hash + k * 0x9e3779b97f4a7c15ULL));
    if (ctx.usable(i)) return i;
  }
  return scanFrom(static_cast<size_t>(first) + 1, ctx.usable);
}

// --- RingHash ------------------------------------------------------------------------------------

RingHash::RingHash(std::vector<LbEndpoint> endpoints, uint32_t vnodes_per_weight)
    : LoadBalancer(std::move(endpoints)) {
  vnodes_per_weight = std::max<uint32_t>(vnodes_per_weight, 1);
  uint64_t g = 0;
  for (const auto& e : endpoints_) g = std::gcd(g, uint64_t{e.weight});
  if (g == 0) return;
  uint64_t total = 0;
  for (const auto& e : endpoints_) total += e.weight / g * vnodes_per_weight;
  // The node count of an endpoint depends on its own weight only (not on the cluster's size), so
  // an endpoint joining or leaving never moves the nodes of the others.
  const double scale = total > kMaxRingSize ? static_cast<double>(kMaxRingSize) / total : 1.0;

  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (endpoints_[i].weight == 0) continue;
    const auto nodes = std::max<uint64_t>(
        1, static_cast<uint64_t>(endpoints_[i].weight / g * vnodes_per_weight * scale));
    std::string name = endpoints_[i].key + "_";
    const size_t base = name.size();
    for (uint64_t v = 0; v < nodes; ++v) {
      name.resize(base);
      name += std::to_string(v);
      ring_.push_back({hashKey(name), static_cast<uint32_t>(i)});
    }
  }
  // Ties (practically never) broken by endpoint index so the ring is deterministic.
  std::sort(ring_.begin(), ring_.end(), [](const Node& x, const Node& y) {
    return x.hash != y.hash ? x.hash < y.hash : x.endpoint < y.endpoint;
  });
}

size_t RingHash::position(uint64_t hash) const {
  auto it = std::lower_bound(ring_.begin(), ring_.end(), hash,
                             [](const Node& node, uint64_t h) { return node.hash < h; });
  return it == ring_.end() ? 0 : static_cast<size_t>(it - ring_.begin());
}

int RingHash::lookup(uint64_t hash) const {
  if (ring_.empty()) return -1;
  return static_cast<int>(ring_[position(hash)].endpoint);
}

int RingHash::pick(const PickContext& ctx) const {
  if (ring_.empty()) return -1;
  const size_t start = position(ctx.hash);
  // Walking on spreads a down endpoint's keys over the next nodes' endpoints (by weight), and
  // stays bounded when most endpoints are down.
  const size_t walk = std::min<size_t>(ring_.size(), 256);
  for (size_t k = 0; k < walk; ++k) {
    const uint32_t i = ring_[(start + k) % ring_.size()].endpoint;
    if (ctx.usable(i)) return static_cast<int>(i);
  }
  return scanFrom(ring_[start].endpoint + 1, ctx.usable);
}

// --- factory -------------------------------------------------------------------------------------

std::unique_ptr<LoadBalancer> makeLoadBalancer(config::LoadBalancer kind,
                                               std::vector<LbEndpoint> endpoints,
                                               const LbOptions& options) {
  switch (kind) {
    case config::LoadBalancer::LeastRequest:
      return std::make_unique<LeastRequest>(std::move(endpoints));
    case config::LoadBalancer::ConsistentHash:
      if (options.hash_algorithm == HashAlgorithm::Ring) {
        return std::make_unique<RingHash>(std::move(endpoints));
      }
      return std::make_unique<Maglev>(std::move(endpoints));
    case config::LoadBalancer::RoundRobin:
      break;
  }
  return std::make_unique<RoundRobin>(std::move(endpoints), options.workers, options.seed);
}

}  // namespace atrium::proxy::upstream
