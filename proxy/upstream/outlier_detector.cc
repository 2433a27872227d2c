#include "proxy/upstream/outlier_detector.h"

#include <algorithm>

namespace atrium::proxy::upstream {

OutlierDetector::OutlierDetector(HealthSet& endpoints, OutlierConfig config)
    : endpoints_(endpoints), config_(config) {}

bool OutlierDetector::onOutcome(size_t i, const AttemptOutcome& outcome, TimePoint now) {
  if (i >= endpoints_.size()) return false;
  EndpointHealth& e = endpoints_[i];
  if (e.ejected(now)) return false;
  if (!outcome.gatewayFailure()) {
    // Read first: most outcomes are successes, and a store would bounce the cache line between
    // workers for nothing.
    if (e.consecutive_failures_.load(std::memory_order_relaxed) != 0) {
      e.consecutive_failures_.store(0, std::memory_order_relaxed);
    }
    return false;
  }
  if (config_.consecutive_failures == 0) return false;
  const uint32_t n = e.consecutive_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n < config_.consecutive_failures) return false;
  return tryEject(i, now);
}

bool OutlierDetector::tryEject(size_t i, TimePoint now) {
  std::unique_lock lock(eject_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  EndpointHealth& e = endpoints_[i];
  if (e.ejected(now)) return false;  // another worker ejected it meanwhile

  // Every ejection goes through this lock and ends only by time, so the count is exact here.
  const size_t total = endpoints_.size();
  const size_t ejected = endpoints_.ejectedCount(now);
  if ((ejected + 1) * 100 > total * config_.max_ejection_percent) return false;

  const int64_t now_ns = EndpointHealth::toNs(now);
  const int64_t base_ns = std::chrono::nanoseconds(config_.base_ejection).count();
  const int64_t max_ns = std::chrono::nanoseconds(config_.max_ejection).count();
  uint32_t times = e.times_ejected_.load(std::memory_order_relaxed);
  const int64_t last_until = e.ejected_until_ns_.load(std::memory_order_relaxed);
  if (times > 0 && base_ns > 0 && now_ns > last_until) {
    // Forgive one step per full base_ejection spent back in rotation.
    const int64_t periods = (now_ns - last_until) / base_ns;
    times = periods >= static_cast<int64_t>(times) ? 0 : times - static_cast<uint32_t>(periods);
  }
  if (times < UINT32_MAX) ++times;
  // base × times, capped; computed in a way that cannot overflow for any `times`.
  const int64_t length =
      base_ns > 0 && times > max_ns / base_ns ? max_ns : std::min(max_ns, base_ns * times);

  e.times_ejected_.store(times, std::memory_order_relaxed);
  e.consecutive_failures_.store(0, std::memory_order_relaxed);
  e.ejected_until_ns_.store(now_ns + length, std::memory_order_release);
  return true;
}

}  // namespace atrium::proxy::upstream
