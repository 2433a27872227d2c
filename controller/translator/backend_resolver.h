#pragma once
// Resolves backend references to clusters: Service port (by number or name) → EndpointSlice
// port of the same name → endpoint addresses. Ready endpoints are used; serving-but-not-
// terminating ones only when none is ready. ExternalName Services resolve their DNS name.
// Collects every cluster it hands out so the snapshot holds exactly the referenced ones.
#include <map>
#include <optional>
#include <string>
#include <variant>

#include "controller/store/object_store.h"
#include "src/config/snapshot.h"

namespace atrium::controller::translator {

struct ServicePortRef {
  std::variant<int64_t, std::string> port;  // number or name
};

// How a backend is reached over TLS. Part of the cluster's identity: the same endpoints with
// other verification settings are another cluster (and another connection pool).
struct UpstreamTls {
  bool enabled = false;
  bool verify = false;      // check the certificate (against ca_pem, or the system CAs)
  std::string ca_pem;
  std::string server_name;  // SNI and name to check; empty: the endpoint's host
  bool operator==(const UpstreamTls&) const = default;
};

class BackendResolver {
 public:
  explicit BackendResolver(const ObjectStore& objects);

  // A backend for Service `ns/name` at `port`; on failure the backend has an empty cluster and
  // an unresolved_reason (answered 500, as Gateway API specifies).
  config::WeightedBackend service(const std::string& ns, const std::string& name,
                                  const ServicePortRef& port, uint32_t weight,
                                  const UpstreamTls& tls = {});
  // A backend for an external URL ("http://10.0.0.7:9000"); returns an empty cluster with a
  // reason when the URL is not http(s)://host[:port] without a path.
  // https:// URLs are verified against the system CAs unless `tls` says otherwise.
  config::WeightedBackend url(const std::string& url, uint32_t weight,
                              const std::optional<UpstreamTls>& tls = std::nullopt);

  std::vector<config::Cluster> takeClusters();

 private:
  const ObjectStore& objects_;
  std::map<std::string, config::Cluster> clusters_;
  // (ns/name, port, tls) → resolved backend (weight 1): the paths of an Ingress usually share
  // one Service, and every lookup would otherwise scan the Service again.
  std::map<std::string, config::WeightedBackend> resolved_;
  config::WeightedBackend resolve(const std::string& ns, const std::string& name,
                                  const ServicePortRef& port, const UpstreamTls& tls);
  // Service key → its EndpointSlices (label kubernetes.io/service-name), built once.
  std::multimap<std::string, const KubeObject*> slices_by_service_;
};

}  // namespace atrium::controller::translator
