#pragma once
// What to write into an object's status, as a JSON merge patch, and only when it differs from
// what the object already says: writing unchanged status would wake every watcher of the kind
// for nothing (and, with several controllers, start a write war).
// Pure functions, unit-tested without an API server.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/store/object_store.h"
#include "controller/translator/translator.h"

namespace atrium::controller::k8s {

// --publish-address "203.0.113.7,lb.example.com" → [{"ip": ...}, {"hostname": ...}].
// Returns a message in `error` for an empty item or one that is neither an IP nor a DNS name.
nlohmann::json parsePublishAddresses(const std::string& flag, std::string& error);

// The addresses of the --publish-service Service, as an Ingress's status.loadBalancer.ingress
// wants them: its load balancer's ingress points, its spec.externalIPs, or for an ExternalName
// Service its DNS name. Empty array when it has none yet (the LB is being provisioned).
nlohmann::json serviceAddresses(const KubeObject& service);

// {"status": {"loadBalancer": {"ingress": addresses}}} unless the Ingress already has exactly
// those addresses (in that order, ignoring ports and error fields we never write).
std::optional<nlohmann::json> ingressStatusPatch(const KubeObject& ingress,
                                                 const nlohmann::json& addresses);

// {"status": {"observedGeneration": g, "conditions": [...]}} unless the object already has those
// conditions (type, status, reason, message, observedGeneration). A condition whose status did
// not change keeps its lastTransitionTime; others get `now` (RFC 3339).
std::optional<nlohmann::json> apiRouteStatusPatch(const KubeObject& route,
                                                  const translator::ObjectStatus& desired,
                                                  const std::string& now);

// The current time as RFC 3339 in UTC with seconds ("2026-11-26T21:04:05Z"), and with
// microseconds for the Lease's MicroTime fields ("2026-11-26T21:04:05.123456Z").
std::string rfc3339Now();
std::string microTimeNow();

}  // namespace atrium::controller::k8s
