#pragma once
// Exponential backoff with full jitter between retries ("Exponential Backoff And Jitter", AWS
// Architecture Blog): the wait before retry number `retry` (0 for the first retry) is uniform in
// [0, min(base × 2^retry, cap_multiplier × base)]. Full jitter spreads the retries of many
// clients that failed together, instead of bringing them back in synchronised waves.
//
// Randomness is passed in: `roll` is any uniformly random 64-bit number (tests pass fixed ones);
// Backoff draws its rolls from a seeded SplitMix64. Pure values, no shared state.
#include <chrono>
#include <cstdint>

namespace atrium::proxy::upstream {

constexpr uint32_t kBackoffCapMultiplier = 10;

// The upper bound of the wait before retry number `retry`: base × 2^retry, at most
// cap_multiplier × base.
std::chrono::microseconds backoffCeiling(std::chrono::milliseconds base, uint32_t retry,
                                         uint32_t cap_multiplier = kBackoffCapMultiplier);

// A wait uniform in [0, backoffCeiling(...)] drawn from `roll`.
std::chrono::microseconds backoffDelay(std::chrono::milliseconds base, uint32_t retry,
                                       uint64_t roll,
                                       uint32_t cap_multiplier = kBackoffCapMultiplier);

// SplitMix64 (Vigna): a tiny, fast generator with good 64-bit output, enough for jitter.
inline uint64_t splitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The backoff of one request's retries. Owned by the request, used on its worker.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, uint64_t seed,
          uint32_t cap_multiplier = kBackoffCapMultiplier)
      : base_(base), state_(seed), cap_multiplier_(cap_multiplier) {}

  // The wait before the next retry.
  std::chrono::microseconds next() {
    return backoffDelay(base_, retries_++, splitMix64(state_), cap_multiplier_);
  }
  uint32_t retries() const { return retries_; }

 private:
  std::chrono::milliseconds base_;
  uint64_t state_;
  uint32_t cap_multiplier_;
  uint32_t retries_ = 0;
};

}  // namespace atrium::proxy::upstream
