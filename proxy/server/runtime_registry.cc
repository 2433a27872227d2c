#include "proxy/server/runtime_registry.h"

#include <fmt/format.h>

#include "proxy/observability/prometheus_label.h"

namespace atrium::proxy::server {

void RuntimeRegistry::beginBuild() {
  std::lock_guard lock(mu_);
  used_breakers_.clear();
  used_budgets_.clear();
  used_health_.clear();
}

void RuntimeRegistry::endBuild() {
  std::lock_guard lock(mu_);
  std::erase_if(breakers_, [this](const auto& e) { return !used_breakers_.count(e.first); });
  std::erase_if(budgets_, [this](const auto& e) { return !used_budgets_.count(e.first); });
  std::erase_if(health_, [this](const auto& e) { return !used_health_.count(e.first); });
}

std::shared_ptr<ClusterHealth> RuntimeRegistry::clusterHealth(const config::Cluster& cluster) {
  std::lock_guard lock(mu_);
  used_health_.insert(cluster.name);
  auto keys = upstream::endpointKeys(cluster);
  auto& slot = health_[cluster.name];
  if (slot) {
    bool same = slot->set.size() == keys.size();
    for (size_t i = 0; same && i < keys.size(); ++i) same = slot->set.key(i) == keys[i];
    if (same) return slot;  // the same endpoints in the same order: the same state object
  }
  auto fresh = std::make_shared<ClusterHealth>(std::move(keys));
  if (slot) fresh->set.inheritFrom(slot->set);
  slot = fresh;
  return fresh;
}

std::shared_ptr<upstream::CircuitBreaker> RuntimeRegistry::breaker(
    const std::string& route, const std::string& cluster, const config::CircuitBreaker& policy) {
  std::lock_guard lock(mu_);
  auto key = std::make_pair(route, cluster);
  used_breakers_.insert(key);
  auto& entry = breakers_[key];
  if (!entry.breaker || !(entry.policy == policy)) {
    entry.policy = policy;
    entry.breaker = std::make_shared<upstream::CircuitBreaker>(policy);
  }
  return entry.breaker;
}

std::shared_ptr<upstream::RetryBudget> RuntimeRegistry::retryBudget(const std::string& route) {
  std::lock_guard lock(mu_);
  used_budgets_.insert(route);
  auto& budget = budgets_[route];
  if (!budget) budget = std::make_shared<upstream::RetryBudget>();
  return budget;
}

std::string RuntimeRegistry::renderMetrics() const {
  std::string out =
      "# HELP atrium_circuit_state Circuit breaker state by route and backend (0 closed, 1 open, "
      "2 half-open).\n# TYPE atrium_circuit_state gauge\n";
  std::lock_guard lock(mu_);
  for (const auto& [key, entry] : breakers_) {
    out += fmt::format("atrium_circuit_state{{route=\"{}\",backend=\"{}\"}} {}\n",
                       observability::escapeLabel(key.first),
                       observability::escapeLabel(key.second), static_cast<int>(entry.breaker->state()));
  }
  out += "# HELP atrium_outlier_ejections_total Endpoints taken out of rotation by passive outlier "
         "detection, by backend.\n# TYPE atrium_outlier_ejections_total counter\n";
  std::string ejected =
      "# HELP atrium_endpoints_ejected Endpoints out of rotation right now by passive outlier "
      "detection.\n# TYPE atrium_endpoints_ejected gauge\n";
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [cluster, health] : health_) {
    out += fmt::format("atrium_outlier_ejections_total{{backend=\"{}\"}} {}\n",
                       observability::escapeLabel(cluster),
                       health->ejections.load(std::memory_order_relaxed));
    ejected += fmt::format("atrium_endpoints_ejected{{backend=\"{}\"}} {}\n",
                           observability::escapeLabel(cluster),
                           health->set.ejectedCount(now));
  }
  return out + ejected;
}

}  // namespace atrium::proxy::server
