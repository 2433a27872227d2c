#pragma once
// The data plane's entry point, and the only proxy header src/main wires to: worker threads
// with one io_context each (Envoy's model), an HTTP listener per worker (SO_REUSEPORT), and
// atomic publication of configuration snapshots. Boost-free on purpose.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "src/config/snapshot.h"

namespace atrium::proxy {

namespace observability {
class Metrics;
}
namespace server {
class ProxyConfig;
class RuntimeRegistry;
class Worker;
}  // namespace server
namespace tls {
class TlsServer;
}
namespace filters {
class JwksFetcher;
}
namespace ratelimit {
struct SharedLimitState;
}
namespace metering {
class UsagePersister;
}
namespace http {
class TrustedProxies;
}
namespace redis {
struct RedisUrl;
}
namespace cache {
class ResponseCache;
class RequestCollapser;
}
namespace upstream {
class HealthChecker;
}

// This process's own ports, which upstream connections to loopback must not reach.
struct SelfPorts {
  std::atomic<uint16_t> admin{0};
  std::atomic<uint16_t> http{0};
  std::atomic<uint16_t> https{0};
  bool contains(uint16_t port) const {
    return port != 0 && (port == admin.load(std::memory_order_relaxed) ||
                         port == http.load(std::memory_order_relaxed) ||
                         port == https.load(std::memory_order_relaxed));
  }
};

struct ProxyOptions {
  std::string bind = "0.0.0.0";
  uint16_t http_port = 8080;  // 0: an ephemeral port (see httpPort())
  uint16_t https_port = 8443;  // TLS listener; 0: ephemeral (see httpsPort())
  unsigned threads = 1;
  std::string access_log = "stdout";  // stdout | off | PATH
  // Safety limits of SPEC §4; each says which attack it stops where it is enforced.
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  uint32_t max_header_bytes = 64 * 1024;
  // Rate limits, quotas, usage (SPEC §5.3, §5.6).
  std::string redis;            // --redis URL; empty: everything is counted in this replica
  unsigned replicas = 1;        // --replicas: Global limits are divided by it while Redis is down
  std::string trusted_proxies;  // --trusted-proxies CIDRs
  std::string state_dir;        // --state-dir: usage and quota counts persist here (no Redis)
  int64_t clock_offset_s = 0;   // --clock-start: shifts the quota/usage calendar (tests, demos)
  uint64_t cache_size = 256ull * 1024 * 1024;  // --cache-size: the response cache's bound
};

class ProxyEngine {
 public:
  explicit ProxyEngine(ProxyOptions options);
  ~ProxyEngine();
  ProxyEngine(const ProxyEngine&) = delete;
  ProxyEngine& operator=(const ProxyEngine&) = delete;

  // Binds the listeners and starts the workers. Throws std::runtime_error with a one-line
  // reason (address in use, permission denied, bad address).
  void start();
  uint16_t httpPort() const { return http_port_; }
  uint16_t httpsPort() const { return https_port_; }
  // The admin server's port: routes are never allowed to reach it (or this proxy's own
  // listeners) on a loopback address, where the admin server trusts its clients. Thread-safe.
  void protectAdminPort(uint16_t port);

  // Compiles `snapshot` and hands it to every worker; requests in flight keep the config they
  // started with. Thread-safe. Returns false (and the reason) if it cannot be compiled, in
  // which case the previous configuration stays.
  bool publish(std::shared_ptr<const config::ConfigSnapshot> snapshot, std::string* error);
  bool hasConfig() const;
  std::shared_ptr<const config::ConfigSnapshot> currentSnapshot() const;

  // Graceful shutdown: stops accepting, lets in-flight requests finish (closing keep-alive
  // connections as they go idle) for up to `timeout`, then stops the workers. Blocking.
  void drain(std::chrono::milliseconds timeout);

  observability::Metrics& metrics() { return *metrics_; }
  // Usage and quota counts of this replica, and the calendar they follow.
  ratelimit::SharedLimitState& limits() { return *limits_; }
  // The --redis server, or null.
  const redis::RedisUrl* redisUrl() const { return redis_url_.get(); }
  // The response cache (DELETE /cache purges it). Thread-safe.
  cache::ResponseCache& responseCache() { return *cache_; }

 private:
  // Parses --trusted-proxies and --redis, loads --state-dir; throws a one-line reason.
  void prepareLimits();
  void purgeChangedCachePolicies(const config::ConfigSnapshot& before,
                                 const config::ConfigSnapshot& after);
  static void warnGlobalWithoutRedis(const config::ConfigSnapshot& snapshot);
  // Hands the active health checker the clusters of routes with policy.healthCheck.
  void updateHealthChecks(const server::ProxyConfig& config);

  ProxyOptions options_;
  std::unique_ptr<observability::Metrics> metrics_;
  // Declared before workers_ and current_, so destroyed after them: routes hold its sources.
  std::unique_ptr<filters::JwksFetcher> jwks_;
  std::vector<std::unique_ptr<server::Worker>> workers_;
  uint16_t http_port_ = 0;
  uint16_t https_port_ = 0;
  std::unique_ptr<tls::TlsServer> tls_;
  std::shared_ptr<SelfPorts> self_ports_;
  // Workers hold references into these: ~ProxyEngine and drain() stop the workers first.
  std::unique_ptr<ratelimit::SharedLimitState> limits_;
  std::unique_ptr<http::TrustedProxies> trusted_proxies_;
  std::unique_ptr<redis::RedisUrl> redis_url_;
  std::unique_ptr<metering::UsagePersister> persister_;
  std::unique_ptr<cache::ResponseCache> cache_;
  std::unique_ptr<cache::RequestCollapser> collapser_;
  std::unique_ptr<server::RuntimeRegistry> runtime_;
  std::unique_ptr<upstream::HealthChecker> health_checker_;

  mutable std::mutex mutex_;  // guards current_ and generation_ (control thread + admin)
  std::shared_ptr<const server::ProxyConfig> current_;
  uint64_t generation_ = 0;
};

}  // namespace atrium::proxy
