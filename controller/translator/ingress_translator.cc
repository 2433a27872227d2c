// Ingress → routes, following the Kubernetes Ingress API and SPEC §3.1, plus the supported
// annotations (atrium.dev/* with nginx.ingress.kubernetes.io/* aliases).
#include "controller/translator/ingress_translator.h"

#include <re2/re2.h>

#include <algorithm>
#include <limits>
#include <map>

#include "controller/translator/cors_reader.h"
#include "controller/translator/field_reader.h"
#include "controller/translator/ingress_basic_auth.h"
#include "controller/translator/ingress_canary.h"
#include "controller/translator/rate_limit_reader.h"
#include "controller/translator/translation_context.h"
#include "controller/translator/validation.h"
#include "src/common/units.h"

namespace atrium::controller::translator {

namespace {

constexpr const char* kAtriumPrefix = "atrium.dev/";
constexpr const char* kNginxPrefix = "nginx.ingress.kubernetes.io/";

struct IngressAnnotations {
  bool use_regex = false;
  std::optional<std::string> rewrite_target;
  bool backend_https = false;
  bool ssl_redirect = true;  // as ingress-nginx: on for hosts that have TLS
  std::optional<uint32_t> connect_ms;
  std::optional<uint32_t> read_ms;
  std::optional<uint64_t> body_limit;
  std::vector<std::string> allow_cidrs;
  std::vector<std::string> deny_cidrs;
  std::optional<config::RateLimitPolicy> rate_limit;
  std::optional<config::CorsPolicy> cors;
  std::optional<IngressBasicAuthAnnotations> basic_auth;
  // atrium.dev/policy: an APIRoute of the namespace whose spec.policy applies (its field path
  // for reports, and the policy once read).
  std::optional<std::string> policy_name;
  std::string policy_field;
  std::optional<config::Route> policy;
  // The authentication asked for cannot be applied: the routes answer 503 (as ingress-nginx
  // does) rather than fall through to a less specific route that would serve them without it.
  bool deny = false;
  bool ok = true;  // false: an annotation is unusable and the Ingress must not be served
};

// A Kubernetes object name (DNS-1123 subdomain): lower-case letters, digits, '-' and '.'.
bool isObjectName(const std::string& v) {
  if (v.empty() || v.size() > 253) return false;
  for (char c : v) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return std::isalnum(static_cast<unsigned char>(v.front())) &&
         std::isalnum(static_cast<unsigned char>(v.back()));
}

bool parseBool(const std::string& v, bool& out) {
  if (v == "true" || v == "True") return out = true, true;
  if (v == "false" || v == "False") return out = false, true;
  return false;
}

// ingress-nginx keys that Atrium does not implement, with what to use instead. Any other
// nginx.ingress.kubernetes.io/ key gets the same warning without a hint; docs/
// migration-from-ingress-nginx.md lists them all.
struct UnsupportedKey {
  const char* key;
  const char* instead;
};
constexpr UnsupportedKey kUnsupported[] = {
    {"force-ssl-redirect",
     "hosts without spec.tls are not redirected; list the host in spec.tls, or use an APIRoute "
     "with spec.tls.redirectHTTP"},
    {"proxy-send-timeout", "use proxy-read-timeout, or an APIRoute's policy.timeouts"},
    {"limit-connections", "there is no per-client connection limit; use limit-rps or limit-rpm"},
    {"limit-whitelist", "every client is rate limited"},
    {"upstream-hash-by", "use an APIRoute with policy.loadBalancer: ConsistentHash"},
    {"affinity", "use an APIRoute with policy.loadBalancer: ConsistentHash and policy.hashOn"},
    {"proxy-next-upstream", "use an APIRoute's policy.retries"},
    {"proxy-next-upstream-tries", "use an APIRoute's policy.retries"},
    {"permanent-redirect", "use an APIRoute with a redirect filter"},
    {"temporal-redirect", "use an APIRoute with a redirect filter"},
    {"app-root", "use an APIRoute with a redirect filter on the path /"},
    {"upstream-vhost",
     "the Host header is passed unchanged; use an APIRoute requestHeaders filter"},
    {"ssl-passthrough", "TLS is always terminated by Atrium"},
    {"custom-http-errors", "Atrium answers its own errors as JSON"},
    {"default-backend", "use spec.defaultBackend"},
};

// "a, b,c" → {"a", "b", "c"} (empty items dropped).
std::vector<std::string> splitList(const std::string& v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    std::string item =
        v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(std::move(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool isToken(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!std::isalnum(c) && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) ==
                                std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The enable-cors family, as ingress-nginx reads it (its defaults where a key is absent).
struct CorsAnnotations {
  std::optional<bool> enable;
  std::string enable_field;
  std::map<std::string, std::pair<std::string, std::string>> values;  // key → field, value
};

std::optional<config::CorsPolicy> readCors(FieldReader& r, const CorsAnnotations& c, bool& ok) {
  if (!c.enable.value_or(false)) {
    for (const auto& [key, fv] : c.values) {
      r.warning(fv.first, "ignored: enable-cors is not \"true\"");
    }
    return std::nullopt;
  }
  auto value = [&](const char* key, const char* fallback) -> std::pair<std::string, std::string> {
    auto it = c.values.find(key);
    if (it == c.values.end()) return {c.enable_field, fallback};
    return it->second;
  };
  config::CorsPolicy cors;
  bool valid = true;
  auto bad = [&](const std::string& field, const std::string& message) {
    r.error(field, message);
    valid = false;
  };
  {
    auto [field, v] = value("cors-allow-origin", "*");
    const auto origins = splitList(v);
    if (origins.empty()) bad(field, "must list at least one origin");
    for (const auto& origin : origins) {
      std::string problem;
      if (auto normal = normalizeCorsOrigin(origin, problem)) {
        cors.allow_origins.push_back(*normal);
      } else {
        bad(field, "origin \"" + origin + "\": " + problem);
      }
    }
  }
  {
    auto [field, v] = value("cors-allow-methods", "GET, PUT, POST, DELETE, PATCH, OPTIONS");
    for (auto& m : splitList(v)) {
      for (auto& ch : m) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (!isToken(m)) bad(field, "invalid method \"" + m + "\"");
      cors.allow_methods.push_back(m);
    }
  }
  {
    auto [field, v] = value("cors-allow-headers",
                            "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,"
                            "Cache-Control,Content-Type,Range,Authorization");
    for (auto& h : splitList(v)) {
      h = lower(h);
      if (!isToken(h)) bad(field, "invalid header name \"" + h + "\"");
      cors.allow_headers.push_back(h);
    }
  }
  {
    auto [field, v] = value("cors-expose-headers", "");
    for (auto& h : splitList(v)) {
      h = lower(h);
      if (!isToken(h)) bad(field, "invalid header name \"" + h + "\"");
      cors.expose_headers.push_back(h);
    }
  }
  {
    auto [field, v] = value("cors-allow-credentials", "true");
    if (!parseBool(v, cors.allow_credentials)) bad(field, "must be \"true\" or \"false\"");
  }
  {
    auto [field, v] = value("cors-max-age", "1728000");
    auto n = parseCount(v, 0, std::numeric_limits<uint32_t>::max());
    if (!n) {
      bad(field, "must be a number of seconds");
    } else {
      // ingress-nginx's default is 20 days; browsers keep a preflight a day at most (Chrome
      // two hours), and so does Atrium. Only a value written above that is reported.
      cors.max_age_s = static_cast<uint32_t>(std::min<uint64_t>(*n, kMaxCorsMaxAge));
      if (*n > static_cast<uint64_t>(kMaxCorsMaxAge) && c.values.count("cors-max-age")) {
        r.warning(field, "capped at " + std::to_string(kMaxCorsMaxAge) +
                             " seconds (browsers keep a preflight a day at most)");
      }
    }
  }
  if (!valid) {
    ok = false;
    return std::nullopt;
  }
  // Sets, in the data plane's normal form: sorted, without duplicates.
  for (auto* list : {&cors.allow_origins, &cors.allow_methods, &cors.allow_headers,
                     &cors.expose_headers}) {
    std::sort(list->begin(), list->end());
    list->erase(std::unique(list->begin(), list->end()), list->end());
  }
  // ingress-nginx answers "*" with credentials by echoing the request's origin, which lets
  // every site read credentialed responses. Browsers refuse "*" with credentials, and Atrium
  // never echoes an origin that was not listed: credentials stay off unless origins are listed.
  if (cors.allow_credentials &&
      std::find(cors.allow_origins.begin(), cors.allow_origins.end(), "*") !=
          cors.allow_origins.end()) {
    cors.allow_credentials = false;
    r.warning(value("cors-allow-origin", "*").first,
              "credentials are not allowed for the origin \"*\" (ingress-nginx would echo any "
              "origin and let every site read credentialed responses); list the origins in "
              "cors-allow-origin to allow credentials, or set cors-allow-credentials: \"false\"");
  }
  return cors;
}

// auth-type: basic and its keys (the Secret itself is read in translateIngress). Any problem
// denies the routes (503), never leaves them open.
void readBasicAuth(FieldReader& r,
                   const std::map<std::string, std::pair<std::string, std::string>>& auth,
                   IngressAnnotations& a) {
  auto type = auth.find("auth-type");
  if (type == auth.end()) {
    // ingress-nginx authenticates only with auth-type set.
    for (const auto& [key, fv] : auth) r.warning(fv.first, "ignored: auth-type is not set");
    return;
  }
  const auto& [type_field, type_value] = type->second;
  if (type_value != "basic") {
    r.error(type_field, type_value == "digest"
                            ? "auth-type digest is not supported by Atrium (basic is); the "
                              "Ingress's routes answer 503"
                            : "unsupported value \"" + type_value +
                                  "\" (basic); the Ingress's routes answer 503");
    a.deny = true;
    return;
  }
  IngressBasicAuthAnnotations b;
  b.type_field = type_field;
  if (auto it = auth.find("auth-secret"); it != auth.end()) {
    b.secret_field = it->second.first;
    b.secret = it->second.second;
    const size_t slash = b.secret.find('/');
    if (b.secret.empty() ||
        (slash != std::string::npos &&
         (slash == 0 || slash + 1 == b.secret.size() ||
          b.secret.find('/', slash + 1) != std::string::npos))) {
      r.error(b.secret_field, "must be a Secret name or namespace/name; the Ingress's routes "
                              "answer 503");
      a.deny = true;
    }
  }
  if (auto it = auth.find("auth-secret-type"); it != auth.end()) {
    if (it->second.second == "auth-map") {
      b.auth_map = true;
    } else if (it->second.second != "auth-file") {
      r.error(it->second.first, "must be auth-file or auth-map; the Ingress's routes answer 503");
      a.deny = true;
    }
  }
  if (auto it = auth.find("auth-realm"); it != auth.end()) {
    // The realm is sent in a quoted string of WWW-Authenticate.
    for (unsigned char c : it->second.second) {
      if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
        r.error(it->second.first, "must not contain quotes, backslashes or control characters; "
                                  "the Ingress's routes answer 503");
        a.deny = true;
        break;
      }
    }
    b.realm = it->second.second;
  }
  a.basic_auth = std::move(b);
}

IngressAnnotations readAnnotations(FieldReader& r, const nlohmann::json& annotations,
                                   const std::string& scope) {
  IngressAnnotations a;
  if (!annotations.is_object()) return a;
  std::optional<uint64_t> rps, rpm;
  uint64_t multiplier = 5;  // ingress-nginx's default limit-burst-multiplier
  CorsAnnotations cors;
  std::map<std::string, std::pair<std::string, std::string>> auth;  // key → field, value
  for (const auto& [full_key, value] : annotations.items()) {
    std::string key;
    const bool nginx = full_key.rfind(kNginxPrefix, 0) == 0;
    if (full_key.rfind(kAtriumPrefix, 0) == 0) {
      key = full_key.substr(std::char_traits<char>::length(kAtriumPrefix));
    } else if (full_key.rfind(kNginxPrefix, 0) == 0) {
      key = full_key.substr(std::char_traits<char>::length(kNginxPrefix));
      // Our own key is the more specific statement: with both, the alias is reported and
      // ignored (whatever order the keys come in).
      if (annotations.contains(kAtriumPrefix + key)) {
        r.warning("metadata.annotations[" + full_key + "]",
                  std::string("ignored: ") + kAtriumPrefix + key + " is also set and wins");
        continue;
      }
    } else {
      continue;  // other tools' annotations are none of our business
    }
    const std::string field = "metadata.annotations[" + full_key + "]";
    if (!value.is_string()) {
      r.error(field, "annotation values must be strings");
      a.ok = false;
      continue;
    }
    const std::string v = value.get<std::string>();
    if (key == "use-regex") {
      if (!parseBool(v, a.use_regex)) r.error(field, "must be \"true\" or \"false\""), a.ok = false;
    } else if (key == "ssl-redirect") {
      // Only hosts listed in spec.tls are redirected; this turns that off.
      if (!parseBool(v, a.ssl_redirect)) r.error(field, "must be \"true\" or \"false\""), a.ok = false;
    } else if (key == "rewrite-target") {
      // The target becomes the upstream request path: an absolute path, or one that starts
      // with a capture ("$1"); never a byte that could end the request line (CR/LF, space) or
      // a query/fragment.
      const std::string err = checkPath(v.size() > 1 && v[0] == '$' ? "/" + v : v);
      if (!err.empty()) {
        r.error(field, err);
        a.ok = false;
      } else {
        a.rewrite_target = v;
      }
    } else if (key == "backend-protocol") {
      if (v == "HTTPS" || v == "https") {
        a.backend_https = true;
      } else if (v != "HTTP" && v != "http") {
        r.error(field, "unsupported backend protocol \"" + v + "\" (HTTP or HTTPS)");
        a.ok = false;
      }
    } else if (key == "proxy-connect-timeout" || key == "proxy-read-timeout") {
      auto d = common::parseDuration(v, 1000);  // ingress-nginx: plain numbers are seconds
      if (!d || d->count() <= 0 || d->count() > std::numeric_limits<uint32_t>::max()) {
        r.error(field, "invalid duration \"" + v + "\"");
        a.ok = false;
      } else {
        (key == "proxy-connect-timeout" ? a.connect_ms : a.read_ms) =
            static_cast<uint32_t>(d->count());
      }
    } else if (key == "proxy-body-size") {
      auto size = common::parseByteSize(v);
      if (!size) {
        r.error(field, "invalid size \"" + v + "\"");
        a.ok = false;
      } else {
        // ingress-nginx: 0 disables the limit.
        a.body_limit = *size == 0 ? std::numeric_limits<uint64_t>::max() : *size;
      }
    } else if (key == "whitelist-source-range" || key == "denylist-source-range") {
      for (const auto& cidr : splitList(v)) {
        if (!isCidr(cidr)) {
          r.error(field, "invalid CIDR \"" + cidr + "\"");
          a.ok = false;
        }
        (key == "whitelist-source-range" ? a.allow_cidrs : a.deny_cidrs).push_back(cidr);
      }
    } else if (key == "limit-rps" || key == "limit-rpm") {
      // ingress-nginx: 0 means no limit.
      auto n = parseCount(v, 0, kMaxRateLimitCount);
      if (!n) {
        r.error(field, "must be a whole number of requests, at most " +
                           std::to_string(kMaxRateLimitCount));
        a.ok = false;
      } else {
        (key == "limit-rps" ? rps : rpm) = *n;
      }
    } else if (key == "limit-burst-multiplier") {
      auto n = parseCount(v, 1, 1000);
      if (!n) {
        r.error(field, "must be a whole number between 1 and 1000");
        a.ok = false;
      } else {
        multiplier = *n;
      }
    } else if (key == "enable-cors") {
      bool on = false;
      if (!parseBool(v, on)) {
        r.error(field, "must be \"true\" or \"false\"");
        a.ok = false;
      }
      cors.enable = on;
      cors.enable_field = field;
    } else if (key == "cors-allow-origin" || key == "cors-allow-methods" ||
               key == "cors-allow-headers" || key == "cors-expose-headers" ||
               key == "cors-allow-credentials" || key == "cors-max-age") {
      cors.values[key] = {field, v};
    } else if (key == "policy") {
      if (!isObjectName(v)) {
        r.error(field, "must be the name of an APIRoute of the Ingress's namespace");
        a.ok = false;
      } else {
        a.policy_name = v;
        a.policy_field = field;
      }
    } else if (key.size() > 8 && key.compare(key.size() - 8, 8, "-snippet") == 0) {
      // Snippets are nginx configuration pasted into the proxy: whoever may write an Ingress
      // could run anything (ingress-nginx disables them by default for that reason). The rest
      // of the Ingress is served, as ingress-nginx does with snippets disabled.
      r.warning(field, "snippets are refused for security: Atrium never executes configuration "
                       "from annotations; the Ingress is served without it");
    } else if (key == "auth-type" || key == "auth-secret" || key == "auth-secret-type" ||
               key == "auth-realm") {
      auth[key] = {field, v};
    } else if (key.rfind("auth-", 0) == 0) {
      // Serving the Ingress without the authentication it asks for would expose it.
      r.error(field, "is not supported by Atrium (of the authentication annotations only "
                     "auth-type: basic is); the Ingress is not served rather than served "
                     "unauthenticated (use an APIRoute with policy.auth)");
      a.ok = false;
    } else if (key == "canary") {
      // A canary ("true") is translated by ingress_canary.cc, never here.
      bool on = false;
      if (!parseBool(v, on)) {
        r.error(field, "must be \"true\" or \"false\"");
        a.ok = false;
      }
    } else if (isCanaryKey(key)) {
      r.warning(field, "ignored: this Ingress is not a canary (canary is not \"true\")");
    } else if (!nginx) {
      r.warning(field, "unknown annotation, ignored");
    } else {
      std::string message = "is not supported by Atrium and is ignored (never executed)";
      for (const auto& u : kUnsupported) {
        if (key == u.key) message += std::string("; ") + u.instead;
      }
      r.warning(field, message);
    }
  }
  // limit-rps and limit-rpm: per client IP, both apply when both are set; ingress-nginx lets
  // rate × multiplier requests through at once (nginx's burst), so the bucket holds that many.
  // The buckets are named after the Ingress ("Ingress ns/name"), apart from an APIRoute ns/name.
  for (const auto& [n, period] :
       {std::pair{rps, uint64_t{1000}}, std::pair{rpm, uint64_t{60'000}}}) {
    if (!n || *n == 0) continue;
    if (!a.rate_limit) a.rate_limit = config::RateLimitPolicy{{}, false, scope};
    a.rate_limit->limits.push_back(
        {*n, period, *n * (multiplier - 1), config::RateLimitKey::ClientIP, ""});
  }
  if (cors.enable || !cors.values.empty()) a.cors = readCors(r, cors, a.ok);
  readBasicAuth(r, auth, a);
  return a;
}

// Converts ingress-nginx "$1" capture references to RE2's "\1"; a literal backslash is doubled
// so RE2 keeps it.
std::string toRe2Substitution(const std::string& target) {
  std::string out;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == '$' && i + 1 < target.size() &&
        std::isdigit(static_cast<unsigned char>(target[i + 1]))) {
      out += '\\';  // the '$' itself is replaced, not kept: "\$2" is no capture reference
    } else if (target[i] == '\\') {
      out += "\\\\";
    } else {
      out += target[i];
    }
  }
  return out;
}

struct IngressContext {
  TranslationContext& ctx;
  FieldReader& reader;
  const KubeObject& object;
  IngressAnnotations annotations;
  uint32_t next_index = 0;
};

// Reads an IngressBackend (a path's `backend` or `spec.defaultBackend`) at field path `bpath`.
std::optional<config::WeightedBackend> readBackend(IngressContext& ic,
                                                   const nlohmann::json* backend,
                                                   const std::string& bpath) {
  FieldReader& r = ic.reader;
  // "is required" only when nothing was reported about the field yet (a wrong type was).
  const size_t errors_before = r.errorCount();
  auto required = [&](const std::string& field) {
    if (r.errorCount() == errors_before) r.error(field, "is required");
    return std::nullopt;
  };
  if (!backend || backend->is_null()) return required(bpath);
  if (!backend->is_object()) {
    r.error(bpath, "must be an object");
    return std::nullopt;
  }
  if (backend->contains("resource")) {
    r.error(FieldReader::join(bpath, "resource"), "resource backends are not supported");
    return std::nullopt;
  }
  const auto* service = r.object(*backend, bpath, "service");
  const std::string spath = FieldReader::join(bpath, "service");
  if (!service) return required(spath);
  auto name = r.string(*service, spath, "name");
  if (!name || name->empty()) return required(FieldReader::join(spath, "name"));
  const auto* port = r.object(*service, spath, "port");
  const std::string ppath = FieldReader::join(spath, "port");
  if (!port) return required(ppath);
  auto number = r.integer(*port, ppath, "number");
  auto port_name = r.string(*port, ppath, "name");
  if (r.errorCount() != errors_before) return std::nullopt;  // a wrong type, already reported
  if (number.has_value() == port_name.has_value()) {
    r.error(ppath, "exactly one of number or name is required");
    return std::nullopt;
  }
  if (number && (*number < 1 || *number > 65535)) {
    r.error(FieldReader::join(ppath, "number"), "must be between 1 and 65535");
    return std::nullopt;
  }
  ServicePortRef ref;
  if (number) {
    ref.port = *number;
  } else {
    ref.port = *port_name;
  }
  // backend-protocol HTTPS: TLS without verification, as ingress-nginx does by default.
  auto b = ic.ctx.resolveService(ic.object.ns, *name, ref, 1,
                                 UpstreamTls{ic.annotations.backend_https, false, "", ""});
  if (b.cluster.empty()) {
    r.warning(spath, b.unresolved_reason + " (requests answer 500)");
    ic.ctx.noteUnresolved(ic.object, spath, b.unresolved_reason);
  }
  return b;
}

config::Route baseRoute(IngressContext& ic) {
  const auto& a = ic.annotations;
  // The APIRoute's policy first (atrium.dev/policy: a route holding only policy fields); the
  // Ingress's own annotations then override what they set.
  config::Route route = a.policy ? *a.policy : config::Route{};
  route.name = ic.object.key();
  route.source = ic.object.displayName();
  route.object_rank = ic.ctx.rankOf(ic.object);
  route.rule_index = ic.next_index++;
  if (a.connect_ms) route.timeouts.connect_ms = *a.connect_ms;
  if (a.read_ms) route.timeouts.request_ms = route.timeouts.idle_ms = *a.read_ms;
  if (a.body_limit) route.max_request_body_bytes = *a.body_limit;
  if (!a.allow_cidrs.empty()) route.ip_allow = a.allow_cidrs;
  if (!a.deny_cidrs.empty()) route.ip_deny = a.deny_cidrs;
  if (a.rate_limit) route.rate_limit = a.rate_limit;
  if (a.cors) route.cors = a.cors;
  return route;
}

// Builds the match for one Ingress path; nullopt when the path is invalid (reported).
std::optional<config::RouteMatch> readPathMatch(FieldReader& r, bool regex_paths,
                                                const nlohmann::json& p, const std::string& path) {
  const size_t errors_before = r.errorCount();
  auto type = r.string(p, path, "pathType");
  auto value = r.string(p, path, "path");
  if (r.errorCount() != errors_before) return std::nullopt;  // a wrong type, already reported
  if (!type) {
    r.error(FieldReader::join(path, "pathType"),
            "is required (Exact, Prefix or ImplementationSpecific)");
    return std::nullopt;
  }
  if (*type != "Exact" && *type != "Prefix" && *type != "ImplementationSpecific") {
    r.error(FieldReader::join(path, "pathType"),
            "unsupported value \"" + *type + "\" (Exact, Prefix or ImplementationSpecific)");
    return std::nullopt;
  }
  if (!value && *type != "ImplementationSpecific") {
    r.error(FieldReader::join(path, "path"), "is required for pathType " + *type);
    return std::nullopt;
  }
  std::string v = value.value_or("/");
  config::RouteMatch m;
  const bool regex = regex_paths && *type != "Exact";
  if (regex) {
    if (v.empty() || v.front() != '/') {
      r.error(FieldReader::join(path, "path"), "must start with '/'");
      return std::nullopt;
    }
    // ingress-nginx regex locations are case-insensitive and anchored at the start only.
    m.path = {config::PathType::RegularExpression, "(?i)(?:" + v + ").*"};
    if (auto err = checkRegex(m.path.value); !err.empty()) {
      r.error(FieldReader::join(path, "path"), err);
      return std::nullopt;
    }
    return m;
  }
  if (auto err = normalizeMatchPath(v); !err.empty()) {
    r.error(FieldReader::join(path, "path"), err);
    return std::nullopt;
  }
  if (*type == "Exact") {
    m.path = {config::PathType::Exact, v};
  } else {
    m.path = {config::PathType::Prefix, canonicalPrefix(v)};
  }
  return m;
}

// Sets the regex rewrite of one path. A "$n" beyond the path's capture groups is an empty string
// in nginx; RE2 would refuse the whole rewrite on every request (and the path would go upstream
// unchanged), so such references are dropped here, and reported.
void applyRewrite(IngressContext& ic, config::Route& route, const std::string& raw_path,
                  const std::string& field) {
  if (!ic.annotations.rewrite_target) return;
  const std::string& target = *ic.annotations.rewrite_target;
  route.rewrite.regex = "(?i)^(?:" + raw_path + ")";
  const RE2 compiled(route.rewrite.regex, RE2::Quiet);
  const int groups = compiled.ok() ? compiled.NumberOfCapturingGroups() : 0;
  std::string usable;
  int missing = 0;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == '$' && i + 1 < target.size() &&
        std::isdigit(static_cast<unsigned char>(target[i + 1])) && target[i + 1] - '0' > groups) {
      missing = std::max(missing, target[i + 1] - '0');
      ++i;
      continue;
    }
    usable += target[i];
  }
  if (missing > 0) {
    ic.reader.warning(field, "the rewrite-target uses $" + std::to_string(missing) +
                                 " but this path has " + std::to_string(groups) +
                                 " capture group(s); it is replaced by \"\" as in ingress-nginx");
  }
  route.rewrite.substitution = toRe2Substitution(usable);
}

void translateIngress(TranslationContext& ctx, const KubeObject& object) {
  FieldReader r(object, ctx.diagnostics);
  const auto& body = object.body;
  const auto& metadata = jsonAt(body, "metadata");
  const auto* spec = r.object(body, "", "spec");
  if (!spec) {
    r.error("spec", "is required");
    return;
  }
  IngressContext ic{ctx, r, object,
                    readAnnotations(r, jsonAt(metadata, "annotations"), object.displayName())};
  if (!ic.annotations.ok) return;
  if (ic.annotations.policy_name) {
    std::string problem;
    // Rate limits of the policy count in buckets of this Ingress's own.
    ic.annotations.policy = apiRoutePolicy(ctx, object.ns, *ic.annotations.policy_name,
                                           "Ingress " + object.key(), problem);
    if (!ic.annotations.policy) {
      // Serving the Ingress without the policy it asks for could expose it unauthenticated.
      r.error(ic.annotations.policy_field, problem + "; the Ingress is not served without it");
      return;
    }
  }

  std::vector<std::pair<std::string, config::Route>> produced;  // host, route
  std::vector<std::string> hosts_seen;
  // Regex paths as (length of the path as written, index in `produced`).
  std::vector<std::pair<size_t, size_t>> regex_paths;

  if (const auto* rules = r.array(*spec, "spec", "rules")) {
    for (size_t i = 0; i < rules->size(); ++i) {
      const auto& rule = (*rules)[i];
      const std::string rpath = FieldReader::index("spec.rules", i);
      std::string host;
      if (auto h = r.string(rule, rpath, "host")) {
        for (auto& c : *h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (auto err = checkHostname(*h); !err.empty()) {
          r.error(FieldReader::join(rpath, "host"), err);
          continue;
        }
        host = *h;
      }
      if (std::find(hosts_seen.begin(), hosts_seen.end(), host) == hosts_seen.end()) {
        hosts_seen.push_back(host);
      }
      const auto* http = r.object(rule, rpath, "http");
      if (!http) continue;  // a host-only rule: the defaultBackend serves it
      const std::string hpath = FieldReader::join(rpath, "http");
      const auto* paths = r.array(*http, hpath, "paths");
      if (!paths) {
        if (!http->contains("paths")) r.error(FieldReader::join(hpath, "paths"), "is required");
        continue;
      }
      for (size_t j = 0; j < paths->size(); ++j) {
        const auto& p = (*paths)[j];
        const std::string ppath = FieldReader::index(FieldReader::join(hpath, "paths"), j);
        auto match = readPathMatch(
            r, ic.annotations.use_regex || ic.annotations.rewrite_target.has_value(), p, ppath);
        if (!match) continue;
        const auto it = p.find("backend");
        auto backend =
            readBackend(ic, it == p.end() ? nullptr : &*it, FieldReader::join(ppath, "backend"));
        if (!backend) continue;
        config::Route route = baseRoute(ic);
        route.matches.push_back(*match);
        route.backends.push_back(*backend);
        const auto raw = p.find("path");
        const std::string raw_path =
            raw != p.end() && raw->is_string() ? raw->get<std::string>() : std::string("/");
        applyRewrite(ic, route, raw_path, FieldReader::join(ppath, "path"));
        if (route.matches.front().path.type == config::PathType::RegularExpression) {
          regex_paths.push_back({raw_path.size(), produced.size()});
        }
        produced.emplace_back(host, std::move(route));
      }
    }
  }
  if (const auto* default_backend = r.object(*spec, "spec", "defaultBackend")) {
    if (auto backend = readBackend(ic, default_backend, "spec.defaultBackend")) {
      // It catches what no rule matched on this Ingress's hosts; with no hosts, on any host.
      if (hosts_seen.empty()) hosts_seen.push_back("");
      for (const auto& host : hosts_seen) {
        config::Route route = baseRoute(ic);
        route.is_default_backend = true;
        route.backends.push_back(*backend);
        produced.emplace_back(host, std::move(route));
      }
    }
  } else if (!spec->contains("rules")) {
    r.error("spec", "needs rules or a defaultBackend");
  }
  // ingress-nginx writes regex locations longest path first and nginx takes the first regex
  // that matches, so with use-regex "/api/.*" wins over "/" whatever the list order. Regex
  // routes tie on everything but list order here, so their rule indexes are handed out again
  // in that order (stable: equal lengths keep the list order).
  std::stable_sort(regex_paths.begin(), regex_paths.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<uint32_t> indexes;
  for (const auto& [length, i] : regex_paths) indexes.push_back(produced[i].second.rule_index);
  std::sort(indexes.begin(), indexes.end());
  for (size_t k = 0; k < regex_paths.size(); ++k) {
    produced[regex_paths[k].second].second.rule_index = indexes[k];
  }
  // Plain-HTTP requests for the hosts this Ingress lists in spec.tls go to https (the
  // certificate itself is chosen in tls_translator.cc).
  if (ic.annotations.ssl_redirect) {
    std::vector<std::string> tls_hosts;
    const auto& tls = jsonAt(*spec, "tls");
    if (tls.is_array()) {
      for (const auto& entry : tls) {
        const auto& names = jsonAt(entry, "hosts");
        if (!names.is_array()) continue;
        for (const auto& n : names) {
          if (!n.is_string()) continue;
          std::string h = n.get<std::string>();
          for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          tls_hosts.push_back(std::move(h));
        }
      }
    }
    for (auto& [host, route] : produced) {
      if (!host.empty() &&
          std::find(tls_hosts.begin(), tls_hosts.end(), host) != tls_hosts.end()) {
        route.https_redirect = true;
      }
    }
  }
  if (ic.annotations.basic_auth && !ic.annotations.deny) {
    if (auto auth = readIngressBasicAuth(ctx, r, object, *ic.annotations.basic_auth)) {
      for (auto& [host, route] : produced) route.auth = auth->policy;
      for (auto& c : auth->consumers) ctx.ingress_consumers.push_back(std::move(c));
    } else {
      ic.annotations.deny = true;
    }
  }
  if (ic.annotations.deny) {
    for (auto& [host, route] : produced) {
      route.backends.clear();
      route.rewrite = {};
      route.direct_response = config::DirectResponse{
          503, "application/json",
          R"({"error":{"status":503,"code":"auth_misconfigured","message":"the authentication )"
          R"(this route asks for cannot be applied; see the Ingress's diagnostics"}})"};
    }
  }
  for (auto& [host, route] : produced) ctx.addRoute(host, std::move(route));
}

}  // namespace

void translateIngresses(TranslationContext& ctx) {
  std::vector<const KubeObject*> canaries;
  for (const auto& [key, object] : ctx.objects.all("Ingress")) {
    if (!ctx.inWatchedNamespace(object)) continue;
    const auto& metadata = jsonAt(object.body, "metadata");
    std::optional<std::string> class_name;
    const auto& spec = jsonAt(object.body, "spec");
    if (spec.is_object() && spec.contains("ingressClassName") &&
        spec["ingressClassName"].is_string()) {
      class_name = spec["ingressClassName"].get<std::string>();
    } else {
      const auto& ann = jsonAt(metadata, "annotations");
      if (ann.is_object() && ann.contains("kubernetes.io/ingress.class") &&
          ann["kubernetes.io/ingress.class"].is_string()) {
        class_name = ann["kubernetes.io/ingress.class"].get<std::string>();
      }
    }
    if (!ctx.classes.isOurs(class_name)) continue;  // other controllers' objects: ignored entirely
    ctx.markServed(object);
    if (isCanaryIngress(object)) {
      canaries.push_back(&object);  // once every main Ingress has its routes
      continue;
    }
    if (ctx.cache) {
      ctx.cache->translate(ctx, object, [&] { translateIngress(ctx, object); });
    } else {
      translateIngress(ctx, object);
    }
  }
  applyIngressCanaries(ctx, canaries);
}

std::optional<std::string> ingressAnnotation(const KubeObject& ingress, const std::string& key) {
  const auto& annotations = jsonAt(jsonAt(ingress.body, "metadata"), "annotations");
  for (const char* prefix : {kAtriumPrefix, kNginxPrefix}) {
    const auto& v = jsonAt(annotations, (prefix + key).c_str());
    if (v.is_string()) return v.get<std::string>();
  }
  return std::nullopt;
}

IngressPathSettings ingressPathSettings(const KubeObject& ingress) {
  // Read as translateIngress reads them; what is wrong with them was reported there.
  Diagnostics ignored;
  FieldReader r(ingress, ignored);
  const auto a = readAnnotations(r, jsonAt(jsonAt(ingress.body, "metadata"), "annotations"),
                                 ingress.displayName());
  return {a.use_regex || a.rewrite_target.has_value(), a.backend_https};
}

std::optional<config::RouteMatch> readIngressPathMatch(FieldReader& r, const nlohmann::json& item,
                                                       const std::string& field, bool regex) {
  return readPathMatch(r, regex, item, field);
}

std::optional<config::WeightedBackend> readIngressBackend(TranslationContext& ctx, FieldReader& r,
                                                          const KubeObject& ingress,
                                                          const nlohmann::json* backend,
                                                          const std::string& field,
                                                          bool backend_https) {
  IngressContext ic{ctx, r, ingress, {}};
  ic.annotations.backend_https = backend_https;
  return readBackend(ic, backend, field);
}

}  // namespace atrium::controller::translator
