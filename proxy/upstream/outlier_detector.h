#pragma once
// Passive outlier detection for one cluster: an endpoint that fails `consecutive_failures` tries
// in a row (AttemptOutcome::gatewayFailure(): connect failure, reset, timeout, 502/503/504) is
// ejected — taken out of rotation — for base_ejection × the number of times it has been ejected
// (30 s, 60 s, 90 s, … capped at max_ejection), then comes back by itself. Any other outcome
// resets its count.
//
// The multiplier is forgiven one step for every full base_ejection the endpoint spends back in
// rotation, so an endpoint that failed once yesterday starts again at base_ejection.
//
// Never more than max_ejection_percent of the cluster's endpoints are ejected at once (rounded
// down: a cluster of one endpoint is never ejected). Ejecting everything would only turn
// upstream errors into "no healthy upstream"; the circuit breaker is the tool for a cluster that
// is down as a whole.
//
// Threading: onOutcome is called by any worker. Counting is lock-free; the ejection decision —
// rare, at most once per failure streak — reads the whole cluster under a per-cluster try-lock so
// that two workers cannot together pass the percentage. A worker never waits on it: when another
// worker holds it, this failure skips the decision and the next one makes it.
#include <chrono>
#include <cstdint>
#include <mutex>

#include "proxy/upstream/endpoint_health.h"

namespace atrium::proxy::upstream {

struct OutlierConfig {
  uint32_t consecutive_failures = 5;  // 0: never eject
  std::chrono::milliseconds base_ejection{30'000};
  std::chrono::milliseconds max_ejection{300'000};
  uint32_t max_ejection_percent = 50;
};

class OutlierDetector {
 public:
  // `endpoints` must outlive the detector (both belong to the same cluster state).
  explicit OutlierDetector(HealthSet& endpoints, OutlierConfig config = {});

  // Records how a try against endpoint `i` ended. Returns true when this outcome ejected it.
  // Outcomes of tries that end while the endpoint is ejected (requests already in flight when it
  // was ejected) are ignored: they tell nothing new and must not count towards the next ejection.
  bool onOutcome(size_t i, const AttemptOutcome& outcome, TimePoint now);

  const OutlierConfig& config() const { return config_; }

 private:
  bool tryEject(size_t i, TimePoint now);

  HealthSet& endpoints_;
  const OutlierConfig config_;
  std::mutex eject_mu_;
};

}  // namespace atrium::proxy::upstream
