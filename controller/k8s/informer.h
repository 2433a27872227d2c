#pragma once
// One kind's list/watch loop, keeping that kind's bucket of the shared ObjectStore equal to
// the API server's view: paginated LIST, then WATCH from the list's resourceVersion with
// bookmarks; reconnect from the last resourceVersion with capped, jittered exponential backoff;
// relist on 410 Gone. A relist replaces the bucket only once every page has arrived, so a
// failure halfway never empties the configuration.
// Threading: everything runs on the control-plane io_context; on_change is called there after
// the bucket changed. Lifetime: destroying the Informer cancels its requests and timers.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "controller/store/object_store.h"

namespace boost::asio {
class io_context;
}

namespace atrium::controller::k8s {

class ApiClient;
class WatchMetrics;

// A kind as the API serves it.
struct ResourceKind {
  std::string kind;         // "Ingress"
  std::string api_version;  // "networking.k8s.io/v1" ("v1" for the core group)
  std::string resource;     // "ingresses"
  bool namespaced = true;
};

// Every kind the translator reads (ObjectStore's supportedKinds()), with its resource name.
const std::vector<ResourceKind>& watchedKinds();

// The collection path: /api/v1/services, /apis/atrium.dev/v1alpha1/namespaces/NS/apiroutes.
// `watch_namespace` applies to namespaced kinds only; empty means all namespaces.
std::string collectionPath(const ResourceKind& kind, const std::string& watch_namespace);

// The object as stored: the API's body minus metadata.managedFields (bookkeeping of
// server-side apply that no translator reads), with kind/apiVersion filled in (LIST items
// omit them). Returns false when the object has no name.
bool toKubeObject(const ResourceKind& kind, nlohmann::json body, KubeObject& out);

class Informer {
 public:
  struct Options {
    std::string watch_namespace;
    unsigned page_size = 500;
    unsigned watch_timeout_seconds = 300;  // jittered by up to -20% so watches don't align
    // e.g. "metadata.name=atrium": only those objects (RBAC may then name just them).
    std::string field_selector;
  };

  Informer(boost::asio::io_context& io, ApiClient& client, ResourceKind kind, Options options,
           ObjectStore& store, WatchMetrics& metrics, std::function<void()> on_change);
  ~Informer();

  void start();
  // Lists again from scratch (the current watch is dropped), e.g. when the filter's answer
  // may have changed for objects not kept.
  void relist();
  // Objects the filter rejects are not kept (and removed if they were). Set before start().
  void setFilter(std::function<bool(const KubeObject&)> keep);
  // True once the first complete LIST has been stored.
  bool synced() const;
  const ResourceKind& kind() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace atrium::controller::k8s
