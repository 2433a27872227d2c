#pragma once
// The circuit breaker of one (route, cluster) pair, shared by every worker of the replica
// (SPEC §3.2 policy.circuitBreaker). Lock-free: one atomic word holds the state and the end of
// the open period, plus counters.
//
//   Closed ──consecutive_failures failures in a row──▶ Open ──open_for passed, next admit──▶
//   HalfOpen (that one request is the probe; every other one is refused) ──probe succeeds──▶
//   Closed, ──probe fails──▶ Open again for open_for.
//
// open_for stays fixed after a failed probe (no growth): the probe costs one request per
// open_for, and a fixed period makes recovery time predictable for operators. Growing back-off per
// endpoint is the outlier detector's job; the breaker protects the pair as a whole.
//
// Results of requests admitted before the breaker opened that arrive while it is Open or HalfOpen
// are ignored: only the probe decides how HalfOpen ends.
//
// Overload limits (0: unlimited):
// - max_connections bounds the tries in flight to the cluster through this breaker: admit()
//   reserves a slot, the Admission gives it back when destroyed; beyond → reason Overflow.
// - max_pending_requests bounds the tries waiting for an upstream connection. The caller takes a
//   PendingTicket (queueForConnection()) when the pool has no idle connection for the try and it
//   must wait for a new one (connect, TLS handshake), and drops the ticket as soon as it holds a
//   connection or gives up; no ticket → answer 503 at once instead of queueing (reason
//   PendingOverflow).
//
// Usage, one Admission per try (a retry is admitted again):
//   auto admission = breaker.admit(now);
//   if (!admission) → 503 circuit_open (Open, HalfOpenBusy) or overflow (Overflow);
//   … send the try …;  admission.record(!outcome.gatewayFailure(), now);
// An Admission destroyed without record() (client went away) counts as neither success nor
// failure; if it was the probe, the next admit() sends a new probe.
//
// Threading: every member is safe from any thread. The breaker must outlive its Admissions
// (it lives in the per-snapshot state a request keeps alive to its end).
#include <atomic>
#include <chrono>
#include <cstdint>

#include "src/config/snapshot.h"

namespace atrium::proxy::upstream {

class CircuitBreaker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // Values as exported in metrics.
  enum class State : uint8_t { Closed = 0, Open = 1, HalfOpen = 2 };
  enum class Reason : uint8_t { None, Open, HalfOpenBusy, Overflow, PendingOverflow };

  // The permission for one try: move-only; holds a max_connections slot while it lives.
  class Admission {
   public:
    Admission(Admission&& other) noexcept;
    Admission& operator=(Admission&& other) noexcept;
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    ~Admission() { release(); }

    bool allowed() const { return breaker_ != nullptr; }
    explicit operator bool() const { return allowed(); }
    Reason reason() const { return reason_; }  // None when allowed
    bool probe() const { return probe_; }      // this try decides how HalfOpen ends
    // Reports how the try ended (once; later calls are ignored). Keeps the slot until destroyed.
    void record(bool success, TimePoint now);
    // Gives the slot back early (also done by the destructor); record() first, or the result is
    // lost (and a probe counts as abandoned).
    void release();

   private:
    friend class CircuitBreaker;
    explicit Admission(Reason reason) : reason_(reason) {}
    Admission(CircuitBreaker* breaker, bool probe) : breaker_(breaker), probe_(probe) {}

    CircuitBreaker* breaker_ = nullptr;
    Reason reason_ = Reason::None;
    bool probe_ = false;
    bool recorded_ = false;
  };

  // A place among the tries waiting for a connection: move-only, given back when destroyed.
  class PendingTicket {
   public:
    PendingTicket(PendingTicket&& other) noexcept : breaker_(other.breaker_) {
      other.breaker_ = nullptr;
    }
    PendingTicket& operator=(PendingTicket&& other) noexcept;
    PendingTicket(const PendingTicket&) = delete;
    PendingTicket& operator=(const PendingTicket&) = delete;
    ~PendingTicket() { release(); }

    bool allowed() const { return breaker_ != nullptr; }
    explicit operator bool() const { return allowed(); }
    void release();

   private:
    friend class CircuitBreaker;
    explicit PendingTicket(CircuitBreaker* breaker) : breaker_(breaker) {}
    CircuitBreaker* breaker_ = nullptr;
  };

  // For logs and metric labels: "open", "half_open_busy", "overflow", "pending_overflow" ("" for
  // None).
  static const char* reasonName(Reason reason);

  explicit CircuitBreaker(const config::CircuitBreaker& config);
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  Admission admit(TimePoint now);
  PendingTicket queueForConnection();

  // The low-level form of Admission::record: `probe` must be the admission's probe().
  void onResult(bool success, TimePoint now, bool probe);

  // The stored state: Open stays Open after open_for until an admit() moves it to HalfOpen.
  State state() const { return stateOf(word_.load(std::memory_order_acquire)); }
  uint32_t consecutiveFailures() const { return failures_.load(std::memory_order_relaxed); }
  uint32_t active() const { return active_.load(std::memory_order_relaxed); }
  uint32_t pending() const { return pending_.load(std::memory_order_relaxed); }
  const config::CircuitBreaker& config() const { return config_; }

 private:
  // word_ = open_until_ns << 2 | state. open_until is only meaningful when Open.
  static State stateOf(uint64_t w) { return static_cast<State>(w & 3); }
  static int64_t untilOf(uint64_t w) { return static_cast<int64_t>(w >> 2); }
  static uint64_t pack(State s, int64_t until_ns);
  static int64_t toNs(TimePoint t);

  bool reserveSlot();
  void releaseSlot() { active_.fetch_sub(1, std::memory_order_relaxed); }
  void abandonProbe();

  const config::CircuitBreaker config_;
  const int64_t open_for_ns_;
  std::atomic<uint64_t> word_;
  alignas(64) std::atomic<uint32_t> failures_{0};
  alignas(64) std::atomic<uint32_t> active_{0};
  alignas(64) std::atomic<uint32_t> pending_{0};
};

}  // namespace atrium::proxy::upstream
