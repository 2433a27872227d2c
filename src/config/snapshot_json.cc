#include "src/config/snapshot_json.h"

#include <nlohmann/json.hpp>

namespace atrium::config {

NLOHMANN_JSON_SERIALIZE_ENUM(PathType, {{PathType::Exact, "Exact"},
                                        {PathType::Prefix, "PathPrefix"},
                                        {PathType::RegularExpression, "RegularExpression"}})
NLOHMANN_JSON_SERIALIZE_ENUM(StringMatchType, {{StringMatchType::Exact, "Exact"},
                                               {StringMatchType::RegularExpression,
                                                "RegularExpression"}})
NLOHMANN_JSON_SERIALIZE_ENUM(RateLimitKey, {{RateLimitKey::Consumer, "Consumer"},
                                            {RateLimitKey::ClientIP, "ClientIP"},
                                            {RateLimitKey::Route, "Route"},
                                            {RateLimitKey::Header, "Header"}})
NLOHMANN_JSON_SERIALIZE_ENUM(QuotaPeriod,
                             {{QuotaPeriod::Day, "day"}, {QuotaPeriod::Month, "month"}})
// The CRD's spellings, so /config reads like the manifest.
NLOHMANN_JSON_SERIALIZE_ENUM(RetryOn, {{RetryOn::ConnectFailure, "connect-failure"},
                                       {RetryOn::Reset, "reset"},
                                       {RetryOn::Status502, "502"},
                                       {RetryOn::Status503, "503"},
                                       {RetryOn::Status504, "504"}})
NLOHMANN_JSON_SERIALIZE_ENUM(LoadBalancer, {{LoadBalancer::RoundRobin, "RoundRobin"},
                                            {LoadBalancer::LeastRequest, "LeastRequest"},
                                            {LoadBalancer::ConsistentHash, "ConsistentHash"}})
NLOHMANN_JSON_SERIALIZE_ENUM(HashOn, {{HashOn::ClientIP, "ClientIP"},
                                      {HashOn::Header, "Header"},
                                      {HashOn::Cookie, "Cookie"}})

// Optional and defaulted fields are written only when set, so golden files stay readable.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PathMatch, type, value)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(StringMatch, name, type, value)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(HeaderModifier, set, add, remove)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(UrlRewrite, hostname, path_prefix, full_path,
                                                regex, substitution)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Redirect, scheme, hostname, port, full_path,
                                                path_prefix, status_code)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DirectResponse, status, content_type, body)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Timeouts, connect_ms, request_ms, idle_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Endpoint, address, port)
// Policies present on a route are written whole, defaults included (like rate limits): a reader
// of /config should not have to know the defaults to see what a route does. Read back, a
// missing field takes the IR default.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CachePolicy, ttl_ms, methods, vary,
                                                respect_cache_control, stale_if_error_ms,
                                                max_object_bytes, key_whole_query, key_query_params,
                                                share_across_consumers, cache_set_cookie)
NLOHMANN_JSON_SERIALIZE_ENUM(AggregateOnError, {{AggregateOnError::Partial, "Partial"},
                                               {AggregateOnError::Fail, "Fail"}})
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(AggregateCall, name, cluster, unresolved_reason,
                                                method, path)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Aggregate, calls, timeout_ms, on_error,
                                                max_call_body_bytes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CorsPolicy, allow_origins, allow_methods,
                                                allow_headers, expose_headers, allow_credentials,
                                                max_age_s)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RetryPolicy, attempts, retry_on, per_try_timeout_ms,
                                                backoff_ms, retry_non_idempotent)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CircuitBreaker, consecutive_failures, open_for_ms,
                                                max_connections, max_pending_requests)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(HealthCheck, path, interval_ms, timeout_ms,
                                                unhealthy_threshold, healthy_threshold)
namespace {

nlohmann::json clusterToJson(const Cluster& c) {
  nlohmann::json j = {{"name", c.name}, {"endpoints", c.endpoints}};
  if (c.tls) j["tls"] = true;
  if (c.tls_verify) j["tls_verify"] = true;
  if (!c.tls_ca_pem.empty()) j["tls_ca_pem"] = c.tls_ca_pem;  // a CA certificate: public
  if (!c.tls_server_name.empty()) j["tls_server_name"] = c.tls_server_name;
  return j;
}

Cluster clusterFromJson(const nlohmann::json& j) {
  Cluster c;
  c.name = j.at("name").get<std::string>();
  c.endpoints = j.value("endpoints", std::vector<Endpoint>{});
  c.tls = j.value("tls", false);
  c.tls_verify = j.value("tls_verify", false);
  c.tls_ca_pem = j.value("tls_ca_pem", std::string());
  c.tls_server_name = j.value("tls_server_name", std::string());
  return c;
}

}  // namespace

namespace {

nlohmann::json matchToJson(const RouteMatch& m) {
  nlohmann::json j = {{"path", m.path}};
  if (!m.method.empty()) j["method"] = m.method;
  if (!m.headers.empty()) j["headers"] = m.headers;
  if (!m.query_params.empty()) j["query_params"] = m.query_params;
  return j;
}

RouteMatch matchFromJson(const nlohmann::json& j) {
  RouteMatch m;
  m.path = j.value("path", PathMatch{});
  m.method = j.value("method", std::string());
  m.headers = j.value("headers", std::vector<StringMatch>{});
  m.query_params = j.value("query_params", std::vector<StringMatch>{});
  return m;
}

// Rate limits are written whole (burst and key included, even at their defaults): a reader of
// /config should not have to know the defaults to see what is counted.
nlohmann::json rateLimitToJson(const RateLimit& l) {
  nlohmann::json j = {
      {"requests", l.requests}, {"period_ms", l.period_ms}, {"burst", l.burst}, {"key", l.key}};
  if (!l.header.empty()) j["header"] = l.header;
  return j;
}

RateLimit rateLimitFromJson(const nlohmann::json& j) {
  RateLimit l;
  l.requests = j.at("requests").get<uint64_t>();
  l.period_ms = j.at("period_ms").get<uint64_t>();
  l.burst = j.value("burst", uint64_t{0});
  l.key = j.value("key", RateLimitKey::Consumer);
  l.header = j.value("header", std::string());
  return l;
}

nlohmann::json rateLimitPolicyToJson(const RateLimitPolicy& p) {
  nlohmann::json limits = nlohmann::json::array();
  for (const auto& l : p.limits) limits.push_back(rateLimitToJson(l));
  return {{"scope", p.scope}, {"global", p.global}, {"limits", std::move(limits)}};
}

RateLimitPolicy rateLimitPolicyFromJson(const nlohmann::json& j) {
  RateLimitPolicy p;
  p.scope = j.value("scope", std::string());
  p.global = j.value("global", false);
  for (const auto& l : j.value("limits", nlohmann::json::array())) {
    p.limits.push_back(rateLimitFromJson(l));
  }
  return p;
}

// Plans are not secret (they are what a consumer was sold), so all of a plan is written; each
// part only when set.
nlohmann::json planToJson(const Plan& p) {
  nlohmann::json j = nlohmann::json::object();
  if (p.rate_limit) j["rate_limit"] = rateLimitToJson(*p.rate_limit);
  if (p.quota_requests != 0 || p.quota_period != Plan{}.quota_period) {
    j["quota"] = {{"requests", p.quota_requests}, {"period", p.quota_period}};
  }
  if (!p.currency.empty() || !p.per_thousand_requests.empty()) {
    j["pricing"] = {{"currency", p.currency}, {"per_thousand_requests", p.per_thousand_requests}};
  }
  return j;
}

Plan planFromJson(const nlohmann::json& j) {
  Plan p;
  if (j.contains("rate_limit")) p.rate_limit = rateLimitFromJson(j["rate_limit"]);
  if (j.contains("quota")) {
    p.quota_requests = j["quota"].value("requests", uint64_t{0});
    p.quota_period = j["quota"].value("period", p.quota_period);
  }
  if (j.contains("pricing")) {
    p.currency = j["pricing"].value("currency", std::string());
    p.per_thousand_requests = j["pricing"].value("per_thousand_requests", std::string());
  }
  return p;
}

nlohmann::json backendToJson(const WeightedBackend& b) {
  nlohmann::json j = {{"cluster", b.cluster}, {"weight", b.weight}};
  if (!b.unresolved_reason.empty()) j["unresolved_reason"] = b.unresolved_reason;
  return j;
}

nlohmann::json routeToJson(const Route& r) {
  static const Route kDefaults;
  nlohmann::json j = {{"name", r.name}, {"source", r.source}, {"object_rank", r.object_rank},
                      {"rule_index", r.rule_index}};
  auto& matches = j["matches"] = nlohmann::json::array();
  for (const auto& m : r.matches) matches.push_back(matchToJson(m));
  if (r.is_default_backend) j["is_default_backend"] = true;
  auto& backends = j["backends"] = nlohmann::json::array();
  for (const auto& b : r.backends) backends.push_back(backendToJson(b));
  if (r.direct_response) j["direct_response"] = *r.direct_response;
  if (r.redirect) j["redirect"] = *r.redirect;
  if (!r.rewrite.empty()) j["rewrite"] = r.rewrite;
  if (!r.request_headers.empty()) j["request_headers"] = r.request_headers;
  if (!r.response_headers.empty()) j["response_headers"] = r.response_headers;
  if (!(r.timeouts == kDefaults.timeouts)) j["timeouts"] = r.timeouts;
  if (r.max_request_body_bytes != kDefaults.max_request_body_bytes)
    j["max_request_body_bytes"] = r.max_request_body_bytes;
  if (!r.ip_allow.empty()) j["ip_allow"] = r.ip_allow;
  if (!r.ip_deny.empty()) j["ip_deny"] = r.ip_deny;
  if (r.https_redirect) j["https_redirect"] = true;
  if (!r.hsts.empty()) j["hsts"] = r.hsts;
  if (r.client_cert_required) j["client_cert_required"] = true;
  if (r.auth) {
    const auto& a = *r.auth;
    nlohmann::json auth = {{"consumer_namespace", a.consumer_namespace}};
    if (a.api_key) {
      auth["api_key"] = {{"header", a.api_key_header}};
      if (!a.api_key_query_param.empty()) auth["api_key"]["query_param"] = a.api_key_query_param;
    }
    if (a.basic) auth["basic"] = {{"realm", a.basic_realm}};
    if (a.jwt) {
      const auto& t = a.jwt_settings;
      // Key material (HMAC secrets, JWKS documents) is never written.
      auth["jwt"] = {{"issuer", t.issuer},
                     {"audiences", t.audiences},
                     {"jwks_uri", t.jwks_uri},
                     {"jwks_from_secret", !t.jwks_json.empty()},
                     {"hmac", !t.hmac_secret.empty()},
                     {"algorithms", t.algorithms},
                     {"clock_skew_seconds", t.clock_skew_seconds},
                     {"consumer_claim", t.consumer_claim}};
    }
    if (!a.allow_consumers.empty()) auth["allow_consumers"] = a.allow_consumers;
    if (!a.allow_groups.empty()) auth["allow_groups"] = a.allow_groups;
    if (a.strip_credentials) auth["strip_credentials"] = true;
    j["auth"] = std::move(auth);
  }
  if (r.rate_limit) j["rate_limit"] = rateLimitPolicyToJson(*r.rate_limit);
  if (r.cache) j["cache"] = *r.cache;
  if (r.cors) j["cors"] = *r.cors;
  if (r.aggregate) j["aggregate"] = *r.aggregate;
  if (r.retries) j["retries"] = *r.retries;
  if (r.circuit_breaker) j["circuit_breaker"] = *r.circuit_breaker;
  if (r.health_check) j["health_check"] = *r.health_check;
  if (r.load_balancer != kDefaults.load_balancer) j["load_balancer"] = r.load_balancer;
  // With ConsistentHash the key is written even when it is the default client IP.
  if (r.hash_on != kDefaults.hash_on || r.load_balancer == LoadBalancer::ConsistentHash) {
    j["hash_on"] = r.hash_on;
  }
  if (!r.hash_on_name.empty()) j["hash_on_name"] = r.hash_on_name;
  if (r.fallback) j["fallback"] = *r.fallback;
  return j;
}

Route routeFromJson(const nlohmann::json& j) {
  Route r;
  r.name = j.at("name").get<std::string>();
  r.source = j.value("source", std::string());
  r.object_rank = j.value("object_rank", 0u);
  r.rule_index = j.value("rule_index", 0u);
  for (const auto& m : j.value("matches", nlohmann::json::array())) {
    r.matches.push_back(matchFromJson(m));
  }
  r.is_default_backend = j.value("is_default_backend", false);
  for (const auto& b : j.value("backends", nlohmann::json::array())) {
    r.backends.push_back({b.at("cluster").get<std::string>(), b.value("weight", 1u),
                          b.value("unresolved_reason", std::string())});
  }
  if (j.contains("direct_response")) r.direct_response = j["direct_response"].get<DirectResponse>();
  if (j.contains("redirect")) r.redirect = j["redirect"].get<Redirect>();
  r.rewrite = j.value("rewrite", UrlRewrite{});
  r.request_headers = j.value("request_headers", HeaderModifier{});
  r.response_headers = j.value("response_headers", HeaderModifier{});
  r.timeouts = j.value("timeouts", Timeouts{});
  r.max_request_body_bytes = j.value("max_request_body_bytes", r.max_request_body_bytes);
  r.ip_allow = j.value("ip_allow", std::vector<std::string>{});
  r.ip_deny = j.value("ip_deny", std::vector<std::string>{});
  r.https_redirect = j.value("https_redirect", false);
  r.hsts = j.value("hsts", std::string());
  r.client_cert_required = j.value("client_cert_required", false);
  if (j.contains("auth")) {
    const auto& a = j["auth"];
    AuthPolicy auth;
    auth.consumer_namespace = a.value("consumer_namespace", std::string());
    if (a.contains("api_key")) {
      auth.api_key = true;
      auth.api_key_header = a["api_key"].value("header", auth.api_key_header);
      auth.api_key_query_param = a["api_key"].value("query_param", std::string());
    }
    if (a.contains("basic")) {
      auth.basic = true;
      auth.basic_realm = a["basic"].value("realm", auth.basic_realm);
    }
    if (a.contains("jwt")) {
      const auto& t = a["jwt"];
      auth.jwt = true;
      auth.jwt_settings.issuer = t.value("issuer", std::string());
      auth.jwt_settings.audiences = t.value("audiences", std::vector<std::string>{});
      auth.jwt_settings.jwks_uri = t.value("jwks_uri", std::string());
      auth.jwt_settings.algorithms = t.value("algorithms", std::vector<std::string>{});
      auth.jwt_settings.clock_skew_seconds = t.value("clock_skew_seconds", 30u);
      auth.jwt_settings.consumer_claim = t.value("consumer_claim", std::string("sub"));
    }
    auth.allow_consumers = a.value("allow_consumers", std::vector<std::string>{});
    auth.allow_groups = a.value("allow_groups", std::vector<std::string>{});
    auth.strip_credentials = a.value("strip_credentials", false);
    r.auth = std::move(auth);
  }
  if (j.contains("rate_limit")) r.rate_limit = rateLimitPolicyFromJson(j["rate_limit"]);
  if (j.contains("cache")) r.cache = j["cache"].get<CachePolicy>();
  if (j.contains("cors")) r.cors = j["cors"].get<CorsPolicy>();
  if (j.contains("aggregate")) r.aggregate = j["aggregate"].get<Aggregate>();
  if (j.contains("retries")) r.retries = j["retries"].get<RetryPolicy>();
  if (j.contains("circuit_breaker")) r.circuit_breaker = j["circuit_breaker"].get<CircuitBreaker>();
  if (j.contains("health_check")) r.health_check = j["health_check"].get<HealthCheck>();
  r.load_balancer = j.value("load_balancer", r.load_balancer);
  r.hash_on = j.value("hash_on", r.hash_on);
  r.hash_on_name = j.value("hash_on_name", std::string());
  if (j.contains("fallback")) r.fallback = j["fallback"].get<DirectResponse>();
  return r;
}

}  // namespace

nlohmann::json toJson(const ConfigSnapshot& snapshot) {
  nlohmann::json doc;
  auto& hosts = doc["virtual_hosts"] = nlohmann::json::array();
  for (const auto& vh : snapshot.virtual_hosts) {
    nlohmann::json h = {{"hostname", vh.hostname}, {"routes", nlohmann::json::array()}};
    for (const auto& r : vh.routes) h["routes"].push_back(routeToJson(r));
    hosts.push_back(std::move(h));
  }
  auto& clusters = doc["clusters"] = nlohmann::json::array();
  for (const auto& c : snapshot.clusters) clusters.push_back(clusterToJson(c));
  // TLS: written only when there is some, so configurations without TLS read as before.
  // No PEM is written (private keys are secrets); the digest tells whether one changed.
  if (!snapshot.certificates.empty()) {
    auto& certs = doc["certificates"] = nlohmann::json::array();
    for (const auto& c : snapshot.certificates) {
      certs.push_back({{"name", c.name}, {"sha256", c.sha256}});
    }
  }
  if (!snapshot.tls_hosts.empty()) {
    auto& hosts = doc["tls_hosts"] = nlohmann::json::array();
    for (const auto& h : snapshot.tls_hosts) {
      nlohmann::json entry = {{"hostname", h.hostname}, {"certificate", h.certificate}};
      if (h.client_validation) {
        entry["client_validation"] = {{"ca", h.client_validation->ca_name},
                                      {"optional", h.client_validation->optional}};
      }
      hosts.push_back(std::move(entry));
    }
  }
  if (!snapshot.default_certificate.empty()) {
    doc["default_certificate"] = snapshot.default_certificate;
  }
  if (snapshot.invalid_tls_secrets) doc["invalid_tls_secrets"] = snapshot.invalid_tls_secrets;
  // Consumers without their credentials: how many of each kind, never the digests.
  if (!snapshot.consumers.empty()) {
    auto& consumers = doc["consumers"] = nlohmann::json::array();
    for (const auto& c : snapshot.consumers) {
      nlohmann::json consumer = {{"namespace", c.ns},
                                 {"name", c.name},
                                 {"groups", c.groups},
                                 {"api_keys", c.api_key_sha256.size()},
                                 {"basic_auth", !c.basic_username.empty()},
                                 {"jwt", !c.jwt_subject.empty()}};
      if (!c.display_name.empty()) consumer["display_name"] = c.display_name;
      if (!(c.plan == Plan{})) consumer["plan"] = planToJson(c.plan);
      consumers.push_back(std::move(consumer));
    }
  }
  return doc;
}

ConfigSnapshot snapshotFromJson(const nlohmann::json& doc) {
  ConfigSnapshot snapshot;
  for (const auto& h : doc.at("virtual_hosts")) {
    VirtualHost vh;
    vh.hostname = h.at("hostname").get<std::string>();
    for (const auto& r : h.at("routes")) vh.routes.push_back(routeFromJson(r));
    snapshot.virtual_hosts.push_back(std::move(vh));
  }
  for (const auto& c : doc.at("clusters")) snapshot.clusters.push_back(clusterFromJson(c));
  // Certificates come back as name and digest only (toJson writes no PEM): enough for golden
  // comparisons, not for serving.
  for (const auto& c : doc.value("certificates", nlohmann::json::array())) {
    snapshot.certificates.push_back(
        {c.at("name").get<std::string>(), "", "", c.value("sha256", std::string())});
  }
  for (const auto& h : doc.value("tls_hosts", nlohmann::json::array())) {
    TlsHost host{h.at("hostname").get<std::string>(), h.at("certificate").get<std::string>(), {}};
    if (h.contains("client_validation")) {
      host.client_validation = ClientValidation{
          h["client_validation"].value("ca", std::string()), "",
          h["client_validation"].value("optional", false)};
    }
    snapshot.tls_hosts.push_back(std::move(host));
  }
  snapshot.default_certificate = doc.value("default_certificate", std::string());
  snapshot.invalid_tls_secrets = doc.value("invalid_tls_secrets", 0u);
  // Consumers come back without credentials (toJson writes none).
  for (const auto& c : doc.value("consumers", nlohmann::json::array())) {
    Consumer consumer;
    consumer.ns = c.value("namespace", std::string());
    consumer.name = c.value("name", std::string());
    consumer.groups = c.value("groups", std::vector<std::string>{});
    consumer.display_name = c.value("display_name", std::string());
    if (c.contains("plan")) consumer.plan = planFromJson(c["plan"]);
    snapshot.consumers.push_back(std::move(consumer));
  }
  return snapshot;
}

const char* toString(PathType type) {
  switch (type) {
    case PathType::Exact: return "Exact";
    case PathType::Prefix: return "PathPrefix";
    case PathType::RegularExpression: return "RegularExpression";
  }
  return "?";
}

const char* toString(StringMatchType type) {
  return type == StringMatchType::Exact ? "Exact" : "RegularExpression";
}

}  // namespace atrium::config
