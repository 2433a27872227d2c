#pragma once
// Active health checks (SPEC §3.2 policy.healthCheck, §5.8): for every cluster with a check, every
// endpoint is sent `GET <path>` every interval; the verdicts go into the cluster's HealthSet, which
// the workers' load balancers read lock-free.
//
// Threading: the checker runs on its own thread and io_context, never on a proxy worker, so a slow
// or hung upstream costs the proxy nothing. update() and renderMetrics() may be called from any
// thread. Lifetime: start() once, stop() (or the destructor) joins the thread; the HealthSets stay
// owned by the configuration that holds them (the checker only shares ownership).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "proxy/upstream/endpoint_health.h"
#include "src/config/snapshot.h"

namespace atrium::proxy::upstream {

// One cluster to check, as the configuration compiler hands it over.
struct HealthTarget {
  std::string cluster;  // config::Cluster::name, the metrics label
  // host (IP literal or DNS name), port; the same order as `health`.
  std::vector<std::pair<std::string, uint16_t>> endpoints;
  config::HealthCheck check;
  std::shared_ptr<HealthSet> health;  // where the verdicts go
  bool tls = false;
  std::string tls_server_name;  // SNI and the name verified (empty: the endpoint's host)
  bool tls_verify = false;
  std::string tls_ca_pem;   // empty: the system CAs
  std::string host_header;  // empty: "host:port" of the endpoint
};

class HealthChecker {
 public:
  // Returns true for an endpoint the checker must not connect to (this process's admin port and
  // listeners: the admin server trusts loopback clients). Such endpoints are left as they are
  // (healthy). Called on the checker's thread, for the configured host and again for the address
  // a name resolved to.
  using SkipFn = std::function<bool(const std::string& host, uint16_t port)>;

  explicit HealthChecker(SkipFn skip = {});
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void start();
  // Ends every check (in-flight ones are aborted) and joins the thread. Idempotent.
  void stop();

  // Replaces the set of clusters checked. A target equal to a current one except for its
  // HealthSet keeps its loops (and timing) and writes into the new set from its next check; a new
  // or changed one (cluster, endpoints, check or TLS settings) starts new loops; a missing one
  // stops. Any thread; applied asynchronously on the checker's thread, in call order.
  void update(std::vector<HealthTarget> targets);

  // Prometheus text: atrium_health_checks_total{cluster,result} and
  // atrium_endpoint_healthy{cluster,endpoint} for the current targets. Any thread.
  std::string renderMetrics() const;

 private:
  struct Loop;  // the io_context and its work guard
  struct TargetState;
  struct Probe;
  struct Counters {
    std::atomic<uint64_t> pass{0};
    std::atomic<uint64_t> fail{0};
  };

  void apply(std::vector<HealthTarget> targets);  // on the checker's thread
  void startProbes(const std::shared_ptr<TargetState>& state);
  static void stopProbes(TargetState& state);
  void stopAll();                           // on the checker's thread
  uint64_t jitterMs(uint64_t interval_ms);  // on the checker's thread
  void publish();                           // on the checker's thread

  SkipFn skip_;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  uint64_t jitter_state_;  // checker thread only

  // Checker thread only: the running targets by cluster name.
  std::map<std::string, std::shared_ptr<TargetState>> targets_;

  // What renderMetrics() reads: the current targets' counters and health sets.
  struct Published {
    std::shared_ptr<Counters> counters;
    std::shared_ptr<HealthSet> health;
    std::vector<std::string> endpoint_names;
  };
  mutable std::mutex metrics_mu_;
  std::map<std::string, Published> published_;
};

}  // namespace atrium::proxy::upstream
