#pragma once
// ingress-nginx basic authentication on an Ingress (auth-type: basic, auth-secret,
// auth-secret-type, auth-realm): the htpasswd users of one Secret become consumers that only
// this Ingress's routes authenticate against.
#include <optional>
#include <string>
#include <vector>

#include "controller/translator/field_reader.h"
#include "src/config/snapshot.h"

namespace atrium::controller::translator {

struct TranslationContext;

// The annotations as written (validated by readAnnotations in ingress_translator.cc).
struct IngressBasicAuthAnnotations {
  std::string type_field;    // the auth-type annotation's field path
  std::string secret;        // "name" or "namespace/name"; empty: not set
  std::string secret_field;  // the auth-secret annotation's field path
  bool auth_map = false;     // auth-secret-type: auth-map (else auth-file)
  std::string realm;         // ingress-nginx's default is "" (nginx then sends realm="")
};

struct IngressBasicAuth {
  config::AuthPolicy policy;
  std::vector<config::Consumer> consumers;
};

// The consumer namespace of the users of `ingress`: "Ingress ns/name". No Kubernetes namespace
// can be spelt so, so APIConsumers never pass these routes and these users pass no others.
std::string ingressConsumerNamespace(const KubeObject& ingress);

// The route policy and consumers of `ingress`, or nullopt when its Secret cannot be used
// (reported as an error): the caller then answers its routes 503, as ingress-nginx does,
// never serving them unauthenticated. A user whose hash Atrium cannot check is reported (by
// name, never the hash) and left out. Reads the Secret through ctx (uncacheable).
std::optional<IngressBasicAuth> readIngressBasicAuth(TranslationContext& ctx, FieldReader& r,
                                                     const KubeObject& ingress,
                                                     const IngressBasicAuthAnnotations& a);

}  // namespace atrium::controller::translator
