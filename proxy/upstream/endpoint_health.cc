#include "proxy/upstream/endpoint_health.h"

#include <algorithm>
#include <unordered_map>

namespace atrium::proxy::upstream {

bool EndpointHealth::recordCheck(bool passed, uint32_t unhealthy_threshold,
                                 uint32_t healthy_threshold) {
  const bool was_healthy = healthy();
  // A check that agrees with the verdict ends any run of disagreeing ones.
  if (passed == was_healthy) {
    check_streak_.store(0, std::memory_order_relaxed);
    return false;
  }
  const uint32_t needed =
      std::max<uint32_t>(was_healthy ? unhealthy_threshold : healthy_threshold, 1);
  const uint32_t streak = check_streak_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (streak < needed) return false;
  check_streak_.store(0, std::memory_order_relaxed);
  healthy_.store(!was_healthy, std::memory_order_release);
  return true;
}

TimePoint EndpointHealth::ejectedUntil() const {
  const int64_t ns = ejected_until_ns_.load(std::memory_order_acquire);
  if (ns == std::numeric_limits<int64_t>::min()) return TimePoint{};
  return TimePoint{std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(ns))};
}

void EndpointHealth::copyFrom(const EndpointHealth& other) {
  healthy_.store(other.healthy_.load(std::memory_order_acquire), std::memory_order_release);
  check_streak_.store(other.check_streak_.load(std::memory_order_relaxed),
                      std::memory_order_relaxed);
  consecutive_failures_.store(other.consecutive_failures_.load(std::memory_order_relaxed),
                              std::memory_order_relaxed);
  times_ejected_.store(other.times_ejected_.load(std::memory_order_relaxed),
                       std::memory_order_relaxed);
  ejected_until_ns_.store(other.ejected_until_ns_.load(std::memory_order_acquire),
                          std::memory_order_release);
}

HealthSet::HealthSet(std::vector<std::string> keys)
    : keys_(std::move(keys)), health_(std::make_unique<EndpointHealth[]>(keys_.size())) {}

size_t HealthSet::usableCount(TimePoint now) const {
  size_t n = 0;
  for (size_t i = 0; i < size(); ++i) n += health_[i].usable(now) ? 1 : 0;
  return n;
}

size_t HealthSet::ejectedCount(TimePoint now) const {
  size_t n = 0;
  for (size_t i = 0; i < size(); ++i) n += health_[i].ejected(now) ? 1 : 0;
  return n;
}

void HealthSet::inheritFrom(const HealthSet& previous) {
  std::unordered_map<std::string_view, size_t> by_key;
  by_key.reserve(previous.size());
  for (size_t i = 0; i < previous.size(); ++i) {
    if (!previous.key(i).empty()) by_key.emplace(previous.key(i), i);
  }
  for (size_t i = 0; i < size(); ++i) {
    if (keys_[i].empty()) continue;
    auto it = by_key.find(keys_[i]);
    if (it != by_key.end()) health_[i].copyFrom(previous[it->second]);
  }
}

std::vector<std::string> endpointKeys(const config::Cluster& cluster) {
  std::vector<std::string> keys;
  keys.reserve(cluster.endpoints.size());
  for (const auto& e : cluster.endpoints) {
    // Only an IPv6 literal contains ':' (a DNS name or an IPv4 literal never does).
    const bool v6 = e.address.find(':') != std::string::npos;
    keys.push_back((v6 ? "[" + e.address + "]" : e.address) + ":" + std::to_string(e.port));
  }
  return keys;
}

}  // namespace atrium::proxy::upstream
