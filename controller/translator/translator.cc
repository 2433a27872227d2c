#include "controller/translator/translator.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "controller/translator/field_reader.h"
#include "controller/translator/object_status.h"
#include "controller/translator/translation_context.h"
#include "src/config/snapshot_json.h"

namespace atrium::controller::translator {

namespace {

// Age order of every routing object: the oldest wins conflicts and ties (SPEC §3.1, §3.2).
// Objects without creationTimestamp (manifest files) sort first, then by kind/namespace/name, so
// the order is total and deterministic.
void rankObjects(TranslationContext& ctx) {
  std::vector<std::tuple<std::string, std::string, const KubeObject*>> all;
  for (const char* kind : {"Ingress", "APIRoute"}) {
    for (const auto& [key, o] : ctx.objects.all(kind)) {
      std::string created;
      const auto& timestamp = jsonAt(jsonAt(o.body, "metadata"), "creationTimestamp");
      if (timestamp.is_string()) created = timestamp.get<std::string>();
      all.emplace_back(created, o.displayName(), &o);
    }
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
  });
  for (size_t i = 0; i < all.size(); ++i) ctx.ranks[std::get<1>(all[i])] = static_cast<uint32_t>(i);
}

bool isIngressRoute(const config::Route& r) { return r.source.rfind("Ingress ", 0) == 0; }

// Two Ingress paths for the same host with the same type and value: the older object keeps it,
// the newer one's path is reported and dropped (an ingress-nginx user expects exactly one
// backend per host+path).
void dropIngressConflicts(TranslationContext& ctx, const std::string& host,
                          std::vector<config::Route>& routes) {
  std::vector<config::Route> kept;
  for (auto& route : routes) {
    const config::Route* winner = nullptr;
    if (isIngressRoute(route)) {
      for (const auto& k : kept) {
        if (!isIngressRoute(k) || k.is_default_backend != route.is_default_backend) continue;
        if (k.matches == route.matches) {
          winner = &k;
          break;
        }
      }
    }
    if (!winner) {
      kept.push_back(std::move(route));
      continue;
    }
    std::string what = route.is_default_backend
                           ? std::string("defaultBackend")
                           : std::string(config::toString(route.matches.front().path.type)) +
                                 " path \"" + route.matches.front().path.value + "\"";
    const std::string where = " for host \"" + (host.empty() ? "*" : host) + "\"";
    ctx.diagnostics.push_back(
        {"", route.source, "spec",
         winner->source == route.source
             ? what + where + " is declared more than once; the first one is used"
             : what + where + " conflicts with " + winner->source + ", which is older and wins",
         true});
  }
  routes = std::move(kept);
}

}  // namespace

TranslationResult translate(const ObjectStore& objects, const TranslatorOptions& options,
                            TranslationCache* cache) {
  TranslationResult result;
  TranslationContext ctx(objects, options, result.diagnostics,
                         cache ? &cache->lastGoodCertificates() : nullptr);
  ctx.cache = cache;
  rankObjects(ctx);
  translateIngresses(ctx);
  translateAPIRoutes(ctx);

  for (auto& [host, routes] : ctx.hosts) {
    std::stable_sort(routes.begin(), routes.end(),
                     [](const config::Route& a, const config::Route& b) {
                       return std::tie(a.object_rank, a.rule_index, a.is_default_backend) <
                              std::tie(b.object_rank, b.rule_index, b.is_default_backend);
                     });
    dropIngressConflicts(ctx, host, routes);
    if (routes.empty()) continue;
    result.snapshot.virtual_hosts.push_back({host, std::move(routes)});
  }
  // Only clusters that a served route references (a rule dropped for an error may have
  // resolved one).
  std::set<std::string> used;
  for (const auto& vh : result.snapshot.virtual_hosts) {
    for (const auto& r : vh.routes) {
      for (const auto& b : r.backends) used.insert(b.cluster);
      if (r.aggregate) {
        for (const auto& call : r.aggregate->calls) used.insert(call.cluster);
      }
    }
  }
  for (auto& cluster : ctx.backends.takeClusters()) {
    if (used.count(cluster.name)) result.snapshot.clusters.push_back(std::move(cluster));
  }
  // Attach the source file of each object to its diagnostics emitted without one.
  for (auto& d : result.diagnostics) {
    if (!d.source.empty() || d.object.empty()) continue;
    auto space = d.object.find(' ');
    auto slash = d.object.find('/', space);
    if (space == std::string::npos || slash == std::string::npos) continue;
    if (const auto* o =
            objects.find(d.object.substr(0, space), d.object.substr(space + 1, slash - space - 1),
                         d.object.substr(slash + 1))) {
      d.source = o->source;
    }
  }
  translateTls(ctx, result.snapshot);
  translateConsumers(ctx, result.snapshot);
  for (auto& c : ctx.ingress_consumers) result.snapshot.consumers.push_back(std::move(c));
  result.statuses = objectStatuses(ctx, result.snapshot, result.diagnostics);
  if (cache) cache->finishPass();
  return result;
}

}  // namespace atrium::controller::translator
