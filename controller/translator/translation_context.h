#pragma once
// State shared by the per-kind processors during one translation.
#include <map>
#include <string>
#include <vector>

#include "controller/translator/backend_resolver.h"
#include "controller/translator/certificates.h"
#include "controller/translator/class_filter.h"
#include "controller/translator/translation_cache.h"
#include "controller/translator/translator.h"

namespace atrium::controller::translator {

// What translating one object produced and read (see translation_cache.h).
struct BackendLookup {
  bool is_url = false;
  std::string ns, name, url;
  ServicePortRef port;
  uint32_t weight = 1;
  std::optional<UpstreamTls> tls;
  config::WeightedBackend result;
};
struct ObjectRecord {
  std::vector<std::pair<std::string, config::Route>> routes;  // host → route, in order
  std::vector<BackendLookup> lookups;
  Diagnostics diagnostics;
  std::vector<std::string> unresolved;
  // The object read something the replay cannot check (a CA bundle Secret): never reused.
  bool uncacheable = false;
};

struct TranslationContext {
  TranslationContext(const ObjectStore& objs, const TranslatorOptions& opts, Diagnostics& diags,
                     std::map<std::string, config::TlsCertificate>* last_good_certificates)
      : objects(objs),
        options(opts),
        classes(objs, opts),
        backends(objs),
        certificates(objs, last_good_certificates),
        diagnostics(diags) {}

  const ObjectStore& objects;
  const TranslatorOptions& options;
  ClassFilter classes;
  BackendResolver backends;
  CertificateResolver certificates;
  Diagnostics& diagnostics;
  // hostname ("" = any host) → routes in the order they were produced.
  std::map<std::string, std::vector<config::Route>> hosts;
  // "Kind ns/name" → age rank among all routing objects (0 = oldest).
  std::map<std::string, uint32_t> ranks;
  // Objects of our class (they get a status), with their unresolved backend references.
  struct ServedObject {
    const KubeObject* object = nullptr;
    std::vector<std::string> unresolved;  // "spec.rules[0].backends[0]: Service x not found"
    std::vector<std::string> certificate_problems;  // "spec.tls.secretName: Secret … not found"
  };
  std::map<std::string, ServedObject> served;  // by displayName()

  // Set while one object is translated for the cache; every output and every read of another
  // object goes through the methods below so that it is recorded.
  ObjectRecord* recording = nullptr;
  TranslationCache* cache = nullptr;  // null: translate everything
  // Consumers made from Ingresses' basic-auth Secrets (ingress_basic_auth.h), in Ingress order;
  // the objects that make them are never cached, so they are made again on every pass.
  std::vector<config::Consumer> ingress_consumers;

  void addRoute(const std::string& host, config::Route route) {
    if (recording) recording->routes.emplace_back(host, route);
    hosts[host].push_back(std::move(route));
  }
  config::WeightedBackend resolveService(const std::string& ns, const std::string& name,
                                         const ServicePortRef& port, uint32_t weight,
                                         const UpstreamTls& tls) {
    auto result = backends.service(ns, name, port, weight, tls);
    if (recording) recording->lookups.push_back({false, ns, name, "", port, weight, tls, result});
    return result;
  }
  config::WeightedBackend resolveUrl(const std::string& url, uint32_t weight,
                                     const std::optional<UpstreamTls>& tls) {
    auto result = backends.url(url, weight, tls);
    if (recording) recording->lookups.push_back({true, "", "", url, {}, weight, tls, result});
    return result;
  }
  // data[key] of a Secret as a PEM CA bundle (for upstream TLS).
  std::optional<std::string> resolveCaBundle(const std::string& ns, const std::string& name,
                                             const std::string& key, std::string& problem) {
    if (recording) recording->uncacheable = true;
    return certificates.caBundle(ns, name, key, problem);
  }
  // A Secret read for an object's own use (Ingress basic-auth users). A replay cannot check
  // that its content is unchanged, so the object is never reused from the cache.
  const KubeObject* findSecret(const std::string& ns, const std::string& name) {
    if (recording) recording->uncacheable = true;
    return objects.find("Secret", ns, name);
  }

  void markServed(const KubeObject& o) { served[o.displayName()].object = &o; }
  void noteUnresolved(const KubeObject& o, const std::string& field, const std::string& reason) {
    served[o.displayName()].unresolved.push_back(field + ": " + reason);
  }

  bool inWatchedNamespace(const KubeObject& o) const {
    return options.watch_namespace.empty() || o.ns.empty() || o.ns == options.watch_namespace;
  }
  uint32_t rankOf(const KubeObject& o) const {
    auto it = ranks.find(o.displayName());
    return it == ranks.end() ? 0 : it->second;
  }
};

void translateIngresses(TranslationContext& ctx);
void translateAPIRoutes(TranslationContext& ctx);
// The spec.policy of APIRoute ns/name as fields of a route (an Ingress's atrium.dev/policy),
// with rate limits counted under `rate_limit_scope`. nullopt and `problem` when the APIRoute is
// missing or its policy is invalid (the Ingress is then not served without it).
std::optional<config::Route> apiRoutePolicy(TranslationContext& ctx, const std::string& ns,
                                            const std::string& name,
                                            const std::string& rate_limit_scope,
                                            std::string& problem);
// TLS hosts and certificates of the objects of our class (after the routes), and the default
// certificate (--default-tls-secret).
void translateTls(TranslationContext& ctx, config::ConfigSnapshot& snapshot);
// The APIConsumers of the watched namespaces, with their credentials (consumer_translator.cc).
void translateConsumers(TranslationContext& ctx, config::ConfigSnapshot& snapshot);

}  // namespace atrium::controller::translator
