// Ingress → routes, following the Kubernetes Ingress API and SPEC §3.1, plus the supported
// annotations (atrium.dev/* with nginx.ingress.kubernetes.io/* aliases).
#include <limits>

#include "controller/translator/field_reader.h"
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
  std::optional<uint32_t> connect_ms;
  std::optional<uint32_t> read_ms;
  std::optional<uint64_t> body_limit;
  std::vector<std::string> allow_cidrs;
  bool ok = true;  // false: an annotation is unusable and the Ingress must not be served
};

bool parseBool(const std::string& v, bool& out) {
  if (v == "true" || v == "True") return out = true, true;
  if (v == "false" || v == "False") return out = false, true;
  return false;
}

IngressAnnotations readAnnotations(FieldReader& r, const nlohmann::json& annotations) {
  IngressAnnotations a;
  if (!annotations.is_object()) return a;
  for (const auto& [full_key, value] : annotations.items()) {
    std::string key;
    if (full_key.rfind(kAtriumPrefix, 0) == 0) {
      key = full_key.substr(std::char_traits<char>::length(kAtriumPrefix));
    } else if (full_key.rfind(kNginxPrefix, 0) == 0) {
      key = full_key.substr(std::char_traits<char>::length(kNginxPrefix));
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
      bool ignored;
      if (!parseBool(v, ignored)) r.error(field, "must be \"true\" or \"false\""), a.ok = false;
      // Redirects only matter for hosts with TLS; the HTTPS listener applies it.
    } else if (key == "rewrite-target") {
      if (!checkPath(v).empty() && v.find('$') == std::string::npos) {
        r.error(field, checkPath(v));
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
    } else if (key == "whitelist-source-range") {
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        std::string cidr = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        cidr.erase(0, cidr.find_first_not_of(' '));
        cidr.erase(cidr.find_last_not_of(' ') + 1);
        if (!cidr.empty()) {
          if (!isCidr(cidr)) {
            r.error(field, "invalid CIDR \"" + cidr + "\"");
            a.ok = false;
          }
          a.allow_cidrs.push_back(cidr);
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if (key == "policy") {
      // Serving the Ingress without the policy it asks for could expose it unauthenticated.
      r.error(field, "APIRoute policies on Ingresses are not supported by this version yet");
      a.ok = false;
    } else {
      r.warning(field, "unknown annotation, ignored");
    }
  }
  return a;
}

// Converts ingress-nginx "$1" capture references to RE2's "\1".
std::string toRe2Substitution(const std::string& target) {
  std::string out;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == '$' && i + 1 < target.size() && std::isdigit(static_cast<unsigned char>(target[i + 1]))) {
      out += '\\';
    } else if (target[i] == '\\') {
      out += '\\';
    }
    out += target[i];
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
std::optional<config::WeightedBackend> readBackend(IngressContext& ic, const nlohmann::json* backend,
                                                   const std::string& bpath) {
  FieldReader& r = ic.reader;
  if (!backend || !backend->is_object()) {
    r.error(bpath, "is required");
    return std::nullopt;
  }
  if (backend->contains("resource")) {
    r.error(FieldReader::join(bpath, "resource"), "resource backends are not supported");
    return std::nullopt;
  }
  const auto* service = r.object(*backend, bpath, "service");
  const std::string spath = FieldReader::join(bpath, "service");
  if (!service) {
    r.error(spath, "is required");
    return std::nullopt;
  }
  auto name = r.string(*service, spath, "name");
  if (!name || name->empty()) {
    r.error(FieldReader::join(spath, "name"), "is required");
    return std::nullopt;
  }
  const auto* port = r.object(*service, spath, "port");
  const std::string ppath = FieldReader::join(spath, "port");
  if (!port) {
    r.error(ppath, "is required");
    return std::nullopt;
  }
  auto number = r.integer(*port, ppath, "number");
  auto port_name = r.string(*port, ppath, "name");
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
  auto b = ic.ctx.backends.service(ic.object.ns, *name, ref, 1, ic.annotations.backend_https);
  if (b.cluster.empty()) r.warning(spath, b.unresolved_reason + " (requests answer 500)");
  return b;
}

config::Route baseRoute(IngressContext& ic) {
  config::Route route;
  route.name = ic.object.key();
  route.source = ic.object.displayName();
  route.object_rank = ic.ctx.rankOf(ic.object);
  route.rule_index = ic.next_index++;
  const auto& a = ic.annotations;
  if (a.connect_ms) route.timeouts.connect_ms = *a.connect_ms;
  if (a.read_ms) route.timeouts.request_ms = route.timeouts.idle_ms = *a.read_ms;
  if (a.body_limit) route.max_request_body_bytes = *a.body_limit;
  route.ip_allow = a.allow_cidrs;
  return route;
}

// Builds the match for one Ingress path; nullopt when the path is invalid (reported).
std::optional<config::RouteMatch> readPathMatch(IngressContext& ic, const nlohmann::json& p,
                                                const std::string& path) {
  FieldReader& r = ic.reader;
  auto type = r.string(p, path, "pathType");
  auto value = r.string(p, path, "path");
  if (!type) {
    r.error(FieldReader::join(path, "pathType"), "is required (Exact, Prefix or ImplementationSpecific)");
    return std::nullopt;
  }
  if (*type != "Exact" && *type != "Prefix" && *type != "ImplementationSpecific") {
    r.error(FieldReader::join(path, "pathType"),
            "unsupported value \"" + *type + "\" (Exact, Prefix or ImplementationSpecific)");
    return std::nullopt;
  }
  std::string v = value.value_or("/");
  config::RouteMatch m;
  const bool regex = (ic.annotations.use_regex || ic.annotations.rewrite_target) && *type != "Exact";
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
  if (auto err = checkPath(v); !err.empty()) {
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

void applyRewrite(IngressContext& ic, config::Route& route, const std::string& raw_path) {
  if (!ic.annotations.rewrite_target) return;
  route.rewrite.regex = "(?i)^(?:" + raw_path + ")";
  route.rewrite.substitution = toRe2Substitution(*ic.annotations.rewrite_target);
}

void translateIngress(TranslationContext& ctx, const KubeObject& object) {
  FieldReader r(object, ctx.diagnostics);
  const auto& body = object.body;
  const auto& metadata = body.value("metadata", nlohmann::json::object());
  const auto* spec = r.object(body, "", "spec");
  if (!spec) {
    r.error("spec", "is required");
    return;
  }
  IngressContext ic{ctx, r, object, readAnnotations(r, metadata.value("annotations", nlohmann::json::object()))};
  if (!ic.annotations.ok) return;

  std::vector<std::pair<std::string, config::Route>> produced;  // host, route
  std::vector<std::string> hosts_seen;

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
        r.error(FieldReader::join(hpath, "paths"), "is required");
        continue;
      }
      for (size_t j = 0; j < paths->size(); ++j) {
        const auto& p = (*paths)[j];
        const std::string ppath = FieldReader::index(FieldReader::join(hpath, "paths"), j);
        auto match = readPathMatch(ic, p, ppath);
        if (!match) continue;
        auto backend = readBackend(ic, r.object(p, ppath, "backend"), FieldReader::join(ppath, "backend"));
        if (!backend) continue;
        config::Route route = baseRoute(ic);
        route.matches.push_back(*match);
        route.backends.push_back(*backend);
        applyRewrite(ic, route, p.value("path", std::string("/")));
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
  for (auto& [host, route] : produced) ctx.hosts[host].push_back(std::move(route));
}

}  // namespace

void translateIngresses(TranslationContext& ctx) {
  for (const auto& [key, object] : ctx.objects.all("Ingress")) {
    if (!ctx.inWatchedNamespace(object)) continue;
    const auto& metadata = object.body.value("metadata", nlohmann::json::object());
    std::optional<std::string> class_name;
    const auto& spec = object.body.value("spec", nlohmann::json::object());
    if (spec.is_object() && spec.contains("ingressClassName") && spec["ingressClassName"].is_string()) {
      class_name = spec["ingressClassName"].get<std::string>();
    } else {
      const auto& ann = metadata.value("annotations", nlohmann::json::object());
      if (ann.is_object() && ann.contains("kubernetes.io/ingress.class") &&
          ann["kubernetes.io/ingress.class"].is_string()) {
        class_name = ann["kubernetes.io/ingress.class"].get<std::string>();
      }
    }
    if (!ctx.classes.isOurs(class_name)) continue;  // other controllers' objects: ignored entirely
    translateIngress(ctx, object);
  }
}

}  // namespace atrium::controller::translator
