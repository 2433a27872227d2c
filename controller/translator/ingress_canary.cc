#include "controller/translator/ingress_canary.h"

#include <re2/re2.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "controller/translator/ingress_translator.h"
#include "controller/translator/translation_context.h"
#include "controller/translator/validation.h"

namespace atrium::controller::translator {

namespace {

constexpr const char* kPrefixes[] = {"atrium.dev/", "nginx.ingress.kubernetes.io/"};
constexpr const char* kCanaryKeys[] = {
    "canary-weight",          "canary-weight-total",      "canary-by-header",
    "canary-by-header-value", "canary-by-header-pattern", "canary-by-cookie"};

struct CanaryRules {
  uint64_t weight = 0;
  uint64_t total = 100;
  // Header conditions that send a request to the canary, or keep it on the main backend,
  // whatever the weight; in precedence order (the header's, then the cookie's).
  std::vector<config::StringMatch> to_canary;
  std::vector<config::StringMatch> to_main;
};

// The field path of annotation `key` as it is written (atrium.dev/ when both are).
std::string fieldOf(const KubeObject& o, const std::string& key) {
  const auto& annotations = jsonAt(jsonAt(o.body, "metadata"), "annotations");
  for (const char* prefix : kPrefixes) {
    if (jsonAt(annotations, (prefix + key).c_str()).is_string()) {
      return "metadata.annotations[" + std::string(prefix) + key + "]";
    }
  }
  return "metadata.annotations[" + std::string(kPrefixes[1]) + key + "]";
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// nginx's $cookie_NAME: the cookie's name compares case-insensitively, its value exactly.
config::StringMatch cookieIs(const std::string& name, const std::string& value) {
  return {"cookie", config::StringMatchType::RegularExpression,
          "(?:.*;)?[ \t]*(?i:" + RE2::QuoteMeta(name) + ")=" + value + "(?:[ \t]*;.*)?"};
}

std::optional<CanaryRules> readRules(FieldReader& r, const KubeObject& o) {
  const auto& annotations = jsonAt(jsonAt(o.body, "metadata"), "annotations");
  if (annotations.is_object()) {
    for (const auto& [full_key, value] : annotations.items()) {
      for (const char* prefix : kPrefixes) {
        if (full_key.rfind(prefix, 0) != 0) continue;
        const std::string key = full_key.substr(std::char_traits<char>::length(prefix));
        const std::string field = "metadata.annotations[" + full_key + "]";
        if (key != "canary" && !isCanaryKey(key)) {
          r.warning(field,
                    "ignored on a canary Ingress: it takes its main Ingress's settings, as "
                    "in ingress-nginx");
        } else if (prefix == kPrefixes[1] && annotations.contains(kPrefixes[0] + key)) {
          r.warning(field, std::string("ignored: ") + kPrefixes[0] + key + " is also set and wins");
        }
      }
    }
  }
  bool ok = true;
  auto bad = [&](const std::string& key, const std::string& message) {
    r.error(fieldOf(o, key), message + "; the canary is not used");
    ok = false;
  };
  CanaryRules rules;
  if (auto v = ingressAnnotation(o, "canary-weight-total")) {
    if (auto n = parseCount(*v, 1, 1'000'000)) {
      rules.total = *n;
    } else {
      bad("canary-weight-total", "must be a whole number from 1 to 1000000");
    }
  }
  if (auto v = ingressAnnotation(o, "canary-weight")) {
    if (auto n = parseCount(*v, 0, rules.total)) {
      rules.weight = *n;
    } else {
      bad("canary-weight", "must be a whole number from 0 to " + std::to_string(rules.total));
    }
  }
  const auto header = ingressAnnotation(o, "canary-by-header");
  const auto header_value = ingressAnnotation(o, "canary-by-header-value");
  const auto pattern = ingressAnnotation(o, "canary-by-header-pattern");
  if (header && !header->empty()) {
    const std::string name = lower(*header);
    if (!isHeaderName(name)) bad("canary-by-header", "is not a header name");
    if (header_value && !header_value->empty()) {
      if (!isHeaderValue(*header_value)) bad("canary-by-header-value", "is not a header value");
      rules.to_canary.push_back({name, config::StringMatchType::Exact, *header_value});
      if (pattern) {
        r.warning(fieldOf(o, "canary-by-header-pattern"),
                  "ignored: canary-by-header-value is set and wins, as in ingress-nginx");
      }
    } else if (pattern && !pattern->empty()) {
      // ingress-nginx searches the value for the pattern; a header match must match it whole.
      const std::string regex = "(?s).*(?:" + *pattern + ").*";
      if (auto err = checkRegex(regex); !err.empty()) {
        bad("canary-by-header-pattern", err);
      }
      rules.to_canary.push_back({name, config::StringMatchType::RegularExpression, regex});
    } else {
      rules.to_canary.push_back({name, config::StringMatchType::Exact, "always"});
      rules.to_main.push_back({name, config::StringMatchType::Exact, "never"});
    }
  } else {
    for (const char* key : {"canary-by-header-value", "canary-by-header-pattern"}) {
      if (ingressAnnotation(o, key)) {
        r.warning(fieldOf(o, key), "ignored: canary-by-header is not set");
      }
    }
  }
  if (auto cookie = ingressAnnotation(o, "canary-by-cookie"); cookie && !cookie->empty()) {
    if (!isHeaderName(*cookie)) bad("canary-by-cookie", "is not a cookie name");
    rules.to_canary.push_back(cookieIs(*cookie, "always"));
    rules.to_main.push_back(cookieIs(*cookie, "never"));
  }
  if (!ok) return std::nullopt;
  return rules;
}

// Copies of `main` that send the requests matching one of `conditions` (and main's path) to
// `backend`. Each condition is its own match, in order: the header's comes before the
// cookie's, as ingress-nginx checks them.
config::Route conditionalRoute(const config::Route& main,
                               const std::vector<config::StringMatch>& conditions,
                               const config::WeightedBackend& backend) {
  config::Route route = main;
  route.backends = {backend};
  route.backends.front().weight = 1;
  route.matches.clear();
  for (const auto& condition : conditions) {
    config::RouteMatch m = main.matches.front();
    m.headers.push_back(condition);
    route.matches.push_back(std::move(m));
  }
  return route;
}

}  // namespace

bool isCanaryKey(const std::string& key) {
  return std::find_if(std::begin(kCanaryKeys), std::end(kCanaryKeys),
                      [&](const char* k) { return key == k; }) != std::end(kCanaryKeys);
}

bool isCanaryIngress(const KubeObject& ingress) {
  const auto v = ingressAnnotation(ingress, "canary");
  return v && (*v == "true" || *v == "True");
}

void applyIngressCanaries(TranslationContext& ctx, const std::vector<const KubeObject*>& canaries) {
  // Oldest first: of two canaries for one path, the older keeps it.
  std::vector<const KubeObject*> ordered = canaries;
  std::stable_sort(ordered.begin(), ordered.end(), [&](const KubeObject* a, const KubeObject* b) {
    return ctx.rankOf(*a) < ctx.rankOf(*b);
  });
  std::map<std::string, IngressPathSettings> settings;  // by main Ingress "Ingress ns/name"
  std::map<const config::Route*, std::string> claimed;  // main route → its canary
  std::vector<std::pair<std::string, config::Route>> added;
  for (const KubeObject* canary : ordered) {
    FieldReader r(*canary, ctx.diagnostics);
    auto rules = readRules(r, *canary);
    if (!rules) continue;
    const auto* spec = r.object(canary->body, "", "spec");
    if (!spec) {
      r.error("spec", "is required");
      continue;
    }
    if (!isAbsent(*spec, "defaultBackend")) {
      r.warning("spec.defaultBackend",
                "ignored: a canary shares the traffic of its rules' paths "
                "only");
    }
    const auto* rule_list = r.array(*spec, "spec", "rules");
    for (size_t i = 0; rule_list && i < rule_list->size(); ++i) {
      const auto& rule = (*rule_list)[i];
      const std::string rpath = FieldReader::index("spec.rules", i);
      std::string host = lower(r.string(rule, rpath, "host").value_or(""));
      if (auto err = checkHostname(host); !host.empty() && !err.empty()) {
        r.error(FieldReader::join(rpath, "host"), err);
        continue;
      }
      const std::string hpath = FieldReader::join(rpath, "http");
      const auto* http = r.object(rule, rpath, "http");
      const auto* paths = http ? r.array(*http, hpath, "paths") : nullptr;
      for (size_t j = 0; paths && j < paths->size(); ++j) {
        const auto& p = (*paths)[j];
        const std::string ppath = FieldReader::index(FieldReader::join(hpath, "paths"), j);
        // The path as the main Ingress would read it (plain or regex, by its annotations);
        // quietly, since it is read twice: a bad path is reported below.
        Diagnostics scratch;
        FieldReader quiet(*canary, scratch);
        const auto as_plain = readIngressPathMatch(quiet, p, ppath, false);
        const auto as_regex = readIngressPathMatch(quiet, p, ppath, true);
        config::Route* main = nullptr;
        const std::string same_namespace = "Ingress " + canary->ns + "/";
        if (auto hit = ctx.hosts.find(host); hit != ctx.hosts.end()) {
          for (auto& route : hit->second) {
            if (route.is_default_backend || route.matches.size() != 1 ||
                route.source.rfind(same_namespace, 0) != 0) {
              continue;
            }
            auto it = settings.find(route.source);
            if (it == settings.end()) {
              const KubeObject* o = ctx.objects.find("Ingress", canary->ns,
                                                     route.source.substr(same_namespace.size()));
              it = settings
                       .emplace(route.source, o ? ingressPathSettings(*o) : IngressPathSettings{})
                       .first;
            }
            const auto& m = it->second.regex ? as_regex : as_plain;
            if (!m || !(route.matches.front() == *m)) continue;
            // Of two main Ingresses with this path the older keeps it (translator.cc).
            if (!main || std::tie(route.object_rank, route.rule_index) <
                             std::tie(main->object_rank, main->rule_index)) {
              main = &route;
            }
          }
        }
        if (!main) {
          if (!as_plain && !as_regex) {
            readIngressPathMatch(r, p, ppath, false);  // reports what is wrong with it
          } else {
            r.error(ppath, "no main Ingress (one without canary: \"true\") in namespace \"" +
                               canary->ns + "\" serves host \"" + (host.empty() ? "*" : host) +
                               "\" with this path; a canary only shares a main Ingress's "
                               "traffic, so this path is not served");
          }
          continue;
        }
        if (auto owner = claimed.find(main); owner != claimed.end()) {
          r.error(ppath, "this host and path of " + main->source + " already has the canary " +
                             owner->second + ", which is older and wins; this path is not used");
          continue;
        }
        if (main->backends.size() != 1) {
          r.warning(ppath, main->source +
                               " answers this path itself (its authentication cannot "
                               "be applied); the canary is not used");
          continue;
        }
        const auto it = p.find("backend");
        auto backend = readIngressBackend(ctx, r, *canary, it == p.end() ? nullptr : &*it,
                                          FieldReader::join(ppath, "backend"),
                                          settings[main->source].backend_https);
        if (!backend) continue;
        if (backend->cluster.empty()) {
          // Its share would be answered 500; the main backend keeps all traffic meanwhile.
          r.warning(FieldReader::join(ppath, "backend"),
                    "the canary is not used until its Service resolves");
          continue;
        }
        claimed.emplace(main, canary->displayName());
        const config::WeightedBackend main_backend = main->backends.front();
        if (!rules->to_canary.empty()) {
          config::Route route = conditionalRoute(*main, rules->to_canary, *backend);
          route.name = canary->key();
          route.source = canary->displayName();
          added.emplace_back(host, std::move(route));
        }
        if (!rules->to_main.empty()) {
          added.emplace_back(host, conditionalRoute(*main, rules->to_main, main_backend));
        }
        if (rules->weight == 0) continue;  // header and cookie only
        main->backends.clear();
        if (rules->weight < rules->total) {
          main->backends.push_back(main_backend);
          main->backends.back().weight = static_cast<uint32_t>(rules->total - rules->weight);
        }
        if (rules->weight > 0) {
          main->backends.push_back(*backend);
          main->backends.back().weight = static_cast<uint32_t>(rules->weight);
        }
      }
    }
  }
  for (auto& [host, route] : added) ctx.hosts[host].push_back(std::move(route));
}

}  // namespace atrium::controller::translator
