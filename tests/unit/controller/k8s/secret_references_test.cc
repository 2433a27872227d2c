#include "controller/k8s/secret_references.h"

#include <gtest/gtest.h>

namespace atrium::controller::k8s {
namespace {

KubeObject object(const std::string& kind, const std::string& ns, const std::string& name,
                  nlohmann::json spec) {
  KubeObject o;
  o.kind = kind;
  o.ns = ns;
  o.name = name;
  o.body = {{"kind", kind}, {"metadata", {{"name", name}, {"namespace", ns}}}, {"spec", spec}};
  return o;
}

TEST(SecretReferences, CollectsEveryReferenceInTheObjectsNamespace) {
  ObjectStore store;
  store.upsert(object("Ingress", "web", "site",
                      {{"tls",
                        {{{"hosts", {"a.example.com"}}, {"secretName", "site-tls"}},
                         {{"hosts", {"b.example.com"}}}}}}));
  store.upsert(object(
      "APIRoute", "api", "route",
      {{"tls",
        {{"secretName", "api-tls"},
         {"clientValidation", {{"caSecretRef", {{"name", "client-ca"}, {"key", "ca.crt"}}}}}}},
       {"policy", {{"auth", {{"jwt", {{"jwksSecretRef", {{"name", "jwks"}}}}}}}}}}));
  store.upsert(object("APIConsumer", "api", "acme",
                      {{"credentials",
                        {{"apiKeys", {{{"secretRef", {{"name", "acme-key"}, {"key", "key"}}}}}},
                         {"basicAuth", {{"secretRef", {{"name", "acme-basic"}}}}}}}}));
  // Services and other kinds never make a Secret wanted.
  store.upsert(object("Service", "web", "svc", {{"secretName", "not-a-reference"}}));
  auto refs = referencedSecrets(store, "infra/default-cert");
  EXPECT_EQ(refs, (std::set<std::string>{"web/site-tls", "api/api-tls", "api/client-ca", "api/jwks",
                                         "api/acme-key", "api/acme-basic", "infra/default-cert"}));
  EXPECT_TRUE(referencedSecrets(ObjectStore(), "").empty());
}

TEST(SecretReferences, IngressBasicAuthSecretOfItsOwnNamespace) {
  ObjectStore store;
  auto withAnnotations = [](KubeObject o, nlohmann::json annotations) {
    o.body["metadata"]["annotations"] = std::move(annotations);
    return o;
  };
  store.upsert(withAnnotations(object("Ingress", "web", "private", nlohmann::json::object()),
                               {{"nginx.ingress.kubernetes.io/auth-type", "basic"},
                                {"nginx.ingress.kubernetes.io/auth-secret", "htpasswd"}}));
  store.upsert(withAnnotations(object("Ingress", "web", "qualified", nlohmann::json::object()),
                               {{"atrium.dev/auth-secret", "web/other-users"}}));
  // Another namespace's Secret is refused by the translator: never fetched either.
  store.upsert(withAnnotations(object("Ingress", "web", "foreign", nlohmann::json::object()),
                               {{"nginx.ingress.kubernetes.io/auth-secret", "kube-system/admin"}}));
  EXPECT_EQ(referencedSecrets(store, ""),
            (std::set<std::string>{"web/htpasswd", "web/other-users"}));
}

}  // namespace
}  // namespace atrium::controller::k8s
