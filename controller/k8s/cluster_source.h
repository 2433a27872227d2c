#pragma once
// The controller mode's control loop: one Informer per kind feeding a shared ObjectStore;
// once every kind has synced, and then after every change, translate and hand the result to
// the sink, exactly like ManifestsSource. Changes are coalesced: an isolated event is built
// after a short settle (10 ms, enough for the rest of a `kubectl apply` of several objects to
// arrive), and builds are at most one per holdoff (100 ms), so a burst of events — a relist, a
// rollout touching hundreds of EndpointSlices — makes a few builds, not hundreds. While the API
// server is unreachable nothing changes and nothing is published, so the proxy keeps serving
// the last good configuration.
// After each build the objects' status is brought up to date (status_writer.h) by the
// replica holding the leader-election Lease (leader_elector.h), or by every replica when
// election is off.
// Threading: runs on the control-plane io_context passed at construction; the sink is called
// there. metricsRenderer()'s function may be called from any thread.
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "controller/diagnostic_log.h"
#include "controller/k8s/kubeconfig.h"
#include "controller/k8s/leader_elector.h"
#include "controller/k8s/status_writer.h"
#include "controller/translator/translator.h"

namespace boost::asio {
class io_context;
}

namespace atrium::controller::k8s {

class ApiClient;
class Informer;
class WatchMetrics;

class ClusterSource {
 public:
  // Gets each new snapshot (moved out of the translation, never copied); returns false when
  // the proxy refused it (it keeps serving the previous one).
  using Sink = std::function<bool(std::shared_ptr<const config::ConfigSnapshot>)>;

  struct Options {
    std::chrono::milliseconds holdoff{100};  // least time between two builds
    std::chrono::milliseconds settle{10};    // wait after the first event of a quiet period
    unsigned watch_timeout_seconds = 300;
    std::string default_tls_secret;  // "NS/NAME": kept in memory like referenced Secrets
    StatusWriter::Options status;
    // Without election every replica writes status (fine for one replica).
    bool leader_elect = true;
    LeaderElector::Options leader;
  };

  // Throws std::runtime_error when the cluster's TLS material cannot be used.
  ClusterSource(boost::asio::io_context& io, ClusterConfig cluster,
                translator::TranslatorOptions options, Sink sink, Options source_options);
  ClusterSource(boost::asio::io_context& io, ClusterConfig cluster,
                translator::TranslatorOptions options, Sink sink);
  ~ClusterSource();

  // Starts every informer; the sink is first called once all of them have synced.
  void start();
  bool synced() const;
  // Stops writing status and releases the Lease if held; `done` runs when that is over.
  void shutdown(std::function<void()> done);

  // atrium_kube_watch_* counters as Prometheus text; safe to call from the admin thread.
  std::function<std::string()> metricsRenderer() const;

 private:
  class Holdoff;
  void onChange();
  void publish();
  // The status writer, the leader elector and (when needed) the publish Service's watch.
  void startStatus();
  // Keeps the Secret informer's filter equal to what the objects reference.
  void updateSecretReferences();

  boost::asio::io_context& io_;
  translator::TranslatorOptions options_;
  Options source_options_;
  Sink sink_;
  std::shared_ptr<WatchMetrics> metrics_;
  std::unique_ptr<ApiClient> client_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<translator::TranslationCache> translation_cache_;
  std::vector<std::unique_ptr<Informer>> informers_;
  Informer* secrets_ = nullptr;  // started once every other kind has synced
  bool secrets_started_ = false;
  std::set<std::string> referenced_secrets_;
  std::unique_ptr<Holdoff> holdoff_;
  // The --publish-service Service when it lies outside the watched namespace.
  std::unique_ptr<ObjectStore> publish_store_;
  std::unique_ptr<Informer> publish_informer_;
  std::unique_ptr<StatusWriter> status_writer_;
  std::unique_ptr<ApiClient> lease_client_;  // short timeouts: a renewal must not hang
  std::unique_ptr<LeaderElector> elector_;
  DiagnosticLog diagnostic_log_;
  bool published_ = false;
  std::chrono::steady_clock::time_point last_build_{};
  std::chrono::steady_clock::time_point started_;
  // When the oldest change not yet in a published snapshot arrived (epoch: none pending).
  std::chrono::steady_clock::time_point pending_since_{};
};

}  // namespace atrium::controller::k8s
