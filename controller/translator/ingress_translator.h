#pragma once
// The parts of the Ingress translation (ingress_translator.cc) that a canary Ingress
// (ingress_canary.cc) reuses: it is read as its main Ingress would read it.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/translator/field_reader.h"
#include "src/config/snapshot.h"

namespace atrium::controller::translator {

struct TranslationContext;

// What an Ingress's annotations make of its paths and backends. ingress-nginx ignores a
// canary's own annotations: its paths and backends are read with its main Ingress's settings.
struct IngressPathSettings {
  bool regex = false;          // use-regex or rewrite-target
  bool backend_https = false;  // backend-protocol: HTTPS
};
IngressPathSettings ingressPathSettings(const KubeObject& ingress);

// The match of one item of `spec.rules[].http.paths` (at field path `field`), as the Ingress
// translator builds it; nullopt when the path is invalid (reported on `r`).
std::optional<config::RouteMatch> readIngressPathMatch(FieldReader& r, const nlohmann::json& item,
                                                       const std::string& field, bool regex);

// An IngressBackend of `ingress` at field path `field`, resolved through ctx; nullopt when it
// is invalid (reported on `r`).
std::optional<config::WeightedBackend> readIngressBackend(TranslationContext& ctx, FieldReader& r,
                                                          const KubeObject& ingress,
                                                          const nlohmann::json* backend,
                                                          const std::string& field,
                                                          bool backend_https);

// The value of annotation `key` (without prefix) of an Ingress: atrium.dev/ wins over its
// nginx.ingress.kubernetes.io/ alias; nullopt when neither is a string.
std::optional<std::string> ingressAnnotation(const KubeObject& ingress, const std::string& key);

}  // namespace atrium::controller::translator
