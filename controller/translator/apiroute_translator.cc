// APIRoute (atrium.dev/v1alpha1) → routes: the routing part of SPEC §3.2 (hostnames, matches,
// weighted backends, filters, direct responses) and its policy. Any invalid policy value is an
// error that keeps the route (in spec.policy) or the rule (in a rule's policy) out: an invalid
// auth or rateLimit because serving without them would expose the service, and the others
// (timeouts, cache, cors, retries, circuitBreaker, healthCheck, loadBalancer, hashOn, fallback,
// ipAllow, ...) alike, because serving with settings other than the ones written (a cache keyed
// differently, retried POSTs, no breaker) would surprise more than a route that is reported and
// not served.
#include <set>

#include "controller/translator/aggregate_reader.h"
#include "controller/translator/backend_ref_reader.h"
#include "controller/translator/cache_reader.h"
#include "controller/translator/cors_reader.h"
#include "controller/translator/field_reader.h"
#include "controller/translator/rate_limit_reader.h"
#include "controller/translator/resilience_reader.h"
#include "controller/translator/translation_context.h"
#include "controller/translator/unit_reader.h"
#include "controller/translator/validation.h"
#include "src/common/base64.h"
#include "src/common/units.h"

namespace atrium::controller::translator {

namespace {

struct PolicyFields {
  config::Timeouts timeouts;
  uint64_t max_body = config::Route{}.max_request_body_bytes;
  std::vector<std::string> ip_allow, ip_deny;
  std::optional<config::AuthPolicy> auth;  // a rule's auth replaces the route's whole
  // Likewise a rule's rateLimit; rate_limit_path is where it was written, for diagnostics.
  std::optional<config::RateLimitPolicy> rate_limit;
  std::string rate_limit_path;
  // Inside cache, cors, retries, circuitBreaker and healthCheck a rule's fields override the
  // route's one by one (as within timeouts); unset: the feature is off.
  std::optional<config::CachePolicy> cache;
  std::optional<config::CorsPolicy> cors;
  std::optional<config::RetryPolicy> retries;
  std::optional<config::CircuitBreaker> circuit_breaker;
  std::optional<config::HealthCheck> health_check;
  std::optional<config::LoadBalancer> load_balancer;  // unset: RoundRobin
  // Unset: ClientIP. hash_on_path is where it was written, for the unused-hashOn warning.
  std::optional<HashKey> hash_on;
  std::string hash_on_path;
  std::optional<config::DirectResponse> fallback;  // a rule's replaces the route's as a whole
};

// A realm goes into WWW-Authenticate inside quotes: printable, no quote or backslash.
bool isRealm(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

// data[key] of a Secret of the route's namespace, for JWT key material; reported when unusable.
// The object is then not cached (translation_cache.h): a replay could not see the Secret change.
std::optional<std::string> jwtSecretValue(TranslationContext& ctx, FieldReader& r,
                                          const nlohmann::json& jwt, const std::string& jpath,
                                          const char* field, const std::string& ns) {
  const auto* ref = r.object(jwt, jpath, field);
  if (!ref) return std::nullopt;
  if (ctx.recording) ctx.recording->uncacheable = true;
  const std::string rpath = FieldReader::join(jpath, field);
  auto name = r.string(*ref, rpath, "name");
  auto key = r.string(*ref, rpath, "key");
  if (!name || !key) {
    r.error(rpath, "needs name and key");
    return std::nullopt;
  }
  const KubeObject* secret = ctx.objects.find("Secret", ns, *name);
  const auto& value = secret ? jsonAt(jsonAt(secret->body, "data"), key->c_str()) : jsonAt({}, "");
  if (!value.is_string()) {
    r.error(rpath, secret ? "Secret " + ns + "/" + *name + " has no data key \"" + *key + "\""
                          : "Secret " + ns + "/" + *name + " not found");
    return std::nullopt;
  }
  try {
    return common::decodeBase64(value.get<std::string>());
  } catch (const std::exception&) {
    r.error(rpath, "Secret " + ns + "/" + *name + " data key \"" + *key + "\" is not base64");
    return std::nullopt;
  }
}

// policy.auth.jwt → verification settings. Without any key source the route could never
// authenticate anyone, which is reported.
void readJwt(TranslationContext& ctx, FieldReader& r, const nlohmann::json& auth,
             const std::string& path, const std::string& ns, config::AuthPolicy& policy) {
  static const std::set<std::string> kAlgorithms = {"HS256", "HS384", "HS512", "RS256", "RS384",
                                                    "RS512", "PS256", "ES256", "ES384"};
  const auto* jwt = r.object(auth, path, "jwt");
  const std::string jpath = FieldReader::join(path, "jwt");
  if (!jwt) {
    r.error(jpath, "is required for JWT authentication");
    return;
  }
  auto& s = policy.jwt_settings;
  s.issuer = r.string(*jwt, jpath, "issuer").value_or("");
  if (const auto* audiences = r.array(*jwt, jpath, "audiences")) {
    for (const auto& a : *audiences) {
      if (a.is_string()) s.audiences.push_back(a.get<std::string>());
    }
  }
  s.jwks_uri = r.string(*jwt, jpath, "jwksURI").value_or("");
  if (!s.jwks_uri.empty() && s.jwks_uri.rfind("http://", 0) != 0 &&
      s.jwks_uri.rfind("https://", 0) != 0) {
    r.error(FieldReader::join(jpath, "jwksURI"), "must be an http:// or https:// URL");
  }
  if (auto jwks = jwtSecretValue(ctx, r, *jwt, jpath, "jwksSecretRef", ns)) s.jwks_json = *jwks;
  if (auto hmac = jwtSecretValue(ctx, r, *jwt, jpath, "hmacSecretRef", ns)) s.hmac_secret = *hmac;
  if (const auto* algorithms = r.array(*jwt, jpath, "algorithms")) {
    for (size_t i = 0; i < algorithms->size(); ++i) {
      const auto& a = (*algorithms)[i];
      if (!a.is_string() || !kAlgorithms.count(a.get<std::string>())) {
        r.error(FieldReader::index(FieldReader::join(jpath, "algorithms"), i),
                "must be one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, ES256, ES384");
        continue;
      }
      s.algorithms.push_back(a.get<std::string>());
    }
  }
  if (auto skew = r.string(*jwt, jpath, "clockSkew")) {
    auto d = common::parseDuration(*skew);  // 0s is allowed: no tolerance at all
    if (!d || d->count() < 0 || *d > std::chrono::hours(24)) {
      r.error(FieldReader::join(jpath, "clockSkew"), "must be a duration up to 24h (e.g. 30s)");
    } else {
      s.clock_skew_seconds = static_cast<uint32_t>(d->count() / 1000);
    }
  }
  if (const auto* claims = r.array(*jwt, jpath, "claimsToHeaders")) {
    for (size_t i = 0; i < claims->size(); ++i) {
      const std::string cpath = FieldReader::index(FieldReader::join(jpath, "claimsToHeaders"), i);
      auto claim = r.string((*claims)[i], cpath, "claim");
      auto header = r.string((*claims)[i], cpath, "header");
      if (!claim || !header || !isHeaderName(*header)) {
        r.error(cpath, "needs a claim and an HTTP header name");
        continue;
      }
      s.claims_to_headers.emplace_back(*claim, *header);
    }
  }
  s.consumer_claim = r.string(*jwt, jpath, "consumerClaim").value_or("sub");
  if (s.jwks_json.empty() && s.jwks_uri.empty() && s.hmac_secret.empty() &&
      !jwt->contains("jwksSecretRef") && !jwt->contains("hmacSecretRef")) {
    r.error(jpath, "needs jwksSecretRef, jwksURI or hmacSecretRef");
  }
}

std::optional<config::AuthPolicy> readAuth(TranslationContext& ctx, FieldReader& r,
                                           const nlohmann::json& auth, const std::string& path,
                                           const std::string& ns) {
  const size_t errors_before = r.errorCount();
  std::vector<std::string> types;
  if (auto type = r.string(auth, path, "type")) types.push_back(*type);
  if (const auto* any = r.array(auth, path, "anyOf")) {
    for (size_t i = 0; i < any->size(); ++i) {
      const auto& t = (*any)[i];
      if (t.is_string()) {
        types.push_back(t.get<std::string>());
      } else {
        r.error(FieldReader::index(FieldReader::join(path, "anyOf"), i),
                "must be an authentication type (APIKey, Basic, JWT, None)");
      }
    }
  }
  if (auth.contains("type") && auth.contains("anyOf")) {
    r.error(path, "set either type or anyOf, not both");
  }
  if (types.empty() && r.errorCount() == errors_before) {
    r.error(path, "needs type or anyOf");
  }
  config::AuthPolicy policy;
  policy.consumer_namespace = ns;
  bool none = false;
  for (const auto& t : types) {
    if (t == "APIKey") {
      policy.api_key = true;
    } else if (t == "Basic") {
      policy.basic = true;
    } else if (t == "None") {
      none = true;
    } else if (t == "JWT") {
      if (!policy.jwt) readJwt(ctx, r, auth, path, ns, policy);
      policy.jwt = true;
    } else {
      r.error(path, "unknown authentication type \"" + t + "\" (APIKey, Basic, JWT, None)");
    }
  }
  if (const auto* k = r.object(auth, path, "apiKey")) {
    const std::string kpath = FieldReader::join(path, "apiKey");
    if (auto header = r.string(*k, kpath, "header")) {
      if (!isHeaderName(*header)) {
        r.error(FieldReader::join(kpath, "header"), "must be an HTTP header name");
      }
      policy.api_key_header = *header;
    }
    if (auto param = r.string(*k, kpath, "queryParam")) {
      if (param->empty() || param->find_first_of("&=#?% \t\r\n") != std::string::npos) {
        r.error(FieldReader::join(kpath, "queryParam"), "must be a plain query parameter name");
      }
      policy.api_key_query_param = *param;
    }
  }
  if (const auto* b = r.object(auth, path, "basic")) {
    const std::string bpath = FieldReader::join(path, "basic");
    if (auto realm = r.string(*b, bpath, "realm")) {
      if (!isRealm(*realm)) {
        r.error(FieldReader::join(bpath, "realm"),
                "must be 1-128 printable characters without quotes or backslashes");
      }
      policy.basic_realm = *realm;
    }
  }
  if (const auto* consumers = r.array(auth, path, "allowConsumers")) {
    for (const auto& c : *consumers) {
      if (c.is_string()) policy.allow_consumers.push_back(c.get<std::string>());
    }
  }
  if (const auto* groups = r.array(auth, path, "allowGroups")) {
    for (const auto& g : *groups) {
      if (g.is_string()) policy.allow_groups.push_back(g.get<std::string>());
    }
  }
  policy.strip_credentials = r.boolean(auth, path, "stripCredentials").value_or(false);
  if (r.errorCount() != errors_before) return std::nullopt;
  if (none && !policy.api_key && !policy.basic && !policy.jwt) return std::nullopt;  // open
  if (none) {
    // "anyOf: [None, APIKey]" would let everyone in while looking protected.
    r.error(path, "None cannot be combined with other authentication types");
    return std::nullopt;
  }
  return policy;
}

std::vector<std::string> readCidrs(FieldReader& r, const nlohmann::json& parent,
                                   const std::string& path, const char* key) {
  std::vector<std::string> out;
  const auto* list = r.array(parent, path, key);
  if (!list) return out;
  for (size_t i = 0; i < list->size(); ++i) {
    const auto& v = (*list)[i];
    if (!v.is_string() || !isCidr(v.get<std::string>())) {
      r.error(FieldReader::index(FieldReader::join(path, key), i),
              "must be a CIDR such as 10.0.0.0/8");
      continue;
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

// directResponse and policy.fallback: a response the gateway answers itself. The content type
// is sent as a header: a CR or LF in it would let a manifest inject headers.
std::optional<config::DirectResponse> readDirectResponse(FieldReader& r, const nlohmann::json& dr,
                                                         const std::string& dpath) {
  const size_t errors_before = r.errorCount();
  r.unknownFields(dr, dpath, {"status", "contentType", "body"});
  config::DirectResponse response;
  const int64_t status = r.integer(dr, dpath, "status").value_or(200);
  if (status < 200 || status > 599) {
    r.error(FieldReader::join(dpath, "status"), "must be between 200 and 599");
  }
  response.status = static_cast<int>(status);
  response.content_type = r.string(dr, dpath, "contentType").value_or("text/plain");
  if (!isHeaderValue(response.content_type)) {
    r.error(FieldReader::join(dpath, "contentType"), "must not contain control characters");
  }
  response.body = r.string(dr, dpath, "body").value_or("");
  if (r.errorCount() != errors_before) return std::nullopt;
  return response;
}

// policy.loadBalancer and policy.hashOn (the strings beside each other in one policy).
void readBalancing(FieldReader& r, const nlohmann::json& policy, const std::string& path,
                   PolicyFields& out) {
  if (auto lb = r.string(policy, path, "loadBalancer")) {
    if (auto v = parseLoadBalancer(r, *lb, FieldReader::join(path, "loadBalancer"))) {
      out.load_balancer = *v;
    }
  }
  if (auto hash = r.string(policy, path, "hashOn")) {
    const std::string hpath = FieldReader::join(path, "hashOn");
    if (auto v = parseHashOn(r, *hash, hpath)) {
      out.hash_on = std::move(*v);
      out.hash_on_path = hpath;
    }
  }
}

// Applies `policy` on top of `base` (rule policies override route-wide fields one by one).
// `rate_limit_scope` names the buckets of a rateLimit written here (RateLimitPolicy::scope).
PolicyFields readPolicy(TranslationContext& ctx, FieldReader& r, const nlohmann::json* policy,
                        const std::string& path, PolicyFields base,
                        const std::string& rate_limit_scope) {
  if (!policy) return base;
  if (const auto* auth = r.object(*policy, path, "auth")) {
    base.auth = readAuth(ctx, r, *auth, FieldReader::join(path, "auth"), r.kubeObject().ns);
  }
  if (const auto* rate_limit = r.object(*policy, path, "rateLimit")) {
    base.rate_limit_path = FieldReader::join(path, "rateLimit");
    base.rate_limit = readRateLimitPolicy(r, *rate_limit, base.rate_limit_path, rate_limit_scope);
  }
  static const std::set<std::string> kKnown = {"auth",
                                               "rateLimit",
                                               "cache",
                                               "timeouts",
                                               "retries",
                                               "circuitBreaker",
                                               "healthCheck",
                                               "loadBalancer",
                                               "hashOn",  // ConsistentHash's key, beside it
                                               "fallback",
                                               "cors",
                                               "ipAllow",
                                               "ipDeny",
                                               "maxRequestBodySize"};
  for (const auto& [key, value] : policy->items()) {
    if (!kKnown.count(key))
      r.warning(FieldReader::join(path, key.c_str()), "unknown field, ignored");
  }
  if (const auto* t = r.object(*policy, path, "timeouts")) {
    const std::string tpath = FieldReader::join(path, "timeouts");
    if (auto v = readDurationMs(r, *t, tpath, "connect")) base.timeouts.connect_ms = *v;
    if (auto v = readDurationMs(r, *t, tpath, "request")) base.timeouts.request_ms = *v;
    if (auto v = readDurationMs(r, *t, tpath, "idle")) base.timeouts.idle_ms = *v;
  }
  if (auto v = readByteSize(r, *policy, path, "maxRequestBodySize")) base.max_body = *v;
  if (const auto* c = r.object(*policy, path, "cache")) {
    base.cache = readCachePolicy(r, *c, FieldReader::join(path, "cache"),
                                 base.cache.value_or(config::CachePolicy{}));
  }
  if (const auto* c = r.object(*policy, path, "cors")) {
    base.cors = readCorsPolicy(r, *c, FieldReader::join(path, "cors"),
                               base.cors.value_or(config::CorsPolicy{}));
  }
  if (const auto* rt = r.object(*policy, path, "retries")) {
    base.retries = readRetryPolicy(r, *rt, FieldReader::join(path, "retries"),
                                   base.retries.value_or(config::RetryPolicy{}));
  }
  if (const auto* cb = r.object(*policy, path, "circuitBreaker")) {
    base.circuit_breaker =
        readCircuitBreaker(r, *cb, FieldReader::join(path, "circuitBreaker"),
                           base.circuit_breaker.value_or(config::CircuitBreaker{}));
  }
  if (const auto* hc = r.object(*policy, path, "healthCheck")) {
    base.health_check = readHealthCheck(r, *hc, FieldReader::join(path, "healthCheck"),
                                        base.health_check.value_or(config::HealthCheck{}));
  }
  readBalancing(r, *policy, path, base);
  if (const auto* fb = r.object(*policy, path, "fallback")) {
    const std::string fpath = FieldReader::join(path, "fallback");
    if (isAbsent(*fb, "status")) {
      r.error(FieldReader::join(fpath, "status"), "is required");  // as the CRD says
    }
    base.fallback = readDirectResponse(r, *fb, fpath);
  }
  if (policy->contains("ipAllow")) base.ip_allow = readCidrs(r, *policy, path, "ipAllow");
  if (policy->contains("ipDeny")) base.ip_deny = readCidrs(r, *policy, path, "ipDeny");
  return base;
}

std::vector<config::StringMatch> readStringMatches(FieldReader& r, const nlohmann::json& parent,
                                                   const std::string& path, const char* key,
                                                   bool header) {
  std::vector<config::StringMatch> out;
  const auto* list = r.array(parent, path, key);
  if (!list) return out;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string ipath = FieldReader::index(FieldReader::join(path, key), i);
    const auto& item = (*list)[i];
    config::StringMatch m;
    auto name = r.string(item, ipath, "name");
    auto type = r.string(item, ipath, "type").value_or("Exact");
    auto value = r.string(item, ipath, "value");
    if (!name || name->empty() || (header && !isHeaderName(*name))) {
      r.error(FieldReader::join(ipath, "name"),
              header ? "must be a valid header name" : "is required");
      continue;
    }
    if (!value) {
      r.error(FieldReader::join(ipath, "value"), "is required");
      continue;
    }
    if (type == "Exact") {
      m.type = config::StringMatchType::Exact;
    } else if (type == "RegularExpression") {
      m.type = config::StringMatchType::RegularExpression;
      if (auto err = checkRegex(*value); !err.empty()) {
        r.error(FieldReader::join(ipath, "value"), err);
        continue;
      }
    } else {
      r.error(FieldReader::join(ipath, "type"), "must be Exact or RegularExpression");
      continue;
    }
    m.name = *name;
    if (header) {
      for (auto& c : m.name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    m.value = *value;
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<config::RouteMatch> readMatch(FieldReader& r, const nlohmann::json& item,
                                            const std::string& path) {
  const size_t errors_before = r.errorCount();
  config::RouteMatch m;
  if (const auto* p = r.object(item, path, "path")) {
    const std::string ppath = FieldReader::join(path, "path");
    auto type = r.string(*p, ppath, "type").value_or("PathPrefix");
    auto value = r.string(*p, ppath, "value").value_or("/");
    if (type == "Exact" || type == "PathPrefix") {
      if (auto err = normalizeMatchPath(value); !err.empty()) {
        r.error(FieldReader::join(ppath, "value"), err);
      }
      m.path = type == "Exact"
                   ? config::PathMatch{config::PathType::Exact, value}
                   : config::PathMatch{config::PathType::Prefix, canonicalPrefix(value)};
    } else if (type == "RegularExpression") {
      if (auto err = checkRegex(value); !err.empty())
        r.error(FieldReader::join(ppath, "value"), err);
      m.path = {config::PathType::RegularExpression, value};
    } else {
      r.error(FieldReader::join(ppath, "type"), "must be Exact, PathPrefix or RegularExpression");
    }
  }
  if (auto method = r.string(item, path, "method")) {
    if (!isMethod(*method)) {
      r.error(FieldReader::join(path, "method"), "unknown method \"" + *method + "\"");
    }
    m.method = *method;
  }
  m.headers = readStringMatches(r, item, path, "headers", true);
  m.query_params = readStringMatches(r, item, path, "queryParams", false);
  if (r.errorCount() != errors_before) return std::nullopt;
  return m;
}

// Headers the gateway itself manages per hop: changing them from configuration would break the
// message framing (Content-Length, Transfer-Encoding: the next hop would read the body as
// another request) or the connection handling.
bool isManagedHeader(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::set<std::string> kManaged = {"content-length",   "transfer-encoding",
                                                 "connection",       "keep-alive",
                                                 "proxy-connection", "te",
                                                 "trailer",          "upgrade"};
  return kManaged.count(name) > 0;
}

bool readHeaderModifier(FieldReader& r, const nlohmann::json& parent, const std::string& path,
                        const char* key, config::HeaderModifier& out) {
  const auto* mod = r.object(parent, path, key);
  if (!mod) return true;
  const std::string mpath = FieldReader::join(path, key);
  bool ok = true;
  for (const char* op : {"set", "add"}) {
    const auto* map = r.object(*mod, mpath, op);
    if (!map) continue;
    for (const auto& [name, value] : map->items()) {
      const std::string field = FieldReader::join(mpath, op) + "[" + name + "]";
      if (!isHeaderName(name)) {
        r.error(field, "invalid header name");
        ok = false;
      } else if (isManagedHeader(name)) {
        r.error(field, "is managed by the gateway and cannot be changed");
        ok = false;
      } else if (!value.is_string() || !isHeaderValue(value.get<std::string>())) {
        // CR/LF in a configured value would let a manifest inject headers.
        r.error(field, "must be a string without control characters");
        ok = false;
      } else {
        (std::string(op) == "set" ? out.set : out.add).emplace_back(name, value.get<std::string>());
      }
    }
  }
  if (const auto* remove = r.array(*mod, mpath, "remove")) {
    for (size_t i = 0; i < remove->size(); ++i) {
      const auto& v = (*remove)[i];
      if (!v.is_string() || !isHeaderName(v.get<std::string>())) {
        r.error(FieldReader::index(FieldReader::join(mpath, "remove"), i), "invalid header name");
        ok = false;
      } else if (isManagedHeader(v.get<std::string>())) {
        r.error(FieldReader::index(FieldReader::join(mpath, "remove"), i),
                "is managed by the gateway and cannot be changed");
        ok = false;
      } else {
        out.remove.push_back(v.get<std::string>());
      }
    }
  }
  return ok;
}

bool readFilters(FieldReader& r, const nlohmann::json& rule, const std::string& path,
                 config::Route& route) {
  const auto* filters = r.object(rule, path, "filters");
  if (!filters) return true;
  const std::string fpath = FieldReader::join(path, "filters");
  const size_t errors_before = r.errorCount();
  if (const auto* rw = r.object(*filters, fpath, "rewrite")) {
    const std::string rpath = FieldReader::join(fpath, "rewrite");
    if (auto h = r.string(*rw, rpath, "hostname")) {
      if (auto err = checkHostname(*h); !err.empty() || h->front() == '*') {
        r.error(FieldReader::join(rpath, "hostname"), err.empty() ? "must not be a wildcard" : err);
      }
      route.rewrite.hostname = *h;
    }
    auto prefix = r.string(*rw, rpath, "pathPrefix");
    auto full = r.string(*rw, rpath, "path");
    if (prefix && full) r.error(rpath, "set either path or pathPrefix, not both");
    for (auto* p : {&prefix, &full}) {
      if (*p && !checkPath(**p).empty()) {
        r.error(FieldReader::join(rpath, p == &prefix ? "pathPrefix" : "path"), checkPath(**p));
      }
    }
    if (prefix) {
      for (const auto& m : route.matches) {
        if (m.path.type != config::PathType::Prefix) {
          r.error(FieldReader::join(rpath, "pathPrefix"), "needs PathPrefix matches");
          break;
        }
      }
      route.rewrite.path_prefix = *prefix;
    }
    if (full) route.rewrite.full_path = *full;
  }
  if (const auto* rd = r.object(*filters, fpath, "redirect")) {
    const std::string dpath = FieldReader::join(fpath, "redirect");
    config::Redirect redirect;
    if (auto s = r.string(*rd, dpath, "scheme")) {
      if (*s != "http" && *s != "https")
        r.error(FieldReader::join(dpath, "scheme"), "must be http or https");
      redirect.scheme = *s;
    }
    if (auto h = r.string(*rd, dpath, "hostname")) {
      if (auto err = checkHostname(*h); !err.empty())
        r.error(FieldReader::join(dpath, "hostname"), err);
      redirect.hostname = *h;
    }
    if (auto p = r.integer(*rd, dpath, "port")) {
      if (*p < 1 || *p > 65535)
        r.error(FieldReader::join(dpath, "port"), "must be between 1 and 65535");
      redirect.port = static_cast<uint32_t>(*p);
    }
    auto prefix = r.string(*rd, dpath, "pathPrefix");
    auto full = r.string(*rd, dpath, "path");
    if (prefix && full) r.error(dpath, "set either path or pathPrefix, not both");
    if (prefix) {
      if (auto err = checkPath(*prefix); !err.empty())
        r.error(FieldReader::join(dpath, "pathPrefix"), err);
      // The matched prefix is what gets replaced: without a prefix match there is none.
      for (const auto& m : route.matches) {
        if (m.path.type != config::PathType::Prefix) {
          r.error(FieldReader::join(dpath, "pathPrefix"), "needs PathPrefix matches");
          break;
        }
      }
      redirect.path_prefix = *prefix;
    }
    if (full) {
      if (auto err = checkPath(*full); !err.empty()) r.error(FieldReader::join(dpath, "path"), err);
      redirect.full_path = *full;
    }
    if (auto code = r.integer(*rd, dpath, "statusCode")) {
      if (*code != 301 && *code != 302 && *code != 303 && *code != 307 && *code != 308) {
        r.error(FieldReader::join(dpath, "statusCode"), "must be 301, 302, 303, 307 or 308");
      }
      redirect.status_code = static_cast<int>(*code);
    }
    route.redirect = redirect;
    if (filters->contains("rewrite")) {
      // Gateway API: a request is either redirected or rewritten and forwarded.
      r.error(fpath, "redirect and rewrite cannot both be set");
    }
  }
  readHeaderModifier(r, *filters, fpath, "requestHeaders", route.request_headers);
  readHeaderModifier(r, *filters, fpath, "responseHeaders", route.response_headers);
  return r.errorCount() == errors_before;
}

// backends[i].tls: nullopt when absent (URLs then follow their scheme, Services are plain);
// sets `failed` after reporting an unusable CA reference (the backend must then not be used:
// falling back to no verification would be a silent downgrade).
std::optional<UpstreamTls> readUpstreamTls(TranslationContext& ctx, FieldReader& r,
                                           const KubeObject& object, const nlohmann::json& b,
                                           const std::string& bpath, bool& failed) {
  const auto* tls = r.object(b, bpath, "tls");
  if (!tls) return std::nullopt;
  const std::string tpath = FieldReader::join(bpath, "tls");
  UpstreamTls out;
  out.enabled = true;
  out.verify = !r.boolean(*tls, tpath, "insecureSkipVerify").value_or(false);
  out.server_name = r.string(*tls, tpath, "serverName").value_or("");
  if (!out.server_name.empty() && !checkHostname(out.server_name).empty()) {
    r.error(FieldReader::join(tpath, "serverName"), "must be a DNS name");
    failed = true;
  }
  if (const auto* ref = r.object(*tls, tpath, "caSecretRef")) {
    const std::string rpath = FieldReader::join(tpath, "caSecretRef");
    auto name = r.string(*ref, rpath, "name");
    auto key = r.string(*ref, rpath, "key");
    std::string problem = "needs name and key";
    std::optional<std::string> pem;
    if (name && key) pem = ctx.resolveCaBundle(object.ns, *name, *key, problem);
    if (!pem) {
      r.error(rpath, problem);
      failed = true;
    } else {
      out.ca_pem = *pem;
    }
  }
  if (!out.verify && (!out.ca_pem.empty() || !out.server_name.empty())) {
    r.error(tpath, "insecureSkipVerify excludes caSecretRef and serverName");
    failed = true;
  }
  return out;
}

// A Consumer-keyed limit on a route that authenticates nobody counts per client IP (the data
// plane's fallback): allowed, but said, since the author probably expected per-caller buckets.
void warnUnauthenticatedLimits(FieldReader& r, const PolicyFields& policy,
                               std::set<std::string>& warned) {
  for (size_t i = 0; i < policy.rate_limit->limits.size(); ++i) {
    if (policy.rate_limit->limits[i].key != config::RateLimitKey::Consumer) continue;
    const std::string field = FieldReader::join(
        FieldReader::index(FieldReader::join(policy.rate_limit_path, "limits"), i), "key");
    if (warned.insert(field).second) {
      r.warning(field, "no consumer is authenticated on this route; the client IP is used");
    }
  }
}

// The policy's fields on a route, as read (the load balancer is set by the caller, which also
// judges the hashOn it needs).
void applyPolicy(const PolicyFields& policy, config::Route& route) {
  route.timeouts = policy.timeouts;
  route.max_request_body_bytes = policy.max_body;
  route.ip_allow = policy.ip_allow;
  route.ip_deny = policy.ip_deny;
  route.auth = policy.auth;
  route.rate_limit = policy.rate_limit;
  route.cache = policy.cache;
  route.cors = policy.cors;
  route.retries = policy.retries;
  route.circuit_breaker = policy.circuit_breaker;
  route.health_check = policy.health_check;
  route.fallback = policy.fallback;
}

bool readBackends(TranslationContext& ctx, FieldReader& r, const KubeObject& object,
                  const nlohmann::json& rule, const std::string& path, config::Route& route) {
  const auto* backends = r.array(rule, path, "backends");
  if (!backends) return true;
  const size_t errors_before = r.errorCount();
  for (size_t i = 0; i < backends->size(); ++i) {
    const auto& b = (*backends)[i];
    const std::string bpath = FieldReader::index(FieldReader::join(path, "backends"), i);
    auto weight = r.integer(b, bpath, "weight").value_or(1);
    if (weight < 0 || weight > 1'000'000) {
      r.error(FieldReader::join(bpath, "weight"), "must be between 0 and 1000000");
      continue;
    }
    bool tls_failed = false;
    auto tls = readUpstreamTls(ctx, r, object, b, bpath, tls_failed);
    if (tls_failed) continue;
    if (tls && b.contains("url") && b["url"].is_string() &&
        b["url"].get<std::string>().rfind("https://", 0) != 0) {
      r.error(FieldReader::join(bpath, "tls"), "needs an https:// url");
      continue;
    }
    auto backend = readBackendRef(ctx, r, object, b, bpath, static_cast<uint32_t>(weight), tls);
    if (!backend) continue;
    route.backends.push_back(std::move(*backend));
  }
  return r.errorCount() == errors_before;
}

void translateAPIRoute(TranslationContext& ctx, const KubeObject& object) {
  FieldReader r(object, ctx.diagnostics);
  const auto* spec = r.object(object.body, "", "spec");
  if (!spec) {
    r.error("spec", "is required");
    return;
  }
  std::vector<std::string> hostnames;
  if (const auto* hosts = r.array(*spec, "spec", "hostnames")) {
    for (size_t i = 0; i < hosts->size(); ++i) {
      const auto& h = (*hosts)[i];
      std::string host = h.is_string() ? h.get<std::string>() : "";
      for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (auto err = checkHostname(host); !err.empty()) {
        r.error(FieldReader::index("spec.hostnames", i), err);
        return;  // serving on fewer hosts than declared would surprise; refuse the object
      }
      if (std::find(hostnames.begin(), hostnames.end(), host) == hostnames.end()) {
        hostnames.push_back(host);
      }
    }
  }
  if (hostnames.empty()) hostnames.push_back("");
  // TLS settings that shape the routes themselves; certificates: tls_translator.cc.
  bool https_redirect = false;
  std::string hsts;
  bool client_cert_required = false;
  if (const auto* tls = r.object(*spec, "spec", "tls")) {
    https_redirect = r.boolean(*tls, "spec.tls", "redirectHTTP").value_or(false);
    if (const auto* h = r.object(*tls, "spec.tls", "hsts")) {
      auto max_age = r.integer(*h, "spec.tls.hsts", "maxAge");
      if (!max_age || *max_age < 0) {
        r.error("spec.tls.hsts.maxAge", "is required and must be at least 0");
        return;
      }
      hsts = "max-age=" + std::to_string(*max_age);
      if (r.boolean(*h, "spec.tls.hsts", "includeSubDomains").value_or(false)) {
        hsts += "; includeSubDomains";
      }
      if (r.boolean(*h, "spec.tls.hsts", "preload").value_or(false)) hsts += "; preload";
    }
    if (const auto* cv = r.object(*tls, "spec.tls", "clientValidation")) {
      client_cert_required =
          !r.boolean(*cv, "spec.tls.clientValidation", "optional").value_or(false);
    }
  }
  const size_t policy_errors = r.errorCount();
  // A route-wide rateLimit is one set of buckets for all rules of the object.
  PolicyFields route_policy =
      readPolicy(ctx, r, r.object(*spec, "spec", "policy"), "spec.policy", {}, object.key());
  if (r.errorCount() != policy_errors) return;

  const auto* rules = r.array(*spec, "spec", "rules");
  if (!rules || rules->empty()) {
    r.error("spec.rules", "at least one rule is required");
    return;
  }
  std::set<std::string> rule_names;
  std::set<std::string> warned_limits;  // a route-wide limit is reported once, not per rule
  std::set<std::string> hash_on_used, hash_on_unused;  // field paths of hashOn
  for (size_t i = 0; i < rules->size(); ++i) {
    const auto& rule = (*rules)[i];
    const std::string path = FieldReader::index("spec.rules", i);
    const size_t errors_before = r.errorCount();
    config::Route route;
    auto rule_name = r.string(rule, path, "name");
    if (rule_name &&
        (rule_name->empty() || !checkHostname(*rule_name).empty() ||
         rule_name->find('.') != std::string::npos || !rule_names.insert(*rule_name).second)) {
      r.error(FieldReader::join(path, "name"),
              "must be a unique DNS label (lower-case, digits, '-')");
      continue;
    }
    route.name = object.key() + "/" + (rule_name ? *rule_name : std::to_string(i));
    route.source = object.displayName();
    route.object_rank = ctx.rankOf(object);
    route.rule_index = static_cast<uint32_t>(i);
    if (const auto* matches = r.array(rule, path, "matches")) {
      for (size_t j = 0; j < matches->size(); ++j) {
        if (auto m = readMatch(r, (*matches)[j],
                               FieldReader::index(FieldReader::join(path, "matches"), j))) {
          route.matches.push_back(std::move(*m));
        }
      }
    }
    readFilters(r, rule, path, route);
    readBackends(ctx, r, object, rule, path, route);
    if (const auto* dr = r.object(rule, path, "directResponse")) {
      route.direct_response = readDirectResponse(r, *dr, FieldReader::join(path, "directResponse"));
    }
    if (const auto* agg = r.object(rule, path, "aggregate")) {
      route.aggregate = readAggregate(ctx, r, object, *agg, FieldReader::join(path, "aggregate"));
    }
    const int actions = (route.backends.empty() ? 0 : 1) + (route.direct_response ? 1 : 0) +
                        (route.redirect ? 1 : 0) + (rule.contains("aggregate") ? 1 : 0);
    if (actions != 1 && r.errorCount() == errors_before) {
      r.error(path, "needs exactly one of backends, directResponse, aggregate or filters.redirect");
    }
    // A rule's own rateLimit gets buckets of its own, named like the route.
    PolicyFields policy = readPolicy(ctx, r, r.object(rule, path, "policy"),
                                     FieldReader::join(path, "policy"), route_policy, route.name);
    route.load_balancer = policy.load_balancer.value_or(config::LoadBalancer::RoundRobin);
    if (route.load_balancer == config::LoadBalancer::ConsistentHash) {
      const HashKey key = policy.hash_on.value_or(HashKey{});  // none written: the client IP
      route.hash_on = key.on;
      route.hash_on_name = key.name;
      if (!policy.hash_on_path.empty()) hash_on_used.insert(policy.hash_on_path);
    } else if (!policy.hash_on_path.empty()) {
      hash_on_unused.insert(policy.hash_on_path);
    }
    if (r.errorCount() != errors_before) continue;  // this rule is left out; the others apply
    if (policy.rate_limit && !policy.auth) warnUnauthenticatedLimits(r, policy, warned_limits);
    applyPolicy(policy, route);
    route.https_redirect = https_redirect;
    route.hsts = hsts;
    route.client_cert_required = client_cert_required;
    for (const auto& host : hostnames) ctx.addRoute(host, route);
  }
  // A hashOn written where no rule balances by ConsistentHash (a route-wide one that rules
  // override, or one without the loadBalancer it keys) changes nothing: said once per place.
  for (const auto& field : hash_on_unused) {
    if (!hash_on_used.count(field)) {
      r.warning(field, "is only used with loadBalancer: ConsistentHash; ignored");
    }
  }
}

}  // namespace

void translateAPIRoutes(TranslationContext& ctx) {
  for (const auto& [key, object] : ctx.objects.all("APIRoute")) {
    if (!ctx.inWatchedNamespace(object)) continue;
    std::optional<std::string> class_name;
    const auto& spec = jsonAt(object.body, "spec");
    if (spec.is_object() && spec.contains("ingressClassName") &&
        spec["ingressClassName"].is_string()) {
      class_name = spec["ingressClassName"].get<std::string>();
    }
    if (!ctx.classes.isOurs(class_name)) continue;
    ctx.markServed(object);
    if (ctx.cache) {
      ctx.cache->translate(ctx, object, [&] { translateAPIRoute(ctx, object); });
    } else {
      translateAPIRoute(ctx, object);
    }
  }
}

std::optional<config::Route> apiRoutePolicy(TranslationContext& ctx, const std::string& ns,
                                            const std::string& name,
                                            const std::string& rate_limit_scope,
                                            std::string& problem) {
  // Another object's content: an Ingress that reads it is never reused from the cache.
  if (ctx.recording) ctx.recording->uncacheable = true;
  const KubeObject* object = ctx.objects.find("APIRoute", ns, name);
  if (!object) {
    problem = "APIRoute " + ns + "/" + name + " not found";
    return std::nullopt;
  }
  // What is wrong with the policy is reported on the APIRoute itself, once.
  Diagnostics own;
  FieldReader r(*object, own);
  const auto* spec = r.object(object->body, "", "spec");
  const nlohmann::json* policy = spec ? r.object(*spec, "spec", "policy") : nullptr;
  if (!policy) {
    problem = "APIRoute " + ns + "/" + name + " has no spec.policy";
    return std::nullopt;
  }
  const PolicyFields fields = readPolicy(ctx, r, policy, "spec.policy", PolicyFields{},
                                         rate_limit_scope);
  if (r.errorCount() > 0) {
    problem = "the spec.policy of APIRoute " + ns + "/" + name + " is invalid (see that object)";
    return std::nullopt;
  }
  config::Route out;
  applyPolicy(fields, out);
  out.load_balancer = fields.load_balancer.value_or(config::LoadBalancer::RoundRobin);
  if (out.load_balancer == config::LoadBalancer::ConsistentHash) {
    const HashKey key = fields.hash_on.value_or(HashKey{});
    out.hash_on = key.on;
    out.hash_on_name = key.name;
  }
  return out;
}

}  // namespace atrium::controller::translator
