#include "proxy/upstream/backoff.h"

#include <algorithm>

namespace atrium::proxy::upstream {

std::chrono::microseconds backoffCeiling(std::chrono::milliseconds base, uint32_t retry,
                                         uint32_t cap_multiplier) {
  const int64_t base_us = std::max<int64_t>(std::chrono::microseconds(base).count(), 0);
  const int64_t cap_us = base_us * std::max<uint32_t>(cap_multiplier, 1);
  // Doubling stops as soon as it reaches the cap, so no shift can overflow.
  int64_t ceiling = base_us;
  for (uint32_t i = 0; i < retry && ceiling < cap_us; ++i) ceiling *= 2;
  return std::chrono::microseconds(std::min(ceiling, cap_us));
}

std::chrono::microseconds backoffDelay(std::chrono::milliseconds base, uint32_t retry,
                                       uint64_t roll, uint32_t cap_multiplier) {
  const auto ceiling = static_cast<uint64_t>(backoffCeiling(base, retry, cap_multiplier).count());
  return std::chrono::microseconds(static_cast<int64_t>(roll % (ceiling + 1)));
}

}  // namespace atrium::proxy::upstream
