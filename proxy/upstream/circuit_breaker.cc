#include "proxy/upstream/circuit_breaker.h"

#include <algorithm>
#include <utility>

namespace atrium::proxy::upstream {

namespace {
// Times are stored in 62 bits: about 146 years of steady_clock.
constexpr int64_t kMaxNs = static_cast<int64_t>((uint64_t{1} << 62) - 1);
}  // namespace

// --- Admission -----------------------------------------------------------------------------------

CircuitBreaker::Admission::Admission(Admission&& other) noexcept
    : breaker_(std::exchange(other.breaker_, nullptr)),
      reason_(other.reason_),
      probe_(other.probe_),
      recorded_(other.recorded_) {}

CircuitBreaker::Admission& CircuitBreaker::Admission::operator=(Admission&& other) noexcept {
  if (this != &other) {
    release();
    breaker_ = std::exchange(other.breaker_, nullptr);
    reason_ = other.reason_;
    probe_ = other.probe_;
    recorded_ = other.recorded_;
  }
  return *this;
}

void CircuitBreaker::Admission::record(bool success, TimePoint now) {
  if (breaker_ == nullptr || recorded_) return;
  recorded_ = true;
  breaker_->onResult(success, now, probe_);
}

void CircuitBreaker::Admission::release() {
  if (breaker_ == nullptr) return;
  CircuitBreaker* b = std::exchange(breaker_, nullptr);
  b->releaseSlot();
  if (probe_ && !recorded_) b->abandonProbe();
}

// --- PendingTicket -------------------------------------------------------------------------------

CircuitBreaker::PendingTicket& CircuitBreaker::PendingTicket::operator=(
    PendingTicket&& other) noexcept {
  if (this != &other) {
    release();
    breaker_ = std::exchange(other.breaker_, nullptr);
  }
  return *this;
}

void CircuitBreaker::PendingTicket::release() {
  if (breaker_ == nullptr) return;
  std::exchange(breaker_, nullptr)->pending_.fetch_sub(1, std::memory_order_relaxed);
}

// --- CircuitBreaker ------------------------------------------------------------------------------

CircuitBreaker::CircuitBreaker(const config::CircuitBreaker& config)
    : config_(config),
      open_for_ns_(std::chrono::nanoseconds(std::chrono::milliseconds(config.open_for_ms)).count()),
      word_(pack(State::Closed, 0)) {}

const char* CircuitBreaker::reasonName(Reason reason) {
  switch (reason) {
    case Reason::Open:
      return "open";
    case Reason::HalfOpenBusy:
      return "half_open_busy";
    case Reason::Overflow:
      return "overflow";
    case Reason::PendingOverflow:
      return "pending_overflow";
    case Reason::None:
      break;
  }
  return "";
}

uint64_t CircuitBreaker::pack(State s, int64_t until_ns) {
  until_ns = std::clamp<int64_t>(until_ns, 0, kMaxNs);
  return static_cast<uint64_t>(until_ns) << 2 | static_cast<uint64_t>(s);
}

int64_t CircuitBreaker::toNs(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

bool CircuitBreaker::reserveSlot() {
  // Increment first, then check: concurrent admits can never together pass the limit.
  const uint32_t before = active_.fetch_add(1, std::memory_order_relaxed);
  if (config_.max_connections == 0 || before < config_.max_connections) return true;
  releaseSlot();
  return false;
}

CircuitBreaker::Admission CircuitBreaker::admit(TimePoint now) {
  const int64_t now_ns = std::clamp<int64_t>(toNs(now), 0, kMaxNs);
  for (;;) {
    uint64_t w = word_.load(std::memory_order_acquire);
    const State s = stateOf(w);
    if (s == State::HalfOpen) return Admission(Reason::HalfOpenBusy);
    if (s == State::Open && now_ns < untilOf(w)) return Admission(Reason::Open);
    if (!reserveSlot()) return Admission(Reason::Overflow);
    if (s == State::Closed) return Admission(this, /*probe=*/false);
    // Open and its time is over: the one caller that moves it to HalfOpen sends the probe.
    if (word_.compare_exchange_strong(w, pack(State::HalfOpen, 0), std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      return Admission(this, /*probe=*/true);
    }
    releaseSlot();  // someone else moved it first: look again
  }
}

CircuitBreaker::PendingTicket CircuitBreaker::queueForConnection() {
  const uint32_t before = pending_.fetch_add(1, std::memory_order_relaxed);
  if (config_.max_pending_requests == 0 || before < config_.max_pending_requests) {
    return PendingTicket(this);
  }
  pending_.fetch_sub(1, std::memory_order_relaxed);
  return PendingTicket(nullptr);
}

void CircuitBreaker::onResult(bool success, TimePoint now, bool probe) {
  const int64_t now_ns = std::clamp<int64_t>(toNs(now), 0, kMaxNs);
  if (probe) {
    uint64_t half_open = pack(State::HalfOpen, 0);
    if (success) failures_.store(0, std::memory_order_relaxed);
    word_.compare_exchange_strong(
        half_open, success ? pack(State::Closed, 0) : pack(State::Open, now_ns + open_for_ns_),
        std::memory_order_acq_rel, std::memory_order_relaxed);
    return;
  }
  uint64_t w = word_.load(std::memory_order_acquire);
  if (stateOf(w) != State::Closed) return;  // a straggler from before the breaker opened
  if (success) {
    if (failures_.load(std::memory_order_relaxed) != 0) {
      failures_.store(0, std::memory_order_relaxed);
    }
    return;
  }
  if (config_.consecutive_failures == 0) return;
  const uint32_t n = failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n < config_.consecutive_failures) return;
  // Only the caller whose CAS wins opens it (and starts the open period); the rest see Open.
  if (word_.compare_exchange_strong(w, pack(State::Open, now_ns + open_for_ns_),
                                    std::memory_order_acq_rel, std::memory_order_relaxed)) {
    failures_.store(0, std::memory_order_relaxed);
  }
}

void CircuitBreaker::abandonProbe() {
  // Back to Open with its time already over: the next admit() sends a new probe.
  uint64_t half_open = pack(State::HalfOpen, 0);
  word_.compare_exchange_strong(half_open, pack(State::Open, 0), std::memory_order_acq_rel,
                                std::memory_order_relaxed);
}

}  // namespace atrium::proxy::upstream
