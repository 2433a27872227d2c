// Ingress → routes, following the Kubernetes Ingress API and SPEC §3.1, plus the supported
// annotations (atrium.dev/* with nginx.ingress.kubernetes.io/* aliases).
#include <re2/re2.h>

#include <algorithm>
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
  bool ssl_redirect = true;  // as ingress-nginx: on for hosts that have TLS
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
    } else if (key == "whitelist-source-range") {
      size_t start = 0;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        std::string cidr =
            v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
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
  const bool regex =
      (ic.annotations.use_regex || ic.annotations.rewrite_target) && *type != "Exact";
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
                    readAnnotations(r, jsonAt(metadata, "annotations"))};
  if (!ic.annotations.ok) return;

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
        auto match = readPathMatch(ic, p, ppath);
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
  for (auto& [host, route] : produced) ctx.addRoute(host, std::move(route));
}

}  // namespace

void translateIngresses(TranslationContext& ctx) {
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
    if (ctx.cache) {
      ctx.cache->translate(ctx, object, [&] { translateIngress(ctx, object); });
    } else {
      translateIngress(ctx, object);
    }
  }
}

}  // namespace atrium::controller::translator
