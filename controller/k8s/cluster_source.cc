#include "controller/k8s/cluster_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "controller/k8s/api_client.h"
#include "controller/k8s/informer.h"
#include "controller/k8s/secret_references.h"
#include "controller/k8s/watch_metrics.h"
#include "controller/translator/translation_cache.h"

namespace atrium::controller::k8s {

// The coalescing timer, kept out of the header so that app code need not see Asio.
class ClusterSource::Holdoff {
 public:
  explicit Holdoff(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
  bool armed = false;
};

ClusterSource::ClusterSource(boost::asio::io_context& io, ClusterConfig cluster,
                             translator::TranslatorOptions options, Sink sink)
    : ClusterSource(io, std::move(cluster), std::move(options), std::move(sink), Options()) {}

ClusterSource::ClusterSource(boost::asio::io_context& io, ClusterConfig cluster,
                             translator::TranslatorOptions options, Sink sink,
                             Options source_options)
    : io_(io),
      options_(std::move(options)),
      source_options_(source_options),
      sink_(std::move(sink)),
      metrics_(std::make_shared<WatchMetrics>()),
      client_(std::make_unique<ApiClient>(io, cluster)),
      store_(std::make_unique<ObjectStore>()),
      translation_cache_(std::make_unique<translator::TranslationCache>()),
      holdoff_(std::make_unique<Holdoff>(io)) {
  if (source_options_.leader_elect) {
    ApiTimeouts lease_timeouts;
    lease_timeouts.connect = source_options_.leader.retry_period * 2;
    lease_timeouts.read = source_options_.leader.retry_period * 2;
    lease_client_ = std::make_unique<ApiClient>(io, std::move(cluster), lease_timeouts);
  }
}

ClusterSource::~ClusterSource() {
  elector_.reset();
  status_writer_.reset();
  publish_informer_.reset();
  informers_.clear();  // cancels their requests before the client and store go
  holdoff_->timer.cancel();
}

void ClusterSource::start() {
  started_ = std::chrono::steady_clock::now();
  const auto& config = client_->config();
  spdlog::info("controller mode: API server {}:{}{}, {}", config.host, config.port,
               config.base_path,
               options_.watch_namespace.empty() ? "all namespaces"
                                                : "namespace " + options_.watch_namespace);
  Informer::Options informer_options;
  informer_options.watch_namespace = options_.watch_namespace;
  informer_options.watch_timeout_seconds = source_options_.watch_timeout_seconds;
  for (const auto& kind : watchedKinds()) {
    informers_.push_back(std::make_unique<Informer>(io_, *client_, kind, informer_options, *store_,
                                                    *metrics_, [this] { onChange(); }));
    if (kind.kind == "Secret") secrets_ = informers_.back().get();
  }
  // Secrets are kept only when referenced (secret_references.h), so they are listed once the
  // referring kinds are known; the first snapshot still waits for them.
  secrets_->setFilter(
      [this](const KubeObject& secret) { return referenced_secrets_.count(secret.key()) > 0; });
  for (auto& informer : informers_) {
    if (informer.get() != secrets_) informer->start();
  }
  startStatus();
}

void ClusterSource::startStatus() {
  const ObjectStore* services = store_.get();
  const std::string& publish = source_options_.status.publish_service;
  if (!publish.empty()) {
    const std::string ns = publish.substr(0, publish.find('/'));
    const std::string name = publish.substr(publish.find('/') + 1);
    if (!options_.watch_namespace.empty() && ns != options_.watch_namespace) {
      // Outside the watched namespace: a watch of that one Service, for status only (it never
      // needs a new translation and is not waited for by readiness).
      publish_store_ = std::make_unique<ObjectStore>();
      Informer::Options options;
      options.watch_namespace = ns;
      options.field_selector = "metadata.name=" + name;
      options.watch_timeout_seconds = source_options_.watch_timeout_seconds;
      const ResourceKind* service_kind = nullptr;
      for (const auto& kind : watchedKinds()) {
        if (kind.kind == "Service") service_kind = &kind;
      }
      publish_informer_ = std::make_unique<Informer>(
          io_, *client_, *service_kind, options, *publish_store_, *metrics_, [this] {
            if (status_writer_) status_writer_->reconcile();
          });
      publish_informer_->setFilter([name](const KubeObject& o) { return o.name == name; });
      publish_informer_->start();
      services = publish_store_.get();
    }
  }
  status_writer_ = std::make_unique<StatusWriter>(io_, *client_, *store_, *services,
                                                  source_options_.status, *metrics_);
  if (!source_options_.leader_elect) {
    status_writer_->setEnabled(true);
    metrics_->setLeader(true);
    return;
  }
  elector_ = std::make_unique<LeaderElector>(io_, *lease_client_, source_options_.leader,
                                             [this](bool leading) {
                                               metrics_->setLeader(leading);
                                               status_writer_->setEnabled(leading);
                                             });
  elector_->start();
}

void ClusterSource::shutdown(std::function<void()> done) {
  if (status_writer_) status_writer_->setEnabled(false);
  if (!elector_) return done();
  elector_->release(std::move(done));
}

void ClusterSource::updateSecretReferences() {
  auto now = referencedSecrets(*store_, source_options_.default_tls_secret);
  if (now == referenced_secrets_) return;
  bool gained = false;
  for (const auto& key : now) {
    if (!referenced_secrets_.count(key)) gained = true;
  }
  std::vector<std::string> dropped;
  for (const auto& key : referenced_secrets_) {
    if (!now.count(key)) dropped.push_back(key);
  }
  referenced_secrets_ = std::move(now);
  for (const auto& key : dropped) store_->erase("Secret", key);
  if (!dropped.empty()) metrics_->setObjectCount("Secret", store_->all("Secret").size());
  // A newly referenced Secret was filtered out before: list again to pick it up. (A GET per
  // Secret would be cheaper in big clusters; references change rarely.)
  if (gained && secrets_started_) secrets_->relist();
}

bool ClusterSource::synced() const {
  for (const auto& informer : informers_) {
    if (!informer->synced()) return false;
  }
  return !informers_.empty();
}

std::function<std::string()> ClusterSource::metricsRenderer() const {
  // Holds the counters by shared_ptr so the renderer stays valid whatever outlives what.
  return [metrics = metrics_] { return metrics->renderPrometheus(); };
}

void ClusterSource::onChange() {
  if (pending_since_ == std::chrono::steady_clock::time_point{}) {
    pending_since_ = std::chrono::steady_clock::now();
  }
  if (!secrets_started_) {
    for (const auto& informer : informers_) {
      if (informer.get() != secrets_ && !informer->synced()) return;
    }
    updateSecretReferences();
    secrets_started_ = true;
    secrets_->start();
    return;
  }
  if (!synced()) return;  // a partial view would publish a configuration missing routes
  if (!published_) {
    // The first snapshot goes out as soon as the last kind syncs: readiness waits on it.
    return publish();
  }
  if (holdoff_->armed) return;
  holdoff_->armed = true;
  const auto now = std::chrono::steady_clock::now();
  const auto next_allowed = last_build_ + source_options_.holdoff;
  holdoff_->timer.expires_at(std::max(now + source_options_.settle, next_allowed));
  holdoff_->timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    holdoff_->armed = false;
    publish();
  });
}

void ClusterSource::publish() {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  const auto t0 = Clock::now();
  last_build_ = t0;
  updateSecretReferences();
  translator::TranslationResult result = translator::translate(*store_, options_, translation_cache_.get());
  diagnostic_log_.report(result.diagnostics);
  const auto t1 = Clock::now();
  if (!published_) {
    published_ = true;
    spdlog::info("controller mode: all kinds synced in {} ms ({} objects)",
                 std::chrono::duration_cast<std::chrono::milliseconds>(t0 - started_).count(),
                 store_->size());
  }
  const bool programmed =
      sink_(std::make_shared<const config::ConfigSnapshot>(std::move(result.snapshot)));
  const auto t2 = Clock::now();
  if (status_writer_) status_writer_->update(std::move(result.statuses), programmed);
  const auto t3 = Clock::now();
  spdlog::debug("controller mode: {} objects: translated in {:.1f} ms, programmed in {:.1f} ms, "
                "status compared in {:.1f} ms",
                store_->size(), ms(t1 - t0), ms(t2 - t1), ms(t3 - t2));
  if (pending_since_ != Clock::time_point{}) {
    metrics_->observeEventToProgrammed(std::chrono::duration<double>(t2 - pending_since_).count());
    pending_since_ = {};
  }
}

}  // namespace atrium::controller::k8s
