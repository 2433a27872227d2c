#include "controller/k8s/informer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <random>

#include "controller/k8s/api_client.h"
#include "controller/k8s/watch_metrics.h"

namespace atrium::controller::k8s {

namespace net = boost::asio;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kBackoffStart{200};
constexpr milliseconds kBackoffCap{30'000};
constexpr milliseconds kMissingKindRetryCap{5'000};

std::string stringAt(const nlohmann::json& object, const char* a, const char* b) {
  if (!object.is_object()) return "";
  auto outer = object.find(a);
  if (outer == object.end() || !outer->is_object()) return "";
  auto inner = outer->find(b);
  return inner != outer->end() && inner->is_string() ? inner->get<std::string>() : "";
}

double uniform(double lo, double hi) {
  thread_local std::mt19937 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

}  // namespace

const std::vector<ResourceKind>& watchedKinds() {
  static const std::vector<ResourceKind> kKinds = {
      {"IngressClass", "networking.k8s.io/v1", "ingressclasses", false},
      {"Ingress", "networking.k8s.io/v1", "ingresses", true},
      {"Service", "v1", "services", true},
      {"EndpointSlice", "discovery.k8s.io/v1", "endpointslices", true},
      {"Secret", "v1", "secrets", true},
      {"APIRoute", "atrium.dev/v1alpha1", "apiroutes", true},
      {"APIConsumer", "atrium.dev/v1alpha1", "apiconsumers", true},
  };
  return kKinds;
}

std::string collectionPath(const ResourceKind& kind, const std::string& watch_namespace) {
  std::string path = kind.api_version.find('/') == std::string::npos ? "/api/" + kind.api_version
                                                                     : "/apis/" + kind.api_version;
  if (kind.namespaced && !watch_namespace.empty()) path += "/namespaces/" + watch_namespace;
  return path + "/" + kind.resource;
}

bool toKubeObject(const ResourceKind& kind, nlohmann::json body, KubeObject& out) {
  if (!body.is_object()) return false;
  auto metadata = body.find("metadata");
  if (metadata == body.end() || !metadata->is_object()) return false;
  metadata->erase("managedFields");
  out.kind = kind.kind;
  out.api_version = kind.api_version;
  out.name = stringAt(body, "metadata", "name");
  out.ns = kind.namespaced ? stringAt(body, "metadata", "namespace") : "";
  out.source.clear();
  if (out.name.empty()) return false;
  body["kind"] = kind.kind;
  body["apiVersion"] = kind.api_version;
  out.body = std::move(body);
  return true;
}

class Informer::Impl : public std::enable_shared_from_this<Informer::Impl> {
 public:
  Impl(net::io_context& io, ApiClient& client, ResourceKind kind, Options options,
       ObjectStore& store, WatchMetrics& metrics, std::function<void()> on_change)
      : timer_(io),
        client_(client),
        kind_(std::move(kind)),
        options_(std::move(options)),
        path_(collectionPath(kind_, options_.watch_namespace)),
        store_(store),
        metrics_(metrics),
        on_change_(std::move(on_change)) {}

  ~Impl() { stop(); }

  void stop() {
    stopped_ = true;
    if (request_) request_->cancel();
    request_.reset();
    timer_.cancel();
  }

  // `base` (the collection path by default) with the field selector appended after `sep`.
  std::string selectorQuery(char sep, std::string base = "") const {
    if (base.empty()) base = path_;
    if (options_.field_selector.empty()) return base;
    return base + sep + "fieldSelector=" + encodeQueryValue(options_.field_selector);
  }

  // Step 1: LIST, page by page, into `pages_`; the bucket is replaced at the end.
  void list(const std::string& continue_token) {
    if (continue_token.empty()) pages_.clear();
    request_ = client_.list(selectorQuery('?'), options_.page_size, continue_token,
                            [weak = weak_from_this(), continue_token](ApiResponse response) {
                              if (auto self = weak.lock())
                                self->onList(continue_token, std::move(response));
                            });
  }

  void onList(const std::string& continue_token, ApiResponse response) {
    request_.reset();
    if (!response.ok()) {
      if (response.status == 410 && !continue_token.empty()) {
        // The continue token expired between pages: start the LIST over.
        spdlog::info("{}: list continuation expired; listing again", kind_.kind);
        return list("");
      }
      if (response.status == 404) {
        // Typically the CRD is not installed (yet): keep trying, quietly after the first time.
        if (!reported_missing_) {
          spdlog::warn(
              "{} ({}) is not served by the API server (CRD not installed?); "
              "treating it as empty and checking again every few seconds",
              kind_.kind, path_);
          reported_missing_ = true;
        }
        // A kind that does not exist has no objects: count it as synced (empty) so that a
        // missing CRD does not keep the whole gateway unready, and keep asking cheaply.
        if (!synced_ || !store_.all(kind_.kind).empty()) {
          store_.clearKind(kind_.kind);
          metrics_.setObjectCount(kind_.kind, 0);
          synced_ = true;
          const uint64_t epoch = epoch_;
          on_change_();
          if (epoch != epoch_) return;  // relisted from on_change_
        }
        return retry([](Impl& self) { self.list(""); }, kMissingKindRetryCap);
      } else {
        reportFailure("list " + path_, response.describe());
      }
      return retry([](Impl& self) { self.list(""); });
    }
    if (reported_missing_) spdlog::info("{} is served now", kind_.kind);
    reported_missing_ = false;
    if (response.body.contains("items") && response.body["items"].is_array()) {
      for (auto& item : response.body["items"]) {
        KubeObject object;
        if (toKubeObject(kind_, std::move(item), object) && keeps(object)) {
          pages_.push_back(std::move(object));
        }
      }
    }
    std::string next = stringAt(response.body, "metadata", "continue");
    if (!next.empty()) return list(next);

    resource_version_ = stringAt(response.body, "metadata", "resourceVersion");
    store_.clearKind(kind_.kind);
    for (auto& object : pages_) store_.upsert(std::move(object));
    pages_.clear();
    pages_.shrink_to_fit();
    metrics_.setObjectCount(kind_.kind, store_.all(kind_.kind).size());
    const bool first = !synced_;
    synced_ = true;
    failures_ = 0;
    spdlog::debug("{}: listed {} objects at resourceVersion {}", kind_.kind,
                  store_.all(kind_.kind).size(), resource_version_);
    if (first) spdlog::info("{}: synced ({} objects)", kind_.kind, store_.all(kind_.kind).size());
    const uint64_t epoch = epoch_;
    on_change_();
    // on_change_ may have asked for a relist (a newly referenced Secret): that list is running.
    if (!stopped_ && epoch == epoch_) watch();
  }

  // Step 2: WATCH from the last resourceVersion seen; each event updates the bucket.
  void watch() {
    // Up to 20% shorter than the configured timeout, so the kinds' watches don't all end and
    // reconnect in the same instant.
    unsigned timeout = static_cast<unsigned>(options_.watch_timeout_seconds * uniform(0.8, 1.0));
    timeout = std::max(timeout, 1u);
    std::string query =
        path_ + "?watch=1&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(timeout);
    if (!options_.field_selector.empty()) query = selectorQuery('&', query);
    if (!resource_version_.empty()) {
      query += "&resourceVersion=" + encodeQueryValue(resource_version_);
    }
    gone_ = false;
    watch_error_.clear();
    request_ = client_.watch(
        query,
        [weak = weak_from_this()](nlohmann::json event) {
          if (auto self = weak.lock()) self->onEvent(std::move(event));
        },
        [weak = weak_from_this()](ApiResponse response) {
          if (auto self = weak.lock()) self->onWatchEnd(std::move(response));
        },
        std::chrono::seconds(timeout + 30));
  }

  void onEvent(nlohmann::json event) {
    std::string type = event.value("type", "");
    auto object = event.find("object");
    if (object == event.end() || !object->is_object()) return;
    metrics_.countEvent(kind_.kind, type);
    if (type == "ERROR") {
      // A Status object; 410 (Expired/Gone) means our resourceVersion is too old: relist.
      int code = object->value("code", 0);
      if (code == 410) {
        gone_ = true;
      } else {
        watch_error_ = object->value("message", std::string("watch error"));
      }
      return;
    }
    std::string rv = stringAt(*object, "metadata", "resourceVersion");
    if (!rv.empty()) resource_version_ = rv;
    failures_ = 0;  // the stream works: the next failure starts the backoff afresh
    if (type == "BOOKMARK") return;
    KubeObject kube_object;
    if (!toKubeObject(kind_, std::move(*object), kube_object)) return;
    if ((type == "ADDED" || type == "MODIFIED") && !keeps(kube_object)) {
      // No longer (or never) wanted: drop any copy we hold.
      if (!store_.erase(kind_.kind, kube_object.key())) return;
    } else if (type == "ADDED" || type == "MODIFIED") {
      store_.upsert(std::move(kube_object));
    } else if (type == "DELETED") {
      store_.erase(kind_.kind, kube_object.key());
    } else {
      return;
    }
    metrics_.setObjectCount(kind_.kind, store_.all(kind_.kind).size());
    on_change_();
  }

  void onWatchEnd(ApiResponse response) {
    request_.reset();
    if (gone_ || response.status == 410) {
      metrics_.countRestart(kind_.kind);
      spdlog::info("{}: resourceVersion {} is too old (410 Gone); listing again", kind_.kind,
                   resource_version_);
      resource_version_.clear();
      return list("");
    }
    if (response.ok() && watch_error_.empty()) {
      // timeoutSeconds elapsed: the normal end of a watch. Resume where it stopped.
      spdlog::debug("{}: watch ended after its timeout; resuming at {}", kind_.kind,
                    resource_version_);
      return watch();
    }
    metrics_.countRestart(kind_.kind);
    reportFailure("watch " + path_, watch_error_.empty() ? response.describe() : watch_error_);
    retry([](Impl& self) { self.watch(); });
  }

  // Logs the first failure of a streak at warn and the rest at debug: an API server that is
  // down for an hour must not flood the log.
  void reportFailure(const std::string& what, const std::string& why) {
    if (failures_ == 0) {
      spdlog::warn("{}: {} failed: {}; retrying with backoff (serving the last configuration)",
                   kind_.kind, what, why);
    } else {
      spdlog::debug("{}: {} failed again: {}", kind_.kind, what, why);
    }
  }

  void retry(void (*step)(Impl&), milliseconds cap = kBackoffCap) {
    // 0.2 s, 0.4 s, ... capped at 30 s, each scaled by a random 0.5–1.0 so that many replicas
    // (or kinds) reconnecting after an outage spread out instead of arriving together.
    double base = static_cast<double>(kBackoffStart.count()) *
                  static_cast<double>(1u << std::min(failures_, 10u));
    base = std::min(base, static_cast<double>(cap.count()));
    ++failures_;
    timer_.expires_after(milliseconds(static_cast<long>(base * uniform(0.5, 1.0))));
    timer_.async_wait(
        [weak = weak_from_this(), step, epoch = epoch_](boost::system::error_code ec) {
          auto self = weak.lock();
          // The epoch check catches a timer that had already fired when relist() cancelled it.
          if (ec || !self || self->stopped_ || epoch != self->epoch_) return;
          step(*self);
        });
  }

  void relist() {
    ++epoch_;
    if (request_) request_->cancel();
    request_.reset();
    timer_.cancel();
    failures_ = 0;
    list("");
  }

  bool keeps(const KubeObject& object) const { return !filter_ || filter_(object); }

  bool synced_ = false;
  std::function<bool(const KubeObject&)> filter_;
  const ResourceKind& kind() const { return kind_; }

 private:
  net::steady_timer timer_;
  ApiClient& client_;
  ResourceKind kind_;
  Options options_;
  std::string path_;
  ObjectStore& store_;
  WatchMetrics& metrics_;
  std::function<void()> on_change_;
  std::shared_ptr<ApiRequest> request_;
  std::vector<KubeObject> pages_;
  std::string resource_version_;
  std::string watch_error_;
  bool gone_ = false;
  bool stopped_ = false;
  bool reported_missing_ = false;
  unsigned failures_ = 0;
  uint64_t epoch_ = 0;
};

Informer::Informer(net::io_context& io, ApiClient& client, ResourceKind kind, Options options,
                   ObjectStore& store, WatchMetrics& metrics, std::function<void()> on_change)
    : impl_(std::make_shared<Impl>(io, client, std::move(kind), std::move(options), store, metrics,
                                   std::move(on_change))) {}

Informer::~Informer() { impl_->stop(); }

void Informer::start() { impl_->list(""); }

void Informer::relist() { impl_->relist(); }

void Informer::setFilter(std::function<bool(const KubeObject&)> keep) {
  impl_->filter_ = std::move(keep);
}

bool Informer::synced() const { return impl_->synced_; }

const ResourceKind& Informer::kind() const { return impl_->kind(); }

}  // namespace atrium::controller::k8s
