// Hot-function benchmarks behind SPEC.md §9:
//   - route lookup among 10 / 1,000 / 10,000 routes: < 1 µs median and flat in the route count;
//   - RouteTable::build for 10,000 routes;
//   - snapshot build for 10,000 Ingress rules through the translator: < 300 ms.
// Run: build-bench/bench/atrium_route_bench  (or bench/run.sh --route-bench).
// Lookups cycle through a fixed, shuffled set of requests larger than one cache line of hosts so
// a result is not one hot hash bucket replayed; the seed is fixed so runs are comparable.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "controller/store/object_store.h"
#include "controller/translator/translation_cache.h"
#include "controller/translator/translator.h"
#include "proxy/router/route_table.h"
#include "src/config/snapshot.h"

namespace {

using atrium::config::ConfigSnapshot;
using atrium::proxy::router::HeaderSource;
using atrium::proxy::router::RequestView;
using atrium::proxy::router::RouteTable;
namespace config = atrium::config;
namespace controller = atrium::controller;

// --- a synthetic snapshot ----------------------------------------------------------------------

// Paths of every exact host: the shapes an Ingress usually has (a catch-all, nested API prefixes,
// static assets and one Exact health path).
struct PathSpec {
  config::PathType type;
  const char* value;
};
constexpr PathSpec kHostPaths[] = {
    {config::PathType::Prefix, "/"},       {config::PathType::Prefix, "/api"},
    {config::PathType::Prefix, "/api/v1"}, {config::PathType::Prefix, "/static/assets"},
    {config::PathType::Exact, "/healthz"},
};
constexpr size_t kRoutesPerHost = std::size(kHostPaths);

config::Route makeRoute(const std::string& name, uint32_t rank, config::PathType type,
                        const std::string& path, const std::string& cluster) {
  config::Route route;
  route.name = name;
  route.source = "Ingress " + name;
  route.object_rank = rank;
  config::RouteMatch match;
  match.path.type = type;
  match.path.value = path;
  route.matches.push_back(std::move(match));
  route.backends.push_back({cluster, 1, {}});
  return route;
}

std::string hostName(size_t i) { return "app-" + std::to_string(i) + ".example.com"; }

// About `total_routes` routes: exact hosts with kRoutesPerHost routes each, plus a one-label
// wildcard host and a hostless table holding a regex route and a catch-all.
ConfigSnapshot makeSnapshot(size_t total_routes) {
  ConfigSnapshot snapshot;
  const size_t hosts = std::max<size_t>(1, total_routes / kRoutesPerHost);
  for (size_t h = 0; h < hosts; ++h) {
    config::Cluster cluster;
    cluster.name = "default/svc-" + std::to_string(h) + ":80";
    cluster.endpoints.push_back(
        {"10.0." + std::to_string(h / 250) + "." + std::to_string(h % 250), 8080});
    config::VirtualHost vh;
    vh.hostname = hostName(h);
    for (size_t p = 0; p < kRoutesPerHost; ++p) {
      vh.routes.push_back(makeRoute("default/app-" + std::to_string(h) + "/" + std::to_string(p),
                                    static_cast<uint32_t>(h), kHostPaths[p].type,
                                    kHostPaths[p].value, cluster.name));
    }
    snapshot.virtual_hosts.push_back(std::move(vh));
    snapshot.clusters.push_back(std::move(cluster));
  }
  const std::string fallback = snapshot.clusters.front().name;

  config::VirtualHost wildcard;
  wildcard.hostname = "*.wild.example.com";
  wildcard.routes.push_back(
      makeRoute("default/wild/0", 0, config::PathType::Prefix, "/", fallback));
  wildcard.routes.push_back(
      makeRoute("default/wild/1", 0, config::PathType::Prefix, "/api", fallback));
  snapshot.virtual_hosts.push_back(std::move(wildcard));

  config::VirtualHost any;
  any.hostname = "";
  any.routes.push_back(makeRoute("default/any/0", 0, config::PathType::RegularExpression,
                                 "/items/[0-9]+/detail", fallback));
  any.routes.push_back(makeRoute("default/any/1", 0, config::PathType::Prefix, "/", fallback));
  snapshot.virtual_hosts.push_back(std::move(any));

  std::sort(snapshot.virtual_hosts.begin(), snapshot.virtual_hosts.end(),
            [](const auto& a, const auto& b) { return a.hostname < b.hostname; });
  std::sort(snapshot.clusters.begin(), snapshot.clusters.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return snapshot;
}

// --- requests ----------------------------------------------------------------------------------

class NoHeaders : public HeaderSource {
 public:
  std::optional<std::string_view> find(std::string_view) const override { return std::nullopt; }
};

// Backing storage for the request views (views must not point into a reallocating vector).
struct RequestSet {
  std::vector<std::string> hosts;
  std::vector<std::string> paths;
  std::vector<RequestView> views;
};

// A mix a real ingress sees: mostly hits on exact hosts (some with a port or in upper case, which
// the table must canonicalise), some wildcard hosts, some unknown hosts that fall to the hostless
// table and its regex.
std::unique_ptr<RequestSet> makeRequests(size_t hosts, size_t count) {
  static const NoHeaders kNoHeaders;
  static const char* kPaths[] = {
      "/api/v1/users/42", "/api/v2/orders", "/static/assets/app.js", "/healthz", "/",
      "/account/settings"};
  auto set = std::make_unique<RequestSet>();
  std::mt19937_64 rng(42);
  set->hosts.reserve(count);
  set->paths.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const size_t kind = rng() % 20;
    std::string host;
    std::string path = kPaths[rng() % std::size(kPaths)];
    if (kind < 15) {  // 75 %: an exact host
      host = hostName(rng() % hosts);
      if (kind == 0) host += ":8080";
      if (kind == 1) std::transform(host.begin(), host.end(), host.begin(), ::toupper);
    } else if (kind < 17) {  // 10 %: the wildcard
      host = "tenant-" + std::to_string(rng() % 1000) + ".wild.example.com";
    } else {  // 15 %: unknown host → hostless table, half of them through the regex
      host = "unknown-" + std::to_string(rng() % 1000) + ".other.net";
      if (kind % 2 == 0) path = "/items/" + std::to_string(rng() % 100000) + "/detail";
    }
    set->hosts.push_back(std::move(host));
    set->paths.push_back(std::move(path));
  }
  for (size_t i = 0; i < count; ++i) {
    RequestView view;
    view.host = set->hosts[i];
    view.path = set->paths[i];
    view.method = "GET";
    view.headers = &kNoHeaders;
    set->views.push_back(view);
  }
  return set;
}

// --- benchmarks --------------------------------------------------------------------------------

// One iteration = one lookup; the reported time is the time per lookup.
void BM_RouteMatch(benchmark::State& state) {
  const size_t routes = static_cast<size_t>(state.range(0));
  const ConfigSnapshot snapshot = makeSnapshot(routes);  // the table points into it
  std::vector<std::string> errors;
  const auto table = RouteTable::build(snapshot, &errors);
  if (!errors.empty()) {
    state.SkipWithError(errors.front().c_str());
    return;
  }
  const auto requests = makeRequests(std::max<size_t>(1, routes / kRoutesPerHost), 8192);
  const auto& views = requests->views;
  size_t i = 0;
  size_t misses = 0;
  for (auto _ : state) {
    const auto hit = table->match(views[i]);
    benchmark::DoNotOptimize(hit);
    misses += hit ? 0 : 1;
    if (++i == views.size()) i = 0;
  }
  // Every generated request has a route (hostless "/" catches the rest); a miss means the
  // router or this benchmark is wrong, not slow.
  if (misses != 0) state.SkipWithError("some lookups found no route");
  state.counters["routes"] = static_cast<double>(table->routes().size());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RouteMatch)
    ->Arg(10)
    ->Arg(1000)
    ->Arg(10000)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true)
    ->DisplayAggregatesOnly(true);

void BM_RouteTableBuild(benchmark::State& state) {
  const ConfigSnapshot snapshot = makeSnapshot(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto table = RouteTable::build(snapshot);
    benchmark::DoNotOptimize(table);
  }
  state.counters["routes"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_RouteTableBuild)->Arg(10000)->Unit(benchmark::kMillisecond);

// --- snapshot build through the translator -----------------------------------------------------

controller::KubeObject kubeObject(const char* kind, const char* api_version, std::string ns,
                                  std::string name, nlohmann::json body) {
  controller::KubeObject object;
  object.kind = kind;
  object.api_version = api_version;
  object.ns = std::move(ns);
  object.name = std::move(name);
  object.body = std::move(body);
  return object;
}

nlohmann::json metadata(const std::string& ns, const std::string& name, size_t serial) {
  // Distinct creation times give the translator's "oldest wins" ordering real work to do.
  char timestamp[32];
  std::snprintf(timestamp, sizeof timestamp, "2024-01-%02zuT%02zu:%02zu:%02zuZ",
                1 + serial / 3600 % 28, serial / 3600 % 24, serial / 60 % 60, serial % 60);
  nlohmann::json meta = {
      {"name", name},
      {"uid", "00000000-0000-0000-0000-" + std::to_string(100000000000 + serial)},
      {"resourceVersion", std::to_string(1000 + serial)},
      {"generation", 1},
      {"creationTimestamp", timestamp}};
  if (!ns.empty()) meta["namespace"] = ns;
  return meta;
}

// `ingresses` Ingresses of `paths` Prefix paths each, one host per Ingress, each backed by its own
// Service (named port) and an EndpointSlice of three ready endpoints: the common real-world shape.
controller::ObjectStore makeObjects(size_t ingresses, size_t paths) {
  controller::ObjectStore store;
  store.upsert(kubeObject("IngressClass", "networking.k8s.io/v1", "", "atrium",
                          {{"apiVersion", "networking.k8s.io/v1"},
                           {"kind", "IngressClass"},
                           {"metadata", metadata("", "atrium", 0)},
                           {"spec", {{"controller", "atrium.dev/ingress-controller"}}}}));
  for (size_t i = 0; i < ingresses; ++i) {
    const std::string ns = "team-" + std::to_string(i % 20);
    const std::string svc = "svc-" + std::to_string(i);
    nlohmann::json http_paths = nlohmann::json::array();
    for (size_t p = 0; p < paths; ++p) {
      http_paths.push_back(
          {{"path", "/svc" + std::to_string(p) + "/v" + std::to_string(p % 3)},
           {"pathType", "Prefix"},
           {"backend", {{"service", {{"name", svc}, {"port", {{"name", "http"}}}}}}}});
    }
    store.upsert(
        kubeObject("Ingress", "networking.k8s.io/v1", ns, "ing-" + std::to_string(i),
                   {{"apiVersion", "networking.k8s.io/v1"},
                    {"kind", "Ingress"},
                    {"metadata", metadata(ns, "ing-" + std::to_string(i), i)},
                    {"spec",
                     {{"ingressClassName", "atrium"},
                      {"rules", {{{"host", hostName(i)}, {"http", {{"paths", http_paths}}}}}}}}}));

    store.upsert(kubeObject(
        "Service", "v1", ns, svc,
        {{"apiVersion", "v1"},
         {"kind", "Service"},
         {"metadata", metadata(ns, svc, i)},
         {"spec",
          {{"type", "ClusterIP"},
           {"clusterIP", "10.96." + std::to_string(i / 250) + "." + std::to_string(i % 250)},
           {"selector", {{"app", svc}}},
           {"ports",
            {{{"name", "http"}, {"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}}}}}}));

    nlohmann::json endpoints = nlohmann::json::array();
    for (size_t e = 0; e < 3; ++e) {
      endpoints.push_back(
          {{"addresses",
            {"10." + std::to_string(1 + e) + "." + std::to_string(i / 250) + "." +
             std::to_string(i % 250)}},
           {"conditions", {{"ready", true}, {"serving", true}, {"terminating", false}}}});
    }
    const std::string slice = svc + "-abcde";
    nlohmann::json slice_meta = metadata(ns, slice, i);
    slice_meta["labels"] = {
        {"kubernetes.io/service-name", svc},
        {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"}};
    store.upsert(kubeObject("EndpointSlice", "discovery.k8s.io/v1", ns, slice,
                            {{"apiVersion", "discovery.k8s.io/v1"},
                             {"kind", "EndpointSlice"},
                             {"metadata", slice_meta},
                             {"addressType", "IPv4"},
                             {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}},
                             {"endpoints", endpoints}}));
  }
  return store;
}

size_t countRoutes(const ConfigSnapshot& snapshot) {
  size_t n = 0;
  for (const auto& vh : snapshot.virtual_hosts) n += vh.routes.size();
  return n;
}

// Reports a translator that silently produced nothing instead of timing it.
bool checkTranslation(benchmark::State& state, const controller::translator::TranslationResult& r,
                      size_t expected_rules) {
  if (!r.diagnostics.empty()) {
    const std::string first = "translator diagnostic: " + r.diagnostics.front().format();
    state.SkipWithError(first.c_str());
    return false;
  }
  // An Ingress rule may become one route per path or one route with several matches; count
  // matches so either layout is accepted.
  size_t matches = 0;
  for (const auto& vh : r.snapshot.virtual_hosts) {
    for (const auto& route : vh.routes) matches += std::max<size_t>(1, route.matches.size());
  }
  if (matches < expected_rules) {
    const std::string msg = "translator produced " + std::to_string(matches) +
                            " route matches, expected " + std::to_string(expected_rules);
    state.SkipWithError(msg.c_str());
    return false;
  }
  return true;
}

constexpr size_t kIngresses = 1000;
constexpr size_t kPathsPerIngress = 10;

void BM_TranslateIngresses(benchmark::State& state) {
  const controller::ObjectStore objects = makeObjects(kIngresses, kPathsPerIngress);
  const controller::translator::TranslatorOptions options;  // class "atrium"
  if (!checkTranslation(state, controller::translator::translate(objects, options),
                        kIngresses * kPathsPerIngress)) {
    return;
  }
  for (auto _ : state) {
    auto result = controller::translator::translate(objects, options);
    benchmark::DoNotOptimize(result);
  }
  state.counters["rules"] = static_cast<double>(kIngresses * kPathsPerIngress);
}
BENCHMARK(BM_TranslateIngresses)->Unit(benchmark::kMillisecond);

// The controller's case: one Ingress changed since the last translation, the rest reused from
// the translation cache (translation_cache.h).
void BM_TranslateOneChangedIngress(benchmark::State& state) {
  controller::ObjectStore objects = makeObjects(kIngresses, kPathsPerIngress);
  const controller::translator::TranslatorOptions options;
  controller::translator::TranslationCache cache;
  if (!checkTranslation(state, controller::translator::translate(objects, options, &cache),
                        kIngresses * kPathsPerIngress)) {
    return;
  }
  auto changed = *objects.find("Ingress", "team-7", "ing-7");
  uint64_t version = 1'000'000;
  for (auto _ : state) {
    changed.body["metadata"]["resourceVersion"] = std::to_string(++version);
    objects.upsert(changed);
    auto result = controller::translator::translate(objects, options, &cache);
    benchmark::DoNotOptimize(result);
  }
  state.counters["rules"] = static_cast<double>(kIngresses * kPathsPerIngress);
}
BENCHMARK(BM_TranslateOneChangedIngress)->Unit(benchmark::kMillisecond);

// What a configuration change costs end to end before publishing: objects → snapshot → the
// compiled table every worker will read.
void BM_TranslateAndCompile(benchmark::State& state) {
  const controller::ObjectStore objects = makeObjects(kIngresses, kPathsPerIngress);
  const controller::translator::TranslatorOptions options;
  if (!checkTranslation(state, controller::translator::translate(objects, options),
                        kIngresses * kPathsPerIngress)) {
    return;
  }
  size_t routes = 0;
  for (auto _ : state) {
    auto result = controller::translator::translate(objects, options);
    auto table = RouteTable::build(result.snapshot);
    benchmark::DoNotOptimize(table);
    routes = countRoutes(result.snapshot);
  }
  state.counters["routes"] = static_cast<double>(routes);
}
BENCHMARK(BM_TranslateAndCompile)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
