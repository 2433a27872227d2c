#include "proxy/proxy_engine.h"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <map>
#include <set>
#include <thread>

#include "proxy/observability/access_log.h"
#include "proxy/observability/metrics.h"
#include "proxy/server/proxy_config.h"
#include "proxy/server/runtime_registry.h"
#include "proxy/server/worker.h"
#include "proxy/cache/request_collapser.h"
#include "proxy/cache/response_cache.h"
#include "proxy/filters/jwks_fetcher.h"
#include "proxy/http/client_ip.h"
#include "proxy/metering/usage_persister.h"
#include "proxy/ratelimit/rate_limiter.h"
#include "proxy/redis/redis_url.h"
#include "proxy/tls/tls_server.h"
#include "proxy/upstream/health_checker.h"

namespace atrium::proxy {

ProxyEngine::ProxyEngine(ProxyOptions options)
    : options_(std::move(options)),
      metrics_(std::make_unique<observability::Metrics>(std::max(1u, options_.threads))),
      jwks_(std::make_unique<filters::JwksFetcher>()),
      tls_(std::make_unique<tls::TlsServer>()),
      self_ports_(std::make_shared<SelfPorts>()),
      limits_(std::make_unique<ratelimit::SharedLimitState>()),
      trusted_proxies_(std::make_unique<http::TrustedProxies>()),
      cache_(std::make_unique<cache::ResponseCache>(options_.cache_size)) {
  // Followers are requests already holding a connection each; a bound of 1024 per key keeps a
  // burst on one hot key collapsed while still capping what one stuck leader can hold.
  cache::CollapseLimits collapse;
  collapse.max_followers_per_key = 1024;
  collapser_ = std::make_unique<cache::RequestCollapser>(collapse, &cache_->counters());
  metrics_->cache_counters = &cache_->counters();
  runtime_ = std::make_unique<server::RuntimeRegistry>();
  // Health checks never probe this process's own listeners (the admin server trusts loopback).
  health_checker_ = std::make_unique<upstream::HealthChecker>(
      [ports = self_ports_](const std::string& host, uint16_t port) {
        boost::system::error_code ec;
        auto address = boost::asio::ip::make_address(host, ec);
        return !ec && address.is_loopback() && ports->contains(port);
      });
  metrics_->runtime_renderer = [runtime = runtime_.get(), checker = health_checker_.get()] {
    return runtime->renderMetrics() + checker->renderMetrics();
  };
  limits_->metrics = &metrics_->limits;
  limits_->replicas = std::max(1u, options_.replicas);
  limits_->wall_offset_s = options_.clock_offset_s;
}

void ProxyEngine::protectAdminPort(uint16_t port) { self_ports_->admin = port; }

ProxyEngine::~ProxyEngine() {
  if (health_checker_) health_checker_->stop();
  for (auto& w : workers_) w->stop();
  workers_.clear();
  if (persister_) persister_->stop();
}

void ProxyEngine::prepareLimits() {
  std::string error;
  if (!options_.trusted_proxies.empty()) {
    auto trusted = http::TrustedProxies::parse(options_.trusted_proxies, error);
    if (!trusted) throw std::runtime_error(error);
    *trusted_proxies_ = std::move(*trusted);
  }
  if (!options_.redis.empty()) {
    auto url = redis::parseRedisUrl(options_.redis, error);
    if (!url) throw std::runtime_error(error);
    redis_url_ = std::make_unique<redis::RedisUrl>(std::move(*url));
    limits_->redis_configured = true;
    spdlog::info("redis: Global limits, plans, quotas and usage are shared through {}",
                 redis::describe(*redis_url_));
    if (!options_.state_dir.empty()) {
      spdlog::info("--state-dir is not used with --redis: usage and quotas live in Redis");
    }
  } else if (!options_.state_dir.empty()) {
    persister_ = std::make_unique<metering::UsagePersister>(options_.state_dir, limits_->usage);
    persister_->load();
    persister_->start();
  }
}

void ProxyEngine::start() {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(options_.bind, ec);
  if (ec) throw std::runtime_error("invalid --bind address \"" + options_.bind + "\"");
  prepareLimits();
  auto sink = observability::AccessLogSink::open(options_.access_log);
  const unsigned threads = std::max(1u, options_.threads);
  uint16_t port = options_.http_port;
  uint16_t tls_port = options_.https_port;
  for (unsigned i = 0; i < threads; ++i) {
    server::Worker::Shared shared{limits_.get(), trusted_proxies_.get(), redis_url_.get(),
                                  cache_.get(), collapser_.get()};
    auto worker = std::make_unique<server::Worker>(i, options_, *metrics_, sink, *tls_, self_ports_,
                                                   shared);
    try {
      // The first worker may pick an ephemeral port; the others join it.
      port = worker->listen({address, port});
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("cannot listen on " + options_.bind + ":" + std::to_string(port) +
                               ": " + e.code().message());
    }
    try {
      tls_port = worker->listenTls({address, tls_port});
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error("cannot listen on " + options_.bind + ":" +
                               std::to_string(tls_port) + " (--https-port): " +
                               e.code().message());
    }
    workers_.push_back(std::move(worker));
  }
  http_port_ = port;
  https_port_ = tls_port;
  self_ports_->http = port;
  self_ports_->https = tls_port;
  {
    std::lock_guard lock(mutex_);
    for (auto& w : workers_) w->publish(current_);
  }
  for (auto& w : workers_) w->start();
  health_checker_->start();
  spdlog::info("proxy listening on {}:{} with {} worker thread(s)", options_.bind, http_port_, threads);
  spdlog::info("https listening on {}:{}", options_.bind, https_port_);
}

bool ProxyEngine::publish(std::shared_ptr<const config::ConfigSnapshot> snapshot, std::string* error) {
  std::vector<std::string> errors;
  std::lock_guard lock(mutex_);
  const uint64_t generation = generation_ + 1;
  std::shared_ptr<const server::ProxyConfig> compiled;
  try {
    runtime_->beginBuild();
    compiled =
        server::ProxyConfig::build(std::move(snapshot), generation, *metrics_, tls_.get(),
                                   jwks_.get(), &errors, runtime_.get(),
                                   std::max(1u, options_.threads));
    runtime_->endBuild();
  } catch (const std::exception& e) {
    errors.push_back(e.what());
  }
  if (!compiled) {
    metrics_->reloads_failure.fetch_add(1);
    if (error) *error = errors.empty() ? "unknown error" : errors.front();
    return false;
  }
  for (const auto& e : errors) spdlog::warn("configuration: {}", e);
  if (current_) purgeChangedCachePolicies(current_->snapshot(), compiled->snapshot());
  if (!redis_url_) warnGlobalWithoutRedis(compiled->snapshot());
  generation_ = generation;
  current_ = compiled;
  updateHealthChecks(*compiled);
  metrics_->tls_invalid_secrets.store(current_->snapshot().invalid_tls_secrets);
  for (auto& w : workers_) w->publish(compiled);
  metrics_->config_generation.store(generation);
  metrics_->reloads_success.fetch_add(1);
  return true;
}

namespace {

std::map<std::string, const config::CachePolicy*> cachePolicies(const config::ConfigSnapshot& s) {
  std::map<std::string, const config::CachePolicy*> out;
  for (const auto& vh : s.virtual_hosts) {
    for (const auto& r : vh.routes) out[r.name] = r.cache ? &*r.cache : nullptr;
  }
  return out;
}

}  // namespace

void ProxyEngine::purgeChangedCachePolicies(const config::ConfigSnapshot& before,
                                            const config::ConfigSnapshot& after) {
  // Entries were keyed and timed under their route's policy: a changed or removed policy
  // drops them, an unchanged one keeps them across the reload.
  const auto now = cachePolicies(after);
  for (const auto& [name, policy] : cachePolicies(before)) {
    if (!policy) continue;
    auto it = now.find(name);
    if (it == now.end() || !it->second || !(*it->second == *policy)) {
      if (size_t n = cache_->purgeRoute(name)) {
        spdlog::info("cache: {} response(s) of route {} dropped: its cache policy changed", n, name);
      }
    }
  }
}

void ProxyEngine::updateHealthChecks(const server::ProxyConfig& config) {
  std::vector<upstream::HealthTarget> targets;
  std::set<std::string> seen;
  for (const auto& rt : config.routes()) {
    if (!rt.route->health_check) continue;
    for (size_t i = 0; i < rt.route->backends.size() && i < rt.health.size(); ++i) {
      const auto& health = rt.health[i];
      const config::Cluster* cluster = config::findCluster(config.snapshot(), rt.route->backends[i].cluster);
      // One check per cluster: the first route (in precedence order) that asks for one sets it.
      if (!health || !cluster || !seen.insert(cluster->name).second) continue;
      upstream::HealthTarget t;
      t.cluster = cluster->name;
      for (const auto& e : cluster->endpoints) t.endpoints.emplace_back(e.address, e.port);
      t.check = *rt.route->health_check;
      t.health = std::shared_ptr<upstream::HealthSet>(health, &health->set);
      t.tls = cluster->tls;
      t.tls_server_name = cluster->tls_server_name;
      t.tls_verify = cluster->tls_verify;
      t.tls_ca_pem = cluster->tls_ca_pem;
      targets.push_back(std::move(t));
    }
  }
  health_checker_->update(std::move(targets));
}

void ProxyEngine::warnGlobalWithoutRedis(const config::ConfigSnapshot& snapshot) {
  for (const auto& vh : snapshot.virtual_hosts) {
    for (const auto& r : vh.routes) {
      if (r.rate_limit && r.rate_limit->global) {
        spdlog::warn("route {}: rateLimit scope Global without --redis is counted per replica",
                     r.name);
        return;  // once per configuration is enough to notice
      }
    }
  }
}

bool ProxyEngine::hasConfig() const {
  std::lock_guard lock(mutex_);
  return current_ != nullptr;
}

std::shared_ptr<const config::ConfigSnapshot> ProxyEngine::currentSnapshot() const {
  std::lock_guard lock(mutex_);
  if (!current_) return nullptr;
  // Aliasing constructor: the snapshot stays alive as long as its compiled config.
  return std::shared_ptr<const config::ConfigSnapshot>(current_, &current_->snapshot());
}

void ProxyEngine::drain(std::chrono::milliseconds timeout) {
  health_checker_->stop();
  for (auto& w : workers_) w->beginDrain();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (metrics_->active_connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (auto left = metrics_->active_connections.load(); left > 0) {
    spdlog::warn("drain timeout reached with {} connection(s) still open; closing them", left);
  }
  for (auto& w : workers_) w->stop();
  // Every request is counted now: the last write of the usage file.
  if (persister_) persister_->stop();
}

}  // namespace atrium::proxy
