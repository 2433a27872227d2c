#pragma once
// State that outlives one compiled configuration: circuit breakers and retry budgets are looked
// up here by route (and backend) when a snapshot is compiled, so a reload — which happens on
// every EndpointSlice change in a cluster — does not close an open circuit or refill a spent
// budget. A breaker is replaced only when its route's policy changes; entries no snapshot uses
// any more are dropped after the next build. Used on the control thread (builds) and the admin
// thread (metrics); the objects it hands out are used by every worker.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/endpoint_health.h"
#include "proxy/upstream/outlier_detector.h"
#include "proxy/upstream/retry_budget.h"
#include "src/config/snapshot.h"

namespace atrium::proxy::server {

// The health of one cluster's endpoints: active checks and passive outlier ejections write it,
// every worker reads it when picking an endpoint.
struct ClusterHealth {
  explicit ClusterHealth(std::vector<std::string> keys) : set(std::move(keys)), outliers(set) {}
  upstream::HealthSet set;
  upstream::OutlierDetector outliers;
  std::atomic<uint64_t> ejections{0};  // passive ejections so far (atrium_outlier_ejections_total)
};

class RuntimeRegistry {
 public:
  // Between beginBuild() and endBuild() the lookups mark what the new snapshot uses.
  void beginBuild();
  void endBuild();

  std::shared_ptr<upstream::CircuitBreaker> breaker(const std::string& route,
                                                    const std::string& cluster,
                                                    const config::CircuitBreaker& policy);
  std::shared_ptr<upstream::RetryBudget> retryBudget(const std::string& route);
  // The health of `cluster`'s endpoints, inheriting the verdicts and ejections of endpoints it
  // had in the previous snapshot (by host:port).
  std::shared_ptr<ClusterHealth> clusterHealth(const config::Cluster& cluster);

  // atrium_circuit_state{route,backend} (0 closed, 1 open, 2 half-open).
  std::string renderMetrics() const;

 private:
  struct BreakerEntry {
    config::CircuitBreaker policy;
    std::shared_ptr<upstream::CircuitBreaker> breaker;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, BreakerEntry> breakers_;
  std::map<std::string, std::shared_ptr<upstream::RetryBudget>> budgets_;
  std::map<std::string, std::shared_ptr<ClusterHealth>> health_;
  std::set<std::string> used_health_;
  std::set<std::pair<std::string, std::string>> used_breakers_;
  std::set<std::string> used_budgets_;
};

}  // namespace atrium::proxy::server
