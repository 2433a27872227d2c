#include "proxy/server/proxy_config.h"

#include <re2/re2.h>

#include "proxy/server/runtime_registry.h"

namespace atrium::proxy::server {

int RouteRuntime::pickBackend(uint64_t roll) const {
  if (total_weight == 0) return -1;
  if (backends.size() == 1) return 0;
  uint64_t point = roll % total_weight;
  for (size_t i = 0; i < route->backends.size(); ++i) {
    uint64_t w = route->backends[i].weight;
    if (point < w) return static_cast<int>(i);
    point -= w;
  }
  return -1;
}

std::shared_ptr<const ProxyConfig> ProxyConfig::build(
    std::shared_ptr<const config::ConfigSnapshot> snapshot, uint64_t generation,
    observability::Metrics& metrics, tls::TlsServer* tls, filters::JwksFetcher* jwks,
    std::vector<std::string>* errors, RuntimeRegistry* runtime, unsigned workers) {
  auto cfg = std::make_shared<ProxyConfig>();
  cfg->snapshot_ = std::move(snapshot);
  cfg->generation_ = generation;
  cfg->unmatched_ = metrics.route("none");
  for (const auto& c : cfg->snapshot_->clusters) {
    try {
      cfg->clusters_.emplace(c.name, std::make_unique<upstream::Cluster>(c));
    } catch (const std::exception& e) {
      // Its routes answer 500 (unresolved); the rest of the configuration is fine.
      if (errors) errors->push_back("cluster " + c.name + ": " + e.what());
    }
  }
  if (tls) cfg->tls_hosts_ = tls->build(*cfg->snapshot_, errors);
  cfg->consumers_ = filters::ConsumerIndex(cfg->snapshot_->consumers);
  cfg->table_ = router::RouteTable::build(*cfg->snapshot_, errors);
  for (const config::Route* route : cfg->table_->routes()) {
    RouteRuntime rt;
    rt.route = route;
    rt.metrics = metrics.route(route->name);
    for (const auto& b : route->backends) {
      auto it = cfg->clusters_.find(b.cluster);
      rt.backends.push_back(it == cfg->clusters_.end() ? nullptr : it->second.get());
      rt.total_weight += b.weight;
      const config::Cluster* spec = config::findCluster(*cfg->snapshot_, b.cluster);
      if (!spec || it == cfg->clusters_.end()) {
        rt.balancers.push_back(nullptr);
        rt.health.push_back(nullptr);
        continue;
      }
      // Each route balances with its own policy; endpoint health belongs to the cluster.
      upstream::LbOptions lb;
      lb.workers = std::max<uint32_t>(1, workers);
      lb.seed = std::hash<std::string>{}(route->name + "|" + b.cluster);
      rt.balancers.push_back(
          upstream::makeLoadBalancer(route->load_balancer, upstream::lbEndpoints(*spec), lb));
      rt.health.push_back(runtime ? runtime->clusterHealth(*spec)
                                  : std::make_shared<ClusterHealth>(upstream::endpointKeys(*spec)));
    }
    if (!route->rewrite.regex.empty()) {
      rt.rewrite_regex = std::make_shared<re2::RE2>(route->rewrite.regex, re2::RE2::Quiet);
      if (!rt.rewrite_regex->ok()) {
        if (errors) errors->push_back("route " + route->name + ": invalid rewrite regex");
        rt.rewrite_regex.reset();
      }
    }
    if (route->auth && route->auth->jwt) {
      const auto& s = route->auth->jwt_settings;
      auto runtime = std::make_shared<filters::JwtRuntime>();
      runtime->algorithms = filters::effectiveAlgorithms(s);
      if (!s.jwks_json.empty()) {
        std::string error;
        runtime->static_keys = filters::JwtKeySet::parse(s.jwks_json, &error);
        if (!runtime->static_keys && errors) {
          errors->push_back("route " + route->name + ": JWKS: " + error);
        }
      }
      if (!s.hmac_secret.empty()) runtime->hmac_keys = filters::JwtKeySet::hmac(s.hmac_secret);
      if (!s.jwks_uri.empty() && jwks) runtime->remote = jwks->source(s.jwks_uri);
      rt.jwt = std::move(runtime);
    }
    if (route->circuit_breaker) {
      for (const auto& backend : route->backends) {
        rt.breakers.push_back(
            runtime ? runtime->breaker(route->name, backend.cluster, *route->circuit_breaker)
                    : std::make_shared<upstream::CircuitBreaker>(*route->circuit_breaker));
      }
    }
    if (route->retries && route->retries->attempts > 0) {
      rt.retry_budget = runtime ? runtime->retryBudget(route->name)
                                : std::make_shared<upstream::RetryBudget>();
    }
    if (route->rate_limit && !route->rate_limit->limits.empty()) {
      rt.rate_limit = ratelimit::compileRateLimit(*route->rate_limit);
    }
    if (route->aggregate) {
      for (const auto& call : route->aggregate->calls) {
        auto it = cfg->clusters_.find(call.cluster);
        rt.call_clusters.push_back(it == cfg->clusters_.end() ? nullptr : it->second.get());
        auto& parts = rt.call_templates.emplace_back();
        if (auto problem = config::parseCallTemplate(call.path, parts); problem && errors) {
          // validate() refused it already; a call without a template fails per request.
          errors->push_back("route " + route->name + ": call " + call.name + ": path " + *problem);
          parts.clear();
        }
      }
    }
    rt.ip_allow = filters::IpFilter(route->ip_allow);
    rt.ip_deny = filters::IpFilter(route->ip_deny);
    cfg->routes_.push_back(std::move(rt));
  }
  return cfg;
}

}  // namespace atrium::proxy::server
