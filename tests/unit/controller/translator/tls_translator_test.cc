// TLS in translation: which certificate each host presents (Ingress spec.tls, APIRoute spec.tls,
// --default-tls-secret), what happens when a Secret is missing or broken (reported with its field,
// counted, and the last good copy kept when a cache remembers it), client-certificate
// verification, ssl-redirect and HSTS on the routes, and no private key in /config.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "controller/translator/translation_cache.h"
#include "controller/translator/translator.h"
#include "src/config/snapshot_json.h"
#include "tests/unit/support/test_certs.h"

namespace atrium::controller::translator {
namespace {

using nlohmann::json;
using test_certs::TestCert;

// ---- certificates, made once for the file -------------------------------------------------

struct Certs {
  TestCert web = test_certs::selfSigned("a.example.com");
  TestCert other = test_certs::selfSigned("b.example.com");
  TestCert ca = test_certs::makeCert({"Client CA", {}, test_certs::KeyType::kEcdsa, true, nullptr});
};

const Certs& certs() {
  static const Certs instance;
  return instance;
}

// ---- objects ------------------------------------------------------------------------------

KubeObject kubeObject(const std::string& kind, const std::string& api_version,
                      const std::string& ns, const std::string& name, json body) {
  body["apiVersion"] = api_version;
  body["kind"] = kind;
  body["metadata"]["name"] = name;
  body["metadata"]["namespace"] = ns;
  return {kind, api_version, ns, name, "", std::move(body)};
}

KubeObject secret(const std::string& ns, const std::string& name, const json& data,
                  const std::string& type = "kubernetes.io/tls") {
  return kubeObject("Secret", "v1", ns, name, {{"type", type}, {"data", data}});
}

KubeObject tlsSecret(const std::string& ns, const std::string& name, const std::string& crt,
                     const std::string& key, const std::string& type = "kubernetes.io/tls") {
  return secret(ns, name,
                {{"tls.crt", test_certs::base64(crt)}, {"tls.key", test_certs::base64(key)}}, type);
}

KubeObject tlsSecret(const std::string& ns, const std::string& name, const TestCert& cert) {
  return tlsSecret(ns, name, cert.cert_pem, cert.key_pem);
}

KubeObject caSecret(const std::string& ns, const std::string& name, const std::string& pem) {
  return secret(ns, name, {{"ca.crt", test_certs::base64(pem)}}, "Opaque");
}

KubeObject service(const std::string& ns) {
  return kubeObject("Service", "v1", ns, "svc",
                    {{"spec",
                      {{"type", "ExternalName"},
                       {"externalName", "localhost"},
                       {"ports", {{{"name", "http"}, {"port", 80}}}}}}});
}

json ingressRule(const std::string& host) {
  json rule = {{"http",
                {{"paths",
                  {{{"path", "/"},
                    {"pathType", "Prefix"},
                    {"backend", {{"service", {{"name", "svc"}, {"port", {{"number", 80}}}}}}}}}}}}};
  if (!host.empty()) rule["host"] = host;
  return rule;
}

// Ingress spec.tls with one entry.
json tlsList(const std::string& secret_name, const std::vector<std::string>& hosts) {
  return json::array({{{"hosts", hosts}, {"secretName", secret_name}}});
}

// An Ingress with one rule per host of `hosts` and spec.tls `tls`.
KubeObject ingress(const std::string& ns, const std::string& name, const std::string& created,
                   const std::vector<std::string>& hosts, const json& tls,
                   const json& annotations = nullptr) {
  json rules = json::array();
  for (const auto& h : hosts) rules.push_back(ingressRule(h));
  json body = {{"metadata", {{"creationTimestamp", created}}}, {"spec", {{"rules", rules}}}};
  if (!tls.is_null()) body["spec"]["tls"] = tls;
  if (!annotations.is_null()) body["metadata"]["annotations"] = annotations;
  return kubeObject("Ingress", "networking.k8s.io/v1", ns, name, std::move(body));
}

KubeObject apiRoute(const std::string& ns, const std::string& name, const std::string& created,
                    const std::vector<std::string>& hostnames, const json& tls) {
  json spec = {{"hostnames", hostnames},
               {"rules", {{{"backends", {{{"service", {{"name", "svc"}, {"port", 80}}}}}}}}}};
  if (!tls.is_null()) spec["tls"] = tls;
  return kubeObject("APIRoute", "atrium.dev/v1alpha1", ns, name,
                    {{"metadata", {{"creationTimestamp", created}}}, {"spec", spec}});
}

// Gives `o` the uid and resourceVersion the API server would, so a TranslationCache applies.
KubeObject versioned(KubeObject o, const std::string& resource_version) {
  o.body["metadata"]["uid"] = "uid-" + o.kind + "-" + o.ns + "-" + o.name;
  o.body["metadata"]["resourceVersion"] = resource_version;
  return o;
}

ObjectStore store(std::vector<KubeObject> objects) {
  ObjectStore s;
  s.upsert(service("shop"));
  for (auto& o : objects) s.upsert(std::move(o));
  return s;
}

TranslatorOptions options() {
  TranslatorOptions o;
  o.watch_without_class = true;
  return o;
}

// ---- reading results ----------------------------------------------------------------------

const config::TlsHost* tlsHost(const config::ConfigSnapshot& s, const std::string& host) {
  for (const auto& h : s.tls_hosts) {
    if (h.hostname == host) return &h;
  }
  return nullptr;
}

const config::TlsCertificate* certificate(const config::ConfigSnapshot& s,
                                          const std::string& name) {
  for (const auto& c : s.certificates) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::vector<const config::Route*> routesOf(const config::ConfigSnapshot& s,
                                           const std::string& host) {
  std::vector<const config::Route*> out;
  for (const auto& vh : s.virtual_hosts) {
    if (vh.hostname != host) continue;
    for (const auto& r : vh.routes) out.push_back(&r);
  }
  return out;
}

// The diagnostics about `field` of `object` ("Ingress shop/web").
std::vector<Diagnostic> diagnosticsAt(const TranslationResult& r, const std::string& object,
                                      const std::string& field) {
  std::vector<Diagnostic> out;
  for (const auto& d : r.diagnostics) {
    if (d.object == object && d.field == field) out.push_back(d);
  }
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string allDiagnostics(const TranslationResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += d.format() + "\n";
  return out;
}

ObjectCondition resolvedRefs(const TranslationResult& r, const std::string& name) {
  for (const auto& s : r.statuses) {
    if (s.kind != "APIRoute" || s.name != name) continue;
    for (const auto& c : s.conditions) {
      if (c.type == "ResolvedRefs") return c;
    }
  }
  ADD_FAILURE() << "no ResolvedRefs condition for APIRoute " << name;
  return {};
}

constexpr const char* kOld = "2024-01-01T00:00:00Z";
constexpr const char* kNew = "2025-01-01T00:00:00Z";

// ---- Ingress spec.tls ---------------------------------------------------------------------

TEST(TlsTranslator, IngressTlsGivesHostsAndTheCertificate) {
  const auto& c = certs();
  auto result = translate(store({tlsSecret("shop", "web-tls", c.web),
                                 ingress("shop", "web", kOld, {"a.example.com"},
                                         tlsList("web-tls", {"A.Example.com", "*.example.com"}))}),
                          options());
  const auto& s = result.snapshot;
  EXPECT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  ASSERT_EQ(s.certificates.size(), 1u);
  EXPECT_EQ(s.certificates[0].name, "shop/web-tls");
  EXPECT_EQ(s.certificates[0].chain_pem, c.web.cert_pem);
  EXPECT_EQ(s.certificates[0].key_pem, c.web.key_pem);
  EXPECT_EQ(s.certificates[0].sha256, test_certs::sha256Hex(c.web.cert_pem + c.web.key_pem));
  // Lower-cased, sorted by name, the wildcard kept as written.
  ASSERT_EQ(s.tls_hosts.size(), 2u);
  EXPECT_EQ(s.tls_hosts[0], (config::TlsHost{"*.example.com", "shop/web-tls", std::nullopt}));
  EXPECT_EQ(s.tls_hosts[1], (config::TlsHost{"a.example.com", "shop/web-tls", std::nullopt}));
  EXPECT_EQ(s.invalid_tls_secrets, 0u);
  EXPECT_EQ(s.default_certificate, "");
  EXPECT_TRUE(config::validate(s).empty());
}

TEST(TlsTranslator, SecretIsLookedUpInTheIngressNamespaceOnly) {
  const auto& c = certs();
  auto result = translate(
      store({tlsSecret("other", "web-tls", c.web), ingress("shop", "web", kOld, {"a.example.com"},
                                                           tlsList("web-tls", {"a.example.com"}))}),
      options());
  EXPECT_TRUE(result.snapshot.certificates.empty());
  EXPECT_TRUE(result.snapshot.tls_hosts.empty());
  EXPECT_EQ(result.snapshot.invalid_tls_secrets, 1u);
}

TEST(TlsTranslator, OldestObjectWinsAHostClaim) {
  const auto& c = certs();
  // "zeta" sorts after "alpha" by name: only its age can make it win.
  for (const bool zeta_is_older : {true, false}) {
    SCOPED_TRACE(zeta_is_older ? "zeta older" : "alpha older");
    auto result = translate(
        store({tlsSecret("shop", "alpha-tls", c.web), tlsSecret("shop", "zeta-tls", c.other),
               ingress("shop", "alpha", zeta_is_older ? kNew : kOld, {"a.example.com"},
                       tlsList("alpha-tls", {"a.example.com"})),
               ingress("shop", "zeta", zeta_is_older ? kOld : kNew, {"a.example.com"},
                       tlsList("zeta-tls", {"a.example.com"}))}),
        options());
    const std::string winner = zeta_is_older ? "zeta" : "alpha";
    const std::string loser = zeta_is_older ? "alpha" : "zeta";
    const auto* host = tlsHost(result.snapshot, "a.example.com");
    ASSERT_TRUE(host);
    EXPECT_EQ(host->certificate, "shop/" + winner + "-tls");
    auto warnings = diagnosticsAt(result, "Ingress shop/" + loser, "spec.tls[0].hosts[0]");
    ASSERT_EQ(warnings.size(), 1u) << allDiagnostics(result);
    EXPECT_TRUE(warnings[0].warning);
    EXPECT_TRUE(contains(warnings[0].message, "already configured by Ingress shop/" + winner))
        << warnings[0].message;
    EXPECT_TRUE(diagnosticsAt(result, "Ingress shop/" + winner, "spec.tls[0].hosts[0]").empty());
  }
}

TEST(TlsTranslator, OldestClaimWinsAcrossIngressAndAPIRoute) {
  const auto& c = certs();
  auto result = translate(
      store({tlsSecret("shop", "ing-tls", c.web), tlsSecret("shop", "api-tls", c.other),
             ingress("shop", "web", kNew, {"a.example.com"}, tlsList("ing-tls", {"a.example.com"})),
             apiRoute("shop", "api", kOld, {"a.example.com"}, {{"secretName", "api-tls"}})}),
      options());
  const auto* host = tlsHost(result.snapshot, "a.example.com");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->certificate, "shop/api-tls");
  EXPECT_EQ(diagnosticsAt(result, "Ingress shop/web", "spec.tls[0].hosts[0]").size(), 1u)
      << allDiagnostics(result);
}

TEST(TlsTranslator, SameCertificateFromTwoObjectsIsNoConflict) {
  const auto& c = certs();
  const json tls = tlsList("web-tls", {"a.example.com"});
  auto result = translate(store({tlsSecret("shop", "web-tls", c.web),
                                 ingress("shop", "one", kOld, {"a.example.com"}, tls),
                                 ingress("shop", "two", kNew, {"a.example.com"}, tls)}),
                          options());
  EXPECT_EQ(result.snapshot.tls_hosts.size(), 1u);
  EXPECT_TRUE(diagnosticsAt(result, "Ingress shop/two", "spec.tls[0].hosts[0]").empty())
      << allDiagnostics(result);
}

TEST(TlsTranslator, TlsEntryWithoutHostsOrWithABadHostIsReported) {
  const auto& c = certs();
  auto result = translate(store({tlsSecret("shop", "web-tls", c.web),
                                 ingress("shop", "web", kOld, {"a.example.com"},
                                         {{{"secretName", "web-tls"}},
                                          {{"hosts", {"a.example.com", "bad_host!", "10.0.0.1"}},
                                           {"secretName", "web-tls"}}})}),
                          options());
  EXPECT_EQ(diagnosticsAt(result, "Ingress shop/web", "spec.tls[0].hosts").size(), 1u)
      << allDiagnostics(result);
  EXPECT_EQ(diagnosticsAt(result, "Ingress shop/web", "spec.tls[1].hosts[1]").size(), 1u)
      << allDiagnostics(result);
  EXPECT_EQ(diagnosticsAt(result, "Ingress shop/web", "spec.tls[1].hosts[2]").size(), 1u)
      << allDiagnostics(result);
  ASSERT_EQ(result.snapshot.tls_hosts.size(), 1u);
  EXPECT_EQ(result.snapshot.tls_hosts[0].hostname, "a.example.com");
}

// An object rejected as a whole (an invalid annotation, an APIRoute with Accepted=False) claims
// no TLS host, so an older rejected Ingress cannot take a host from the valid one that serves
// it. "A bad object is reported and skipped, never blocks the others" (DESIGN.md §3).
TEST(TlsTranslator, RejectedObjectsClaimNoTlsHost) {
  const auto& c = certs();
  auto result = translate(
      store(
          {tlsSecret("shop", "bad-tls", c.web), tlsSecret("shop", "good-tls", c.other),
           ingress("shop", "bad", kOld, {"a.example.com"}, tlsList("bad-tls", {"a.example.com"}),
                   {{"atrium.dev/ssl-redirect", "maybe"}}),
           ingress("shop", "good", kNew, {"a.example.com"}, tlsList("good-tls", {"a.example.com"})),
           apiRoute("shop", "rejected", kOld, {"r.example.com"},
                    {{"secretName", "bad-tls"}, {"hsts", {{"preload", true}}}})}),
      options());
  const auto* a = tlsHost(result.snapshot, "a.example.com");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->certificate, "shop/good-tls");
  EXPECT_FALSE(tlsHost(result.snapshot, "r.example.com"));
}

// ---- unusable Secrets ---------------------------------------------------------------------

struct BrokenSecretCase {
  const char* what;
  KubeObject secret;
  const char* message_part;
};

std::vector<BrokenSecretCase> brokenSecrets() {
  const auto& c = certs();
  return {
      {"missing", tlsSecret("shop", "unrelated", c.web), "Secret shop/web-tls not found"},
      {"garbage certificate", tlsSecret("shop", "web-tls", "garbage", c.web.key_pem),
       "Secret shop/web-tls: tls.crt: no PEM certificate found"},
      {"key of another certificate", tlsSecret("shop", "web-tls", c.web.cert_pem, c.other.key_pem),
       "tls.key does not match the certificate in tls.crt"},
      {"wrong type", tlsSecret("shop", "web-tls", c.web.cert_pem, c.web.key_pem, "Opaque"),
       "Secret shop/web-tls is of type Opaque, not kubernetes.io/tls"},
      {"no tls.key", secret("shop", "web-tls", {{"tls.crt", test_certs::base64(c.web.cert_pem)}}),
       "has no data key \"tls.key\""},
      {"not base64",
       secret("shop", "web-tls",
              {{"tls.crt", "%%% not base64 %%%"}, {"tls.key", test_certs::base64(c.web.key_pem)}}),
       "data key \"tls.crt\" is not valid base64"},
  };
}

TEST(TlsTranslator, UnusableSecretIsAWarningAtItsFieldAndCounted) {
  for (auto& broken : brokenSecrets()) {
    SCOPED_TRACE(broken.what);
    auto result = translate(store({broken.secret, ingress("shop", "web", kOld, {"a.example.com"},
                                                          tlsList("web-tls", {"a.example.com"}))}),
                            options());
    auto warnings = diagnosticsAt(result, "Ingress shop/web", "spec.tls[0].secretName");
    ASSERT_EQ(warnings.size(), 1u) << allDiagnostics(result);
    EXPECT_TRUE(warnings[0].warning);
    EXPECT_TRUE(contains(warnings[0].message, broken.message_part)) << warnings[0].message;
    EXPECT_FALSE(contains(warnings[0].message, "PRIVATE KEY")) << warnings[0].message;
    EXPECT_EQ(result.snapshot.invalid_tls_secrets, 1u);
    EXPECT_TRUE(result.snapshot.certificates.empty());
    // The host gets the default certificate: no TLS host entry of its own.
    EXPECT_TRUE(result.snapshot.tls_hosts.empty());
    // The routes are still served (and still redirected: the host is declared as TLS).
    auto routes = routesOf(result.snapshot, "a.example.com");
    ASSERT_EQ(routes.size(), 1u);
    EXPECT_TRUE(routes[0]->https_redirect);
  }
}

TEST(TlsTranslator, OneBrokenSecretUsedTwiceCountsOnce) {
  const json tls = tlsList("absent", {"a.example.com"});
  auto result = translate(store({ingress("shop", "one", kOld, {"a.example.com"}, tls),
                                 ingress("shop", "two", kNew, {"a.example.com"}, tls)}),
                          options());
  EXPECT_EQ(result.snapshot.invalid_tls_secrets, 1u);
  // Both objects are told.
  EXPECT_EQ(diagnosticsAt(result, "Ingress shop/one", "spec.tls[0].secretName").size(), 1u);
  EXPECT_EQ(diagnosticsAt(result, "Ingress shop/two", "spec.tls[0].secretName").size(), 1u);
}

// ---- last good certificate ----------------------------------------------------------------

ObjectStore webStore(KubeObject tls_secret, const std::string& secret_version) {
  return store({versioned(std::move(tls_secret), secret_version),
                versioned(ingress("shop", "web", kOld, {"a.example.com"},
                                  tlsList("web-tls", {"a.example.com"})),
                          "10")});
}

TEST(TlsTranslator, BrokenUpdateKeepsServingTheLastGoodCertificateWithACache) {
  const auto& c = certs();
  TranslationCache cache;
  auto good = translate(webStore(tlsSecret("shop", "web-tls", c.web), "1"), options(), &cache);
  ASSERT_EQ(good.snapshot.certificates.size(), 1u);
  const config::TlsCertificate served = good.snapshot.certificates[0];

  auto broken = translate(webStore(tlsSecret("shop", "web-tls", "garbage", "garbage"), "2"),
                          options(), &cache);
  ASSERT_EQ(broken.snapshot.certificates.size(), 1u);
  EXPECT_EQ(broken.snapshot.certificates[0], served);  // same PEM, same sha256
  EXPECT_EQ(broken.snapshot.tls_hosts, good.snapshot.tls_hosts);
  EXPECT_EQ(broken.snapshot.invalid_tls_secrets, 1u);
  auto warnings = diagnosticsAt(broken, "Ingress shop/web", "spec.tls[0].secretName");
  ASSERT_EQ(warnings.size(), 1u) << allDiagnostics(broken);
  EXPECT_TRUE(
      contains(warnings[0].message, "the last valid certificate of this Secret is still served"))
      << warnings[0].message;

  // Still broken on the next pass: still remembered.
  auto again = translate(webStore(tlsSecret("shop", "web-tls", "garbage", "garbage"), "3"),
                         options(), &cache);
  ASSERT_EQ(again.snapshot.certificates.size(), 1u);
  EXPECT_EQ(again.snapshot.certificates[0].sha256, served.sha256);

  // A good new certificate replaces it.
  auto rotated = translate(webStore(tlsSecret("shop", "web-tls", c.other), "4"), options(), &cache);
  ASSERT_EQ(rotated.snapshot.certificates.size(), 1u);
  EXPECT_EQ(rotated.snapshot.certificates[0].sha256,
            test_certs::sha256Hex(c.other.cert_pem + c.other.key_pem));
  EXPECT_NE(rotated.snapshot.certificates[0].sha256, served.sha256);
  EXPECT_EQ(rotated.snapshot.invalid_tls_secrets, 0u);
}

TEST(TlsTranslator, BrokenSecretWithoutACacheServesNoCertificate) {
  auto broken =
      translate(webStore(tlsSecret("shop", "web-tls", "garbage", "garbage"), "2"), options());
  EXPECT_TRUE(broken.snapshot.certificates.empty());
  EXPECT_TRUE(broken.snapshot.tls_hosts.empty());
  EXPECT_EQ(broken.snapshot.invalid_tls_secrets, 1u);
  auto warnings = diagnosticsAt(broken, "Ingress shop/web", "spec.tls[0].secretName");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_FALSE(contains(warnings[0].message, "still served")) << warnings[0].message;
}

TEST(TlsTranslator, DeletedSecretAlsoKeepsTheLastGoodCertificate) {
  const auto& c = certs();
  TranslationCache cache;
  auto good = translate(webStore(tlsSecret("shop", "web-tls", c.web), "1"), options(), &cache);
  ObjectStore without = webStore(tlsSecret("shop", "web-tls", c.web), "1");
  without.erase("Secret", "shop/web-tls");
  auto deleted = translate(without, options(), &cache);
  EXPECT_EQ(deleted.snapshot.certificates, good.snapshot.certificates);
  EXPECT_EQ(deleted.snapshot.invalid_tls_secrets, 1u);
}

TEST(TlsTranslator, EveryObjectOfABrokenSecretIsToldWhileTheLastGoodOneIsServed) {
  const auto& c = certs();
  auto objects = [&](KubeObject tls_secret, const std::string& version) {
    return store(
        {versioned(std::move(tls_secret), version),
         versioned(apiRoute("shop", "one", kOld, {"a.example.com"}, {{"secretName", "web-tls"}}),
                   "10"),
         versioned(apiRoute("shop", "two", kNew, {"b.example.com"}, {{"secretName", "web-tls"}}),
                   "11")});
  };
  TranslationCache cache;
  translate(objects(tlsSecret("shop", "web-tls", c.web), "1"), options(), &cache);
  auto broken = translate(objects(tlsSecret("shop", "web-tls", "garbage", "garbage"), "2"),
                          options(), &cache);
  for (const char* name : {"one", "two"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(
        diagnosticsAt(broken, std::string("APIRoute shop/") + name, "spec.tls.secretName").size(),
        1u)
        << allDiagnostics(broken);
    const auto refs = resolvedRefs(broken, name);
    EXPECT_FALSE(refs.status);
    EXPECT_EQ(refs.reason, "InvalidCertificateRef");
  }
  // Both hosts keep the remembered certificate.
  ASSERT_TRUE(tlsHost(broken.snapshot, "a.example.com"));
  ASSERT_TRUE(tlsHost(broken.snapshot, "b.example.com"));
  EXPECT_EQ(tlsHost(broken.snapshot, "b.example.com")->certificate, "shop/web-tls");
}

// ---- APIRoute spec.tls --------------------------------------------------------------------

TEST(TlsTranslator, APIRouteSecretHostsRedirectAndHsts) {
  const auto& c = certs();
  auto result = translate(
      store({tlsSecret("shop", "api-tls", c.web),
             apiRoute("shop", "api", kOld, {"API.example.com", "*.api.example.com"},
                      {{"secretName", "api-tls"},
                       {"redirectHTTP", true},
                       {"hsts",
                        {{"maxAge", 31536000}, {"includeSubDomains", true}, {"preload", true}}}})}),
      options());
  EXPECT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  ASSERT_EQ(result.snapshot.tls_hosts.size(), 2u);
  EXPECT_EQ(result.snapshot.tls_hosts[0],
            (config::TlsHost{"*.api.example.com", "shop/api-tls", std::nullopt}));
  EXPECT_EQ(result.snapshot.tls_hosts[1],
            (config::TlsHost{"api.example.com", "shop/api-tls", std::nullopt}));
  for (const char* host : {"api.example.com", "*.api.example.com"}) {
    auto routes = routesOf(result.snapshot, host);
    ASSERT_EQ(routes.size(), 1u) << host;
    EXPECT_TRUE(routes[0]->https_redirect);
    EXPECT_EQ(routes[0]->hsts, "max-age=31536000; includeSubDomains; preload");
    EXPECT_FALSE(routes[0]->client_cert_required);
  }
  EXPECT_TRUE(resolvedRefs(result, "api").status);
}

TEST(TlsTranslator, APIRouteHstsWithMaxAgeOnlyAndWithoutRedirect) {
  auto result = translate(
      store({apiRoute("shop", "api", kOld, {"api.example.com"}, {{"hsts", {{"maxAge", 600}}}})}),
      options());
  auto routes = routesOf(result.snapshot, "api.example.com");
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0]->hsts, "max-age=600");
  EXPECT_FALSE(routes[0]->https_redirect);
  // No certificate and no client validation: nothing to say about the host's TLS.
  EXPECT_TRUE(result.snapshot.tls_hosts.empty());
}

TEST(TlsTranslator, APIRouteHstsWithoutMaxAgeIsAnError) {
  auto result = translate(store({apiRoute("shop", "api", kOld, {"api.example.com"},
                                          {{"hsts", {{"includeSubDomains", true}}}})}),
                          options());
  auto errors = diagnosticsAt(result, "APIRoute shop/api", "spec.tls.hsts.maxAge");
  ASSERT_EQ(errors.size(), 1u) << allDiagnostics(result);
  EXPECT_FALSE(errors[0].warning);
  EXPECT_TRUE(routesOf(result.snapshot, "api.example.com").empty());
}

TEST(TlsTranslator, APIRouteBrokenSecretIsInvalidCertificateRef) {
  auto result = translate(
      store({apiRoute("shop", "api", kOld, {"api.example.com"}, {{"secretName", "absent"}})}),
      options());
  auto warnings = diagnosticsAt(result, "APIRoute shop/api", "spec.tls.secretName");
  ASSERT_EQ(warnings.size(), 1u) << allDiagnostics(result);
  EXPECT_TRUE(warnings[0].warning);
  const auto refs = resolvedRefs(result, "api");
  EXPECT_FALSE(refs.status);
  EXPECT_EQ(refs.reason, "InvalidCertificateRef");
  EXPECT_TRUE(contains(refs.message, "spec.tls.secretName: Secret shop/absent not found"))
      << refs.message;
  EXPECT_EQ(result.snapshot.invalid_tls_secrets, 1u);
  // The routes are still served over plain HTTP and with the default certificate.
  EXPECT_EQ(routesOf(result.snapshot, "api.example.com").size(), 1u);
}

TEST(TlsTranslator, APIRouteClientValidationWithACaFromASecretKey) {
  const auto& c = certs();
  for (const bool optional : {false, true}) {
    SCOPED_TRACE(optional ? "optional" : "required");
    auto result = translate(
        store({tlsSecret("shop", "api-tls", c.web), caSecret("shop", "client-ca", c.ca.cert_pem),
               apiRoute("shop", "api", kOld, {"api.example.com"},
                        {{"secretName", "api-tls"},
                         {"clientValidation",
                          {{"caSecretRef", {{"name", "client-ca"}, {"key", "ca.crt"}}},
                           {"optional", optional}}}})}),
        options());
    EXPECT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
    const auto* host = tlsHost(result.snapshot, "api.example.com");
    ASSERT_TRUE(host);
    EXPECT_EQ(host->certificate, "shop/api-tls");
    ASSERT_TRUE(host->client_validation);
    EXPECT_EQ(host->client_validation->ca_name, "shop/client-ca/ca.crt");
    EXPECT_EQ(host->client_validation->ca_pem, c.ca.cert_pem);
    EXPECT_EQ(host->client_validation->optional, optional);
    auto routes = routesOf(result.snapshot, "api.example.com");
    ASSERT_EQ(routes.size(), 1u);
    EXPECT_EQ(routes[0]->client_cert_required, !optional);
    EXPECT_TRUE(resolvedRefs(result, "api").status);
  }
}

TEST(TlsTranslator, APIRouteClientValidationWithoutACertificateUsesTheDefaultOne) {
  const auto& c = certs();
  auto result = translate(
      store({caSecret("shop", "client-ca", c.ca.cert_pem),
             apiRoute("shop", "api", kOld, {"api.example.com"},
                      {{"clientValidation",
                        {{"caSecretRef", {{"name", "client-ca"}, {"key", "ca.crt"}}}}}})}),
      options());
  const auto* host = tlsHost(result.snapshot, "api.example.com");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->certificate, "");
  ASSERT_TRUE(host->client_validation);
  EXPECT_EQ(host->client_validation->ca_pem, c.ca.cert_pem);
}

TEST(TlsTranslator, UnusableClientCaRefusesEveryClient) {
  const auto& c = certs();
  struct Case {
    const char* what;
    std::vector<KubeObject> objects;
    json ref;
  };
  std::vector<Case> cases = {
      {"missing Secret", {}, {{"name", "client-ca"}, {"key", "ca.crt"}}},
      {"missing key",
       {caSecret("shop", "client-ca", c.ca.cert_pem)},
       {{"name", "client-ca"}, {"key", "other.crt"}}},
      {"not a certificate",
       {caSecret("shop", "client-ca", "garbage")},
       {{"name", "client-ca"}, {"key", "ca.crt"}}},
      {"no key named", {caSecret("shop", "client-ca", c.ca.cert_pem)}, {{"name", "client-ca"}}},
  };
  for (auto& k : cases) {
    SCOPED_TRACE(k.what);
    k.objects.push_back(tlsSecret("shop", "api-tls", c.web));
    // Even asked as optional: an unusable CA must not let unverified clients in.
    k.objects.push_back(
        apiRoute("shop", "api", kOld, {"api.example.com"},
                 {{"secretName", "api-tls"},
                  {"clientValidation", {{"caSecretRef", k.ref}, {"optional", true}}}}));
    auto result = translate(store(k.objects), options());
    const auto* host = tlsHost(result.snapshot, "api.example.com");
    ASSERT_TRUE(host);
    EXPECT_EQ(host->certificate, "shop/api-tls");
    ASSERT_TRUE(host->client_validation);
    EXPECT_EQ(host->client_validation->ca_pem, "");
    EXPECT_FALSE(host->client_validation->optional);
    auto warnings =
        diagnosticsAt(result, "APIRoute shop/api", "spec.tls.clientValidation.caSecretRef");
    ASSERT_EQ(warnings.size(), 1u) << allDiagnostics(result);
    EXPECT_TRUE(contains(warnings[0].message, "refused")) << warnings[0].message;
    const auto refs = resolvedRefs(result, "api");
    EXPECT_FALSE(refs.status);
    EXPECT_EQ(refs.reason, "InvalidCertificateRef");
  }
}

// ---- Ingress ssl-redirect -----------------------------------------------------------------

TEST(TlsTranslator, IngressRedirectsOnlyItsTlsHosts) {
  const auto& c = certs();
  auto result =
      translate(store({tlsSecret("shop", "web-tls", c.web),
                       ingress("shop", "web", kOld, {"a.example.com", "b.example.com", ""},
                               tlsList("web-tls", {"A.example.com"}))}),
                options());
  auto a = routesOf(result.snapshot, "a.example.com");
  auto b = routesOf(result.snapshot, "b.example.com");
  auto any = routesOf(result.snapshot, "");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  ASSERT_EQ(any.size(), 1u);
  EXPECT_TRUE(a[0]->https_redirect);
  EXPECT_FALSE(b[0]->https_redirect);
  EXPECT_FALSE(any[0]->https_redirect);
  // Ingress has no HSTS of its own.
  EXPECT_EQ(a[0]->hsts, "");
}

TEST(TlsTranslator, IngressTlsHostsOfAnotherIngressAreNotRedirected) {
  const auto& c = certs();
  auto result =
      translate(store({tlsSecret("shop", "web-tls", c.web),
                       ingress("shop", "secure", kOld, {}, tlsList("web-tls", {"a.example.com"})),
                       ingress("shop", "plain", kNew, {"a.example.com"}, nullptr)}),
                options());
  auto a = routesOf(result.snapshot, "a.example.com");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_FALSE(a[0]->https_redirect);
  EXPECT_TRUE(tlsHost(result.snapshot, "a.example.com"));
}

TEST(TlsTranslator, SslRedirectAnnotationFalseTurnsTheRedirectOff) {
  const auto& c = certs();
  for (const char* annotation :
       {"atrium.dev/ssl-redirect", "nginx.ingress.kubernetes.io/ssl-redirect"}) {
    SCOPED_TRACE(annotation);
    auto result =
        translate(store({tlsSecret("shop", "web-tls", c.web),
                         ingress("shop", "web", kOld, {"a.example.com"},
                                 tlsList("web-tls", {"a.example.com"}), {{annotation, "false"}})}),
                  options());
    auto a = routesOf(result.snapshot, "a.example.com");
    ASSERT_EQ(a.size(), 1u);
    EXPECT_FALSE(a[0]->https_redirect);
    // The certificate is still served.
    EXPECT_TRUE(tlsHost(result.snapshot, "a.example.com"));
  }
}

// ---- --default-tls-secret -----------------------------------------------------------------

TEST(TlsTranslator, DefaultTlsSecretBecomesTheDefaultCertificate) {
  const auto& c = certs();
  TranslatorOptions o = options();
  o.default_tls_secret = "infra/default-tls";
  auto result = translate(store({tlsSecret("infra", "default-tls", c.other)}), o);
  EXPECT_TRUE(result.diagnostics.empty()) << allDiagnostics(result);
  EXPECT_EQ(result.snapshot.default_certificate, "infra/default-tls");
  const auto* cert = certificate(result.snapshot, "infra/default-tls");
  ASSERT_TRUE(cert);
  EXPECT_EQ(cert->chain_pem, c.other.cert_pem);
  EXPECT_TRUE(config::validate(result.snapshot).empty());
}

TEST(TlsTranslator, UnusableDefaultTlsSecretFallsBackToSelfSigned) {
  TranslatorOptions o = options();
  o.default_tls_secret = "infra/default-tls";
  auto result = translate(store({}), o);
  EXPECT_EQ(result.snapshot.default_certificate, "");
  EXPECT_TRUE(result.snapshot.certificates.empty());
  EXPECT_EQ(result.snapshot.invalid_tls_secrets, 1u);
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].field, "--default-tls-secret");
  EXPECT_TRUE(contains(result.diagnostics[0].message, "Secret infra/default-tls not found"));
  EXPECT_TRUE(contains(result.diagnostics[0].message, "the self-signed one is used"))
      << result.diagnostics[0].message;
}

// ---- /config ------------------------------------------------------------------------------

TEST(TlsTranslator, ConfigJsonNeverContainsThePrivateKey) {
  const auto& c = certs();
  TranslatorOptions o = options();
  o.default_tls_secret = "shop/web-tls";
  auto result = translate(
      store({tlsSecret("shop", "web-tls", c.web), tlsSecret("shop", "api-tls", c.other),
             caSecret("shop", "client-ca", c.ca.cert_pem),
             ingress("shop", "web", kOld, {"a.example.com"}, tlsList("web-tls", {"a.example.com"})),
             apiRoute("shop", "api", kOld, {"api.example.com"},
                      {{"secretName", "api-tls"},
                       {"clientValidation",
                        {{"caSecretRef", {{"name", "client-ca"}, {"key", "ca.crt"}}}}}})}),
      o);
  ASSERT_EQ(result.snapshot.certificates.size(), 2u);
  const std::string dump = config::toJson(result.snapshot).dump();
  EXPECT_FALSE(contains(dump, "PRIVATE KEY"));
  // Nor any line of a key's base64 body.
  for (const TestCert* cert : {&c.web, &c.other}) {
    const std::string& pem = cert->key_pem;
    const auto first_line_end = pem.find('\n');
    const std::string body_line =
        pem.substr(first_line_end + 1, pem.find('\n', first_line_end + 1) - first_line_end - 1);
    ASSERT_GT(body_line.size(), 20u);
    EXPECT_FALSE(contains(dump, body_line));
  }
  // What /config does say: names and digests.
  EXPECT_TRUE(contains(dump, result.snapshot.certificates[0].sha256));
  EXPECT_TRUE(contains(dump, "shop/api-tls"));
  EXPECT_TRUE(contains(dump, "shop/client-ca/ca.crt"));
}

}  // namespace
}  // namespace atrium::controller::translator
