#pragma once
// Writes what the translator concluded about each object into the object's status subresource:
// Ingress status.loadBalancer.ingress (the --publish-service's or --publish-address's
// addresses) and APIRoute conditions + observedGeneration. Only when the status differs from
// what the object already says, only while enabled (this replica leads), and at most a few
// writes at a time so a first sync of thousands of objects does not open thousands of
// connections to the API server.
// Threading: everything on the control-plane io_context.
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/store/object_store.h"
#include "controller/translator/translator.h"

namespace boost::asio {
class io_context;
}

namespace atrium::controller::k8s {

class ApiClient;
class ApiRequest;
class WatchMetrics;

class StatusWriter {
 public:
  struct Options {
    // Fixed addresses (--publish-address, see parsePublishAddresses), or
    nlohmann::json publish_addresses = nlohmann::json::array();
    // "ns/name" of the Service whose addresses are published (--publish-service). With
    // neither, Ingress status is left alone.
    std::string publish_service;
    unsigned max_in_flight = 8;
  };

  // `objects` holds the Ingresses and APIRoutes (as last seen by the informers);
  // `services` the publish Service (may be the same store).
  StatusWriter(boost::asio::io_context& io, ApiClient& client, const ObjectStore& objects,
               const ObjectStore& services, Options options, WatchMetrics& metrics);
  ~StatusWriter();

  // The statuses of the latest translation; writes what differs when enabled. `programmed`
  // false means the proxy refused that snapshot: routes are then reported not programmed.
  void update(std::vector<translator::ObjectStatus> statuses, bool programmed);
  // Enabled while this replica holds the Lease. Disabling stops at once: queued writes are
  // dropped and responses to writes in flight are ignored.
  void setEnabled(bool enabled);
  bool enabled() const { return enabled_; }
  // Compares every desired status with the stored objects again (after a store change that
  // did not need a new translation, e.g. the publish Service's address).
  void reconcile();

 private:
  class Retry;
  std::optional<nlohmann::json> patchFor(const translator::ObjectStatus& status) const;
  std::optional<nlohmann::json> ingressAddresses() const;
  void pump();
  void send(const std::string& key);

  boost::asio::io_context& io_;
  ApiClient& client_;
  const ObjectStore& objects_;
  const ObjectStore& services_;
  Options options_;
  WatchMetrics& metrics_;
  bool enabled_ = false;
  bool programmed_ = true;
  std::map<std::string, translator::ObjectStatus> desired_;  // by "Kind ns/name"
  std::deque<std::string> queue_;
  std::set<std::string> queued_;
  std::map<std::string, std::shared_ptr<ApiRequest>> in_flight_;
  // Objects written successfully, with the resourceVersion they had when we wrote: until the
  // watch shows a newer version, the stored status is stale and must not trigger a rewrite.
  std::map<std::string, std::string> written_at_version_;
  uint64_t epoch_ = 0;  // bumped when disabled, so late responses are recognised
  std::unique_ptr<Retry> retry_;
  bool warned_missing_service_ = false;
};

}  // namespace atrium::controller::k8s
