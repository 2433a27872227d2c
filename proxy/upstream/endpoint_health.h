#pragma once
// The health of a cluster's endpoints as every worker of the replica sees it: the verdict of the
// active health checks (healthy/unhealthy, each reached after a run of checks) and the passive
// ejection by the outlier detector (ejected until a time). An endpoint takes traffic when it is
// healthy and not ejected; an ejection ends by itself when its time has passed.
//
// Also here: AttemptOutcome, how one try against an endpoint ended, in the words shared by
// outlier detection, the circuit breaker and the retry decision.
//
// Threading: every read is lock-free from any worker. Passive updates come from any worker through
// OutlierDetector; active updates (recordCheck) come from the cluster's one health checker, one
// check at a time per endpoint. Time is passed in (`now`) so tests drive an injected clock.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "src/config/snapshot.h"

namespace atrium::proxy::upstream {

using TimePoint = std::chrono::steady_clock::time_point;

struct AttemptOutcome {
  enum class Kind : uint8_t {
    Response,        // a response head arrived: see status
    ConnectFailure,  // TCP connect or TLS handshake failed: nothing reached the upstream
    Reset,           // the connection closed or reset before a complete response head
    Timeout,         // the per-try timeout fired before a response head
  };
  Kind kind = Kind::Response;
  int status = 0;  // with Response: the upstream's status code

  static AttemptOutcome response(int status) { return {Kind::Response, status}; }
  static AttemptOutcome connectFailure() { return {Kind::ConnectFailure, 0}; }
  static AttemptOutcome reset() { return {Kind::Reset, 0}; }
  static AttemptOutcome timeout() { return {Kind::Timeout, 0}; }

  // The endpoint (or the path to it) failed: no answer, or 502/503/504 from the upstream. This is
  // what outlier detection counts and what the circuit breaker should be fed as a failure. Any
  // other status, a 500 included, proves the endpoint is up and answering: it counts as a success.
  bool gatewayFailure() const {
    return kind != Kind::Response || status == 502 || status == 503 || status == 504;
  }
};

// An active health check passes on a 2xx or 3xx answer; anything else (including no answer: pass
// 0 for a connect failure or a timeout) fails it.
inline bool healthCheckPassed(int status) { return status >= 200 && status < 400; }

// One endpoint's shared state. Cache-line aligned so that workers updating neighbouring endpoints
// don't contend on one line.
class alignas(64) EndpointHealth {
 public:
  // Active checks. An endpoint starts healthy: the EndpointSlice only lists ready endpoints, so
  // Kubernetes' readiness probe already vouched for it, and a reload must not empty a cluster
  // while its first checks run.
  bool healthy() const { return healthy_.load(std::memory_order_acquire); }
  // Records one active check. `unhealthy_threshold` failures in a row make a healthy endpoint
  // unhealthy, `healthy_threshold` passes in a row make it healthy again (a threshold of 0 acts as
  // 1). Returns true when the verdict changed. Called by the health checker only.
  bool recordCheck(bool passed, uint32_t unhealthy_threshold, uint32_t healthy_threshold);
  bool recordCheck(bool passed, const config::HealthCheck& hc) {
    return recordCheck(passed, hc.unhealthy_threshold, hc.healthy_threshold);
  }

  // Passive ejection (written by OutlierDetector).
  bool ejected(TimePoint now) const {
    return toNs(now) < ejected_until_ns_.load(std::memory_order_acquire);
  }
  TimePoint ejectedUntil() const;  // the end of the current or last ejection (epoch: never)
  uint32_t timesEjected() const { return times_ejected_.load(std::memory_order_relaxed); }
  uint32_t consecutiveFailures() const {
    return consecutive_failures_.load(std::memory_order_relaxed);
  }

  bool usable(TimePoint now) const { return healthy() && !ejected(now); }

  // Copies the state of `other` (an endpoint with the same address in the previous snapshot).
  void copyFrom(const EndpointHealth& other);

  static int64_t toNs(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }

 private:
  friend class OutlierDetector;

  std::atomic<bool> healthy_{true};
  // Consecutive checks that disagree with the current verdict (failures while healthy, passes
  // while unhealthy); a check that agrees resets it.
  std::atomic<uint32_t> check_streak_{0};
  std::atomic<uint32_t> consecutive_failures_{0};  // passive: gateway failures in a row
  std::atomic<uint32_t> times_ejected_{0};         // the multiplier of the next ejection's length
  std::atomic<int64_t> ejected_until_ns_{std::numeric_limits<int64_t>::min()};
};

// The EndpointHealth of every endpoint of one cluster, by endpoint index (the order of
// config::Cluster::endpoints). Shared by all workers; its size never changes.
class HealthSet {
 public:
  // `keys` name the endpoints ("host:port"), so that a new snapshot's set can inherit the state
  // of the previous one.
  explicit HealthSet(std::vector<std::string> keys);
  explicit HealthSet(size_t n) : HealthSet(std::vector<std::string>(n)) {}
  HealthSet(const HealthSet&) = delete;
  HealthSet& operator=(const HealthSet&) = delete;

  size_t size() const { return keys_.size(); }
  const std::string& key(size_t i) const { return keys_[i]; }
  EndpointHealth& operator[](size_t i) { return health_[i]; }
  const EndpointHealth& operator[](size_t i) const { return health_[i]; }

  bool usable(size_t i, TimePoint now) const { return i < size() && health_[i].usable(now); }
  size_t usableCount(TimePoint now) const;
  size_t ejectedCount(TimePoint now) const;

  // Takes over the state of the endpoints of `previous` with the same (non-empty) key, so that a
  // configuration reload neither forgives an ejection nor forgets an unhealthy verdict. Call it
  // before publishing this set.
  void inheritFrom(const HealthSet& previous);

 private:
  std::vector<std::string> keys_;
  std::unique_ptr<EndpointHealth[]> health_;
};

// The endpoint keys of a cluster as HealthSet and the load balancers want them: "host:port",
// an IPv6 literal in brackets (the same text as EndpointTarget::key).
std::vector<std::string> endpointKeys(const config::Cluster& cluster);

}  // namespace atrium::proxy::upstream
