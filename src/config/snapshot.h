#pragma once
// The configuration IR: the only thing the control plane (controller/) and the data plane (proxy/)
// share. Plain value types with operator==, a JSON codec and validate(); no behaviour, no Boost,
// no OpenSSL. A snapshot is immutable once published: the proxy compiles it into its own
// lookup structures and never reads it on the hot path.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace atrium::config {

enum class PathType { Exact, Prefix, RegularExpression };
enum class StringMatchType { Exact, RegularExpression };

struct PathMatch {
  PathType type = PathType::Prefix;
  // Exact/Prefix: a normalised absolute path. RegularExpression: an RE2 pattern that must match
  // the whole path.
  std::string value = "/";
  bool operator==(const PathMatch&) const = default;
};

struct StringMatch {
  std::string name;  // header names are stored lower-case; query names as written
  StringMatchType type = StringMatchType::Exact;
  std::string value;
  bool operator==(const StringMatch&) const = default;
};

// One match: every condition must hold (AND). A route matches when any of its matches does (OR).
struct RouteMatch {
  PathMatch path;
  std::string method;  // empty: any method
  std::vector<StringMatch> headers;
  std::vector<StringMatch> query_params;
  bool operator==(const RouteMatch&) const = default;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HeaderModifier {
  HeaderList set;
  HeaderList add;
  std::vector<std::string> remove;
  bool empty() const { return set.empty() && add.empty() && remove.empty(); }
  bool operator==(const HeaderModifier&) const = default;
};

struct UrlRewrite {
  std::string hostname;     // replaces Host
  std::string path_prefix;  // replaces the matched prefix (Prefix matches only)
  std::string full_path;    // replaces the whole path
  // Regex rewrite (ingress-nginx style rewrite-target with capture groups): when regex is set,
  // the path is matched against it and rewritten to `substitution` (\1 or $1 references).
  std::string regex;
  std::string substitution;
  bool empty() const {
    return hostname.empty() && path_prefix.empty() && full_path.empty() && regex.empty();
  }
  bool operator==(const UrlRewrite&) const = default;
};

struct Redirect {
  std::string scheme;     // empty: keep the request's
  std::string hostname;   // empty: keep the request's
  uint32_t port = 0;      // 0: the scheme's default (not written)
  std::string full_path;  // replaces the whole path
  std::string path_prefix;  // replaces the matched prefix
  int status_code = 302;
  bool operator==(const Redirect&) const = default;
};

struct DirectResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  bool operator==(const DirectResponse&) const = default;
};

struct WeightedBackend {
  // Name of a Cluster in the snapshot, or empty when the reference could not be resolved
  // (the share of traffic it would get is answered 500 backend_not_resolved).
  std::string cluster;
  uint32_t weight = 1;
  std::string unresolved_reason;
  bool operator==(const WeightedBackend&) const = default;
};

struct Timeouts {
  uint32_t connect_ms = 5000;
  uint32_t request_ms = 60000;  // from request start until the response header arrives
  uint32_t idle_ms = 60000;     // between two reads of a response body
  bool operator==(const Timeouts&) const = default;
};

// policy.auth of an APIRoute (SPEC §3.2): the methods a request may authenticate with (any one
// suffices) against the consumers of `consumer_namespace`.
struct JwtSettings {
  std::string issuer;                  // empty: any
  std::vector<std::string> audiences;  // empty: any
  std::string jwks_json;               // a JWKS document from a Secret (may hold HMAC keys)
  std::string jwks_uri;                // fetched by the proxy
  std::string hmac_secret;             // raw bytes, for HS*
  std::vector<std::string> algorithms;
  uint32_t clock_skew_seconds = 30;
  std::vector<std::pair<std::string, std::string>> claims_to_headers;  // claim → header
  std::string consumer_claim = "sub";
  bool operator==(const JwtSettings&) const = default;
};

struct AuthPolicy {
  bool jwt = false;
  JwtSettings jwt_settings;
  bool api_key = false;
  std::string api_key_header = "X-API-Key";
  std::string api_key_query_param;  // empty: the header only
  bool basic = false;
  std::string basic_realm = "atrium";
  std::string consumer_namespace;
  std::vector<std::string> allow_consumers;  // both empty: every consumer
  std::vector<std::string> allow_groups;
  bool strip_credentials = false;
  bool operator==(const AuthPolicy&) const = default;
};

// policy.cache (SPEC §3.2, §5.4): responses kept in the in-memory cache of the replica.
struct CachePolicy {
  uint32_t ttl_ms = 0;  // freshness when the response gives none (0: only what it gives)
  std::vector<std::string> methods = {"GET", "HEAD"};  // upper-case; HEAD is served from GET
  std::vector<std::string> vary;  // request header names (lower-case) added to the key
  bool respect_cache_control = true;  // request and response Cache-Control / Expires
  uint32_t stale_if_error_ms = 0;     // how long past freshness an entry may stand in
  uint64_t max_object_bytes = 1024 * 1024;
  // Query parameters that make up the key (sorted by name); empty with !key_whole_query: none.
  bool key_whole_query = true;  // keyQueryParams absent: the whole query, in normalised order
  std::vector<std::string> key_query_params;
  // Responses to authenticated requests are cached per consumer unless shared.
  bool share_across_consumers = false;
  bool cache_set_cookie = false;  // Set-Cookie responses are never stored unless true
  bool operator==(const CachePolicy&) const = default;
};

// policy.cors (SPEC §3.2): the gateway answers preflights itself and adds the CORS headers.
struct CorsPolicy {
  // Exact origins ("https://app.example.com"), one-label-or-more wildcards
  // ("https://*.example.com"), or "*" (any origin; never echoed with credentials).
  std::vector<std::string> allow_origins;
  std::vector<std::string> allow_methods;  // upper-case; empty: GET, HEAD, POST
  std::vector<std::string> allow_headers;  // lower-case; empty: what the preflight asks for
  std::vector<std::string> expose_headers;
  bool allow_credentials = false;
  uint32_t max_age_s = 0;  // 0: no Access-Control-Max-Age
  bool operator==(const CorsPolicy&) const = default;
};

// A rule's `aggregate` (SPEC §5.5): several upstream calls made concurrently, their answers
// combined into one JSON object keyed by call name.
struct AggregateCall {
  std::string name;     // [A-Za-z_][A-Za-z0-9_-]*, unique in the bundle
  std::string cluster;  // empty when the service could not be resolved (the call fails)
  std::string unresolved_reason;
  std::string method = "GET";
  // Origin-form target template: "/users/{query.id}?expand={header.x-expand}". The host is the
  // cluster's: a placeholder's value is percent-encoded and can never change it.
  std::string path;
  bool operator==(const AggregateCall&) const = default;
};

enum class AggregateOnError : uint8_t { Partial, Fail };

struct Aggregate {
  std::vector<AggregateCall> calls;
  uint32_t timeout_ms = 0;  // for the whole bundle; 0: the route's request timeout
  AggregateOnError on_error = AggregateOnError::Partial;
  // A call's response body above this is a failed call (the bundle is held in memory).
  uint64_t max_call_body_bytes = 1024 * 1024;
  bool operator==(const Aggregate&) const = default;
};

enum class RetryOn : uint8_t { ConnectFailure, Reset, Status502, Status503, Status504 };

struct RetryPolicy {
  uint32_t attempts = 0;  // extra tries after the first (0: none)
  std::vector<RetryOn> retry_on = {RetryOn::ConnectFailure, RetryOn::Reset};
  uint32_t per_try_timeout_ms = 0;  // 0: the request timeout
  uint32_t backoff_ms = 25;         // base of the jittered exponential backoff
  bool retry_non_idempotent = false;  // POST/PATCH too (only with a buffered body)
  bool operator==(const RetryPolicy&) const = default;
};

struct CircuitBreaker {
  uint32_t consecutive_failures = 5;  // 0: never opens on failures
  uint32_t open_for_ms = 30'000;
  uint32_t max_connections = 0;       // 0: unlimited
  uint32_t max_pending_requests = 0;  // 0: unlimited
  bool operator==(const CircuitBreaker&) const = default;
};

struct HealthCheck {
  std::string path = "/healthz";
  uint32_t interval_ms = 5000;
  uint32_t timeout_ms = 1000;
  uint32_t unhealthy_threshold = 3;
  uint32_t healthy_threshold = 2;
  bool operator==(const HealthCheck&) const = default;
};

enum class LoadBalancer : uint8_t { RoundRobin, LeastRequest, ConsistentHash };
enum class HashOn : uint8_t { ClientIP, Header, Cookie };

// policy.rateLimit (SPEC §3.2) and an APIConsumer's plan.rateLimit: token buckets that hold
// `requests + burst` tokens and refill `requests` per `period`.
enum class RateLimitKey { Consumer, ClientIP, Route, Header };

struct RateLimit {
  uint64_t requests = 0;
  uint64_t period_ms = 0;
  uint64_t burst = 0;
  // Consumer falls back to the client IP for a request without an authenticated consumer.
  RateLimitKey key = RateLimitKey::Consumer;
  std::string header;  // lower-case, with key Header
  bool operator==(const RateLimit&) const = default;
};

struct RateLimitPolicy {
  std::vector<RateLimit> limits;  // a request must pass all of them
  bool global = false;            // counted across replicas in Redis (--redis)
  // Routes with the same scope share buckets: "ns/name" for a policy written route-wide (all
  // rules of the APIRoute share it), "ns/name/rule" for a rule's own policy.
  std::string scope;
  bool operator==(const RateLimitPolicy&) const = default;
};

enum class QuotaPeriod { Day, Month };  // calendar periods, UTC

// An APIConsumer's plan (SPEC §3.3).
struct Plan {
  std::optional<RateLimit> rate_limit;  // key is always Consumer; counted in Redis when set
  uint64_t quota_requests = 0;          // 0: no quota
  QuotaPeriod quota_period = QuotaPeriod::Month;
  std::string currency;            // ISO 4217; empty: no pricing
  std::string per_thousand_requests;  // a validated decimal string, e.g. "0.40"
  bool operator==(const Plan&) const = default;
};

// An APIConsumer with its credentials as the proxy checks them. API keys are kept only as
// SHA-256 digests; a Basic password as its bcrypt hash or the SHA-256 digest of the plain one.
// None of it is written by toJson.
struct Consumer {
  std::string ns;
  std::string name;
  std::vector<std::string> groups;
  std::vector<std::string> api_key_sha256;  // hex
  std::string basic_username;
  std::string basic_password;  // "$2b$..." (bcrypt) or "sha256:<hex>"
  std::string jwt_subject;     // the consumerClaim value of this consumer's tokens
  std::string display_name;
  Plan plan;
  bool operator==(const Consumer&) const = default;
};

struct Route {
  std::string name;    // metrics/log label: namespace/name[/rule]
  std::string source;  // the object it came from: "Ingress shop/web" / "APIRoute shop/orders"
  // Precedence tie-breakers after the match itself: older objects first, then list order.
  uint32_t object_rank = 0;
  uint32_t rule_index = 0;
  std::vector<RouteMatch> matches;
  // Ingress defaultBackend: answers what no other route of these hosts matched.
  bool is_default_backend = false;
  std::vector<WeightedBackend> backends;
  std::optional<DirectResponse> direct_response;
  std::optional<Redirect> redirect;
  UrlRewrite rewrite;
  HeaderModifier request_headers;
  HeaderModifier response_headers;
  Timeouts timeouts;
  uint64_t max_request_body_bytes = 10 * 1024 * 1024;
  // Client-IP filters (CIDRs, IPv4 or IPv6). With a non-empty allow list only those clients are
  // served; the deny list is checked first.
  std::vector<std::string> ip_allow;
  std::vector<std::string> ip_deny;
  // Plain-HTTP requests are answered 308 to the https URL (Ingress TLS hosts with
  // ssl-redirect, APIRoute tls.redirectHTTP).
  bool https_redirect = false;
  // Strict-Transport-Security value added to responses sent over TLS; empty: none.
  std::string hsts;
  // Only requests over a TLS connection that presented a verified client certificate are
  // served (APIRoute tls.clientValidation without optional); others get 403.
  bool client_cert_required = false;
  std::optional<AuthPolicy> auth;  // none: no authentication
  std::optional<RateLimitPolicy> rate_limit;
  std::optional<CachePolicy> cache;
  std::optional<RetryPolicy> retries;
  std::optional<CircuitBreaker> circuit_breaker;
  std::optional<HealthCheck> health_check;
  LoadBalancer load_balancer = LoadBalancer::RoundRobin;
  HashOn hash_on = HashOn::ClientIP;
  std::string hash_on_name;  // the header (lower-case) or cookie name for Header/Cookie
  // Answered when no backend can serve (no ready endpoint, circuit open, retries exhausted)
  // and no stale cache entry stands in.
  std::optional<DirectResponse> fallback;
  std::optional<CorsPolicy> cors;
  std::optional<Aggregate> aggregate;  // instead of backends: answer with a bundle of calls
  bool operator==(const Route&) const = default;
};

struct VirtualHost {
  // Lower-case exact name, a one-label wildcard "*.example.com", or "" for any host.
  std::string hostname;
  std::vector<Route> routes;
  bool operator==(const VirtualHost&) const = default;
};

struct Endpoint {
  std::string address;  // IPv4/IPv6 literal, or a DNS name (ExternalName services)
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

struct Cluster {
  std::string name;  // "namespace/service:port" or "url:<scheme>://host:port"
  std::vector<Endpoint> endpoints;  // the endpoints to balance over (ready ones)
  bool tls = false;                 // upstream speaks HTTPS
  // With tls: verify the upstream's certificate (against tls_ca_pem, or the system CAs when
  // empty) for tls_server_name (or the endpoint's host name when empty).
  bool tls_verify = false;
  std::string tls_ca_pem;
  std::string tls_server_name;
  bool operator==(const Cluster&) const = default;
};

// A certificate and its private key, from one kubernetes.io/tls Secret, already checked by the
// controller (both parse, the key matches the leaf). The key never appears in /config or logs.
struct TlsCertificate {
  std::string name;       // "namespace/secret"
  std::string chain_pem;  // leaf first, then intermediates
  std::string key_pem;
  std::string sha256;     // of chain and key: identifies the content (caches, /config)
  bool operator==(const TlsCertificate&) const = default;
};

// Client-certificate verification for a TLS host.
struct ClientValidation {
  std::string ca_name;  // "namespace/secret/key", for logs
  std::string ca_pem;
  bool optional = false;  // a client without a certificate is served (without identity)
  bool operator==(const ClientValidation&) const = default;
};

struct TlsHost {
  std::string hostname;     // exact, or a one-label wildcard "*.example.com"
  std::string certificate;  // a TlsCertificate name; empty: the default certificate
  // Verify client certificates; an empty ca_pem refuses every client (the CA was unusable).
  std::optional<ClientValidation> client_validation;
  bool operator==(const TlsHost&) const = default;
};

struct ConfigSnapshot {
  std::vector<VirtualHost> virtual_hosts;  // sorted by hostname
  std::vector<Cluster> clusters;           // sorted by name
  std::vector<TlsCertificate> certificates;  // sorted by name
  std::vector<TlsHost> tls_hosts;            // sorted by hostname
  // For connections without SNI or with a name not in tls_hosts: a certificate name, or empty
  // for the self-signed certificate the proxy makes at start.
  std::string default_certificate;
  // Secrets referenced for TLS that could not be used (reported by the translator, exported
  // as atrium_tls_invalid_secrets).
  uint32_t invalid_tls_secrets = 0;
  std::vector<Consumer> consumers;  // sorted by namespace, name
  bool operator==(const ConfigSnapshot&) const = default;
};

// Returns one line per broken invariant; empty when the snapshot can be published.
std::vector<std::string> validate(const ConfigSnapshot& snapshot);

const Cluster* findCluster(const ConfigSnapshot& snapshot, const std::string& name);

}  // namespace atrium::config
