#pragma once
// How an APIRoute's traffic reaches its endpoints (SPEC §3.2): policy.retries, circuitBreaker,
// healthCheck, loadBalancer and hashOn → the IR. Every problem is an error at its exact field
// path and nothing is returned for it: the caller then leaves the route (or rule) out, as it
// does for an invalid timeout. Serving it with other retry, breaker or balancing settings than
// written would change what the upstream sees (retried POSTs, unbounded connections, requests
// of one client spread over endpoints that keep its session).
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/translator/field_reader.h"
#include "src/config/snapshot.h"

namespace atrium::controller::translator {

// The CRD's bounds, so an object means the same in a cluster and in manifests mode.
inline constexpr int64_t kMaxRetryAttempts = 10;
inline constexpr int64_t kMaxConsecutiveFailures = 1000;
inline constexpr int64_t kMaxCircuitLimit = 1'000'000;  // maxConnections, maxPendingRequests
inline constexpr int64_t kMaxHealthThreshold = 100;

// Each object at `path` is applied field by field on top of `base` (the route-wide one when a
// rule writes its own, else the IR defaults): what the object does not write is inherited, as
// within policy.timeouts.
std::optional<config::RetryPolicy> readRetryPolicy(FieldReader& r, const nlohmann::json& retries,
                                                   const std::string& path,
                                                   config::RetryPolicy base = {});
std::optional<config::CircuitBreaker> readCircuitBreaker(FieldReader& r,
                                                         const nlohmann::json& breaker,
                                                         const std::string& path,
                                                         config::CircuitBreaker base = {});
// The merged timeout must be shorter than the merged interval (a check still running when the
// next one starts would pile up); reported at the timeout or interval this object wrote.
std::optional<config::HealthCheck> readHealthCheck(FieldReader& r, const nlohmann::json& check,
                                                   const std::string& path,
                                                   config::HealthCheck base = {});

// policy.loadBalancer, the string at `path`: RoundRobin | LeastRequest | ConsistentHash.
std::optional<config::LoadBalancer> parseLoadBalancer(FieldReader& r, const std::string& text,
                                                      const std::string& path);

// policy.hashOn, the string at `path`: ClientIP | Header:<name> | Cookie:<name>. The name is
// an HTTP token; a header name is stored lower-case (compared case-insensitively), a cookie
// name as written (cookie names are case-sensitive).
struct HashKey {
  config::HashOn on = config::HashOn::ClientIP;
  std::string name;
  bool operator==(const HashKey&) const = default;
};
std::optional<HashKey> parseHashOn(FieldReader& r, const std::string& text,
                                   const std::string& path);

}  // namespace atrium::controller::translator
