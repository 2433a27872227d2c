// The status the translator concludes for each object of our class.
#include <gtest/gtest.h>

#include "controller/manifests/manifest_loader.h"
#include "controller/translator/translator.h"

namespace atrium::controller::translator {
namespace {

TranslationResult translateText(const std::string& yaml) {
  manifests::LoadResult loaded;
  manifests::parseManifestText(yaml, "test.yaml", loaded);
  EXPECT_TRUE(loaded.diagnostics.empty()) << loaded.diagnostics.front().format();
  return translate(loaded.objects, TranslatorOptions());
}

const ObjectStatus* find(const TranslationResult& r, const std::string& kind,
                         const std::string& name) {
  for (const auto& s : r.statuses) {
    if (s.kind == kind && s.name == name) return &s;
  }
  return nullptr;
}

const ObjectCondition& condition(const ObjectStatus& s, const std::string& type) {
  for (const auto& c : s.conditions) {
    if (c.type == type) return c;
  }
  static const ObjectCondition kNone;
  ADD_FAILURE() << "no condition " << type;
  return kNone;
}

constexpr const char* kObjects = R"(
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: atrium}
spec: {controller: atrium.dev/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: shop}
spec: {type: ExternalName, externalName: localhost, ports: [{name: http, port: 80}]}
---
apiVersion: atrium.dev/v1alpha1
kind: APIRoute
metadata: {name: good, namespace: shop, generation: 7}
spec:
  ingressClassName: atrium
  rules:
  - backends: [{service: {name: svc, port: 80}}]
---
apiVersion: atrium.dev/v1alpha1
kind: APIRoute
metadata: {name: dangling, namespace: shop}
spec:
  ingressClassName: atrium
  rules:
  - matches: [{path: {type: PathPrefix, value: /a}}]
    backends: [{service: {name: nowhere, port: 80}}]
---
apiVersion: atrium.dev/v1alpha1
kind: APIRoute
metadata: {name: partly, namespace: shop}
spec:
  ingressClassName: atrium
  rules:
  - matches: [{path: {type: PathPrefix, value: /ok}}]
    backends: [{service: {name: svc, port: 80}}]
  - matches: [{path: {type: RegularExpression, value: "/(unclosed"}}]
    backends: [{service: {name: svc, port: 80}}]
---
apiVersion: atrium.dev/v1alpha1
kind: APIRoute
metadata: {name: wholly, namespace: shop}
spec:
  ingressClassName: atrium
  rules: []
---
apiVersion: atrium.dev/v1alpha1
kind: APIRoute
metadata: {name: theirs, namespace: shop}
spec:
  ingressClassName: other
  rules:
  - backends: [{service: {name: svc, port: 80}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: site, namespace: shop}
spec:
  ingressClassName: atrium
  defaultBackend: {service: {name: svc, port: {number: 80}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: foreign, namespace: shop}
spec:
  ingressClassName: some-invalid-class-name
  defaultBackend: {service: {name: svc, port: {number: 80}}}
)";

TEST(ObjectStatus, OnlyObjectsOfOurClassGetOne) {
  auto r = translateText(kObjects);
  EXPECT_TRUE(find(r, "Ingress", "site"));
  EXPECT_FALSE(find(r, "Ingress", "foreign"));
  EXPECT_FALSE(find(r, "APIRoute", "theirs"));
  EXPECT_TRUE(find(r, "Ingress", "site")->conditions.empty());
  EXPECT_EQ(r.statuses.size(), 5u);
}

TEST(ObjectStatus, ValidRouteIsAcceptedResolvedProgrammedAtItsGeneration) {
  auto r = translateText(kObjects);
  const auto* s = find(r, "APIRoute", "good");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->generation, 7);
  EXPECT_TRUE(condition(*s, "Accepted").status);
  EXPECT_TRUE(condition(*s, "ResolvedRefs").status);
  EXPECT_TRUE(condition(*s, "Programmed").status);
}

TEST(ObjectStatus, MissingServiceIsBackendNotFoundButStillProgrammed) {
  auto r = translateText(kObjects);
  const auto* s = find(r, "APIRoute", "dangling");
  ASSERT_TRUE(s);
  const auto& refs = condition(*s, "ResolvedRefs");
  EXPECT_FALSE(refs.status);
  EXPECT_EQ(refs.reason, "BackendNotFound");
  EXPECT_NE(refs.message.find("spec.rules[0].backends[0]"), std::string::npos) << refs.message;
  EXPECT_NE(refs.message.find("nowhere"), std::string::npos) << refs.message;
  EXPECT_TRUE(condition(*s, "Accepted").status);
  EXPECT_TRUE(condition(*s, "Programmed").status);  // the rule answers 500, as declared
}

TEST(ObjectStatus, PartlyAndWhollyInvalidRoutes) {
  auto r = translateText(kObjects);
  const auto* partly = find(r, "APIRoute", "partly");
  ASSERT_TRUE(partly);
  EXPECT_TRUE(condition(*partly, "Accepted").status);
  EXPECT_EQ(condition(*partly, "Accepted").reason, "PartiallyInvalid");
  EXPECT_NE(condition(*partly, "Accepted").message.find("spec.rules[1]"), std::string::npos);
  EXPECT_TRUE(condition(*partly, "Programmed").status);

  const auto* wholly = find(r, "APIRoute", "wholly");
  ASSERT_TRUE(wholly);
  EXPECT_FALSE(condition(*wholly, "Accepted").status);
  EXPECT_EQ(condition(*wholly, "Accepted").reason, "Invalid");
  EXPECT_NE(condition(*wholly, "Accepted").message.find("spec.rules"), std::string::npos);
  EXPECT_FALSE(condition(*wholly, "Programmed").status);
}

}  // namespace
}  // namespace atrium::controller::translator
