#pragma once
// Helpers shared by the translator tests that feed YAML text through the whole translator and
// look at one route: an APIRoute "shop/orders" on api.example.com, with a Service "svc".
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "controller/manifests/manifest_loader.h"
#include "controller/translator/translator.h"

namespace atrium::controller::translator::yaml_support {

inline manifests::LoadResult load(const std::string& yaml) {
  manifests::LoadResult loaded;
  manifests::parseManifestText(yaml, "test.yaml", loaded);
  for (const auto& d : loaded.diagnostics) ADD_FAILURE() << "loader: " << d.format();
  return loaded;
}

inline TranslatorOptions options() {
  TranslatorOptions o;
  o.watch_without_class = true;
  return o;
}

inline TranslationResult translateYaml(const std::string& yaml) {
  return translate(load(yaml).objects, options());
}

// The objects of `yaml` with a uid and resourceVersion each, as the API server gives them, so
// that a TranslationCache reuses what it can.
inline ObjectStore versioned(const std::string& yaml) {
  const auto loaded = load(yaml);
  ObjectStore out;
  int n = 0;
  for (const char* kind : {"Ingress", "APIRoute", "Service", "EndpointSlice", "Secret"}) {
    for (const auto& [key, object] : loaded.objects.all(kind)) {
      KubeObject o = object;
      o.body["metadata"]["uid"] = "uid-" + std::to_string(++n);
      o.body["metadata"]["resourceVersion"] = std::to_string(n);
      out.upsert(std::move(o));
    }
  }
  return out;
}

// The route named `name` (namespace/object/rule) of the first host that has it.
inline const config::Route* findRoute(const TranslationResult& result, const std::string& name) {
  for (const auto& vh : result.snapshot.virtual_hosts) {
    for (const auto& r : vh.routes) {
      if (r.name == name) return &r;
    }
  }
  return nullptr;
}

// "field: message" of the errors (or warnings) of the result.
inline std::vector<std::string> reports(const TranslationResult& result, bool warnings) {
  std::vector<std::string> out;
  for (const auto& d : result.diagnostics) {
    if (d.warning == warnings) out.push_back(d.field + ": " + d.message);
  }
  return out;
}

inline const char* kService = R"(
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: shop}
spec:
  ports: [{port: 80}]
)";

// An Ingress shop/web on web.example.com, `path` (Prefix) to Service svc port 80, with these
// annotations, and the Service.
inline std::string annotatedIngress(const std::map<std::string, std::string>& annotations,
                                    const std::string& path = "/") {
  std::string yaml = R"(apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  annotations:
)";
  for (const auto& [k, v] : annotations) yaml += "    " + k + ": \"" + v + "\"\n";
  if (annotations.empty()) yaml += "    {}\n";
  yaml += R"(spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - path: )" + path + R"(
        pathType: Prefix
        backend: {service: {name: svc, port: {number: 80}}}
)";
  return yaml + kService;
}

// An APIRoute shop/orders on api.example.com with `spec` (indented YAML) and the Service.
inline std::string route(const std::string& spec) {
  return "apiVersion: atrium.dev/v1alpha1\nkind: APIRoute\nmetadata: {name: orders, namespace: "
         "shop}\nspec:\n  hostnames: [api.example.com]\n" +
         spec + kService;
}

}  // namespace atrium::controller::translator::yaml_support
