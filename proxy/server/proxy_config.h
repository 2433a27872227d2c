#pragma once
// The data plane's compiled, immutable form of one ConfigSnapshot: the route table, the
// clusters, and per-route runtime pieces (metrics handle, compiled rewrite regex, IP filters,
// resolved backends). Built on the control thread, then shared read-only by all workers; a
// request holds a shared_ptr to the config it started with until it ends.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "proxy/filters/authenticator.h"
#include "proxy/filters/ip_filter.h"
#include "proxy/observability/metrics.h"
#include "proxy/ratelimit/route_limits.h"
#include "proxy/router/route_table.h"
#include "proxy/tls/tls_server.h"
#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/load_balancer.h"
#include "proxy/upstream/cluster.h"
#include "proxy/upstream/retry_budget.h"
#include "src/config/call_template.h"
#include "src/config/snapshot.h"

namespace re2 {
class RE2;
}

namespace atrium::proxy::server {

class RuntimeRegistry;
struct ClusterHealth;

struct RouteRuntime {
  const config::Route* route = nullptr;
  // Parallel to route->backends: nullptr for an unresolved reference.
  std::vector<const upstream::Cluster*> backends;
  uint64_t total_weight = 0;
  std::shared_ptr<observability::RouteMetrics> metrics;
  std::shared_ptr<re2::RE2> rewrite_regex;
  filters::IpFilter ip_allow;
  filters::IpFilter ip_deny;
  std::shared_ptr<const filters::JwtRuntime> jwt;  // with auth.jwt
  std::shared_ptr<const ratelimit::CompiledRateLimit> rate_limit;  // with policy.rateLimit
  // With policy.circuitBreaker: one breaker per backend (parallel to `backends`), kept across
  // snapshots while the policy stays the same (RuntimeRegistry).
  std::vector<std::shared_ptr<upstream::CircuitBreaker>> breakers;
  std::shared_ptr<upstream::RetryBudget> retry_budget;  // with policy.retries
  // Parallel to `backends`: the route's balancer over each cluster's endpoints, and the
  // cluster's endpoint health (null for an unresolved backend).
  std::vector<std::shared_ptr<const upstream::LoadBalancer>> balancers;
  std::vector<std::shared_ptr<ClusterHealth>> health;
  // With `aggregate`, parallel to its calls: the cluster (nullptr when unresolved) and the
  // parsed target template.
  std::vector<const upstream::Cluster*> call_clusters;
  std::vector<std::vector<config::TemplatePart>> call_templates;

  // Weighted choice of a backend index; `roll` is a random number. Returns -1 when every
  // weight is zero.
  int pickBackend(uint64_t roll) const;
};

class ProxyConfig {
 public:
  // `tls` (may be null in tests) builds the SNI table of the snapshot's certificates.
  static std::shared_ptr<const ProxyConfig> build(std::shared_ptr<const config::ConfigSnapshot> snapshot,
                                                  uint64_t generation,
                                                  observability::Metrics& metrics,
                                                  tls::TlsServer* tls,
                                                  filters::JwksFetcher* jwks,
                                                  std::vector<std::string>* errors,
                                                  RuntimeRegistry* runtime = nullptr,
                                                  unsigned workers = 1);

  const router::RouteTable& table() const { return *table_; }
  const RouteRuntime& route(uint32_t id) const { return routes_[id]; }
  const std::vector<RouteRuntime>& routes() const { return routes_; }
  const config::ConfigSnapshot& snapshot() const { return *snapshot_; }
  uint64_t generation() const { return generation_; }
  // Null without a TLS server (tests).
  const tls::HostTable* tlsHosts() const { return tls_hosts_.get(); }
  const filters::ConsumerIndex& consumers() const { return consumers_; }
  const std::shared_ptr<observability::RouteMetrics>& unmatchedMetrics() const { return unmatched_; }

 private:
  std::shared_ptr<const config::ConfigSnapshot> snapshot_;
  std::shared_ptr<const router::RouteTable> table_;
  std::map<std::string, std::unique_ptr<upstream::Cluster>> clusters_;
  std::vector<RouteRuntime> routes_;
  std::shared_ptr<observability::RouteMetrics> unmatched_;
  std::shared_ptr<const tls::HostTable> tls_hosts_;
  filters::ConsumerIndex consumers_;
  uint64_t generation_ = 0;
};

}  // namespace atrium::proxy::server
