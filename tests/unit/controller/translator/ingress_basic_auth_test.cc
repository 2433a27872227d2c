// ingress-nginx basic authentication (auth-type: basic) through the whole translator: the
// htpasswd users of the Ingress's Secret become consumers that only its routes accept; a
// Secret that cannot be used answers the routes 503, never serves them unauthenticated; no
// diagnostic ever shows a hash.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "controller/translator/translation_cache.h"
#include "tests/unit/controller/translator/translate_yaml.h"

namespace atrium::controller::translator {
namespace {

using namespace yaml_support;  // translateYaml, findRoute, reports, kService

const std::string kN = "nginx.ingress.kubernetes.io/";

// An htpasswd file (base64): alice ($2y$ bcrypt, and again further down), bob (bcrypt, with
// nginx's ":comment"), carol ({SHA}), dave ($apr1$), erin (plain / DES crypt), a line without
// ':' and a comment.
const char* kHtpasswd =
    "IyBkZW1vIHVzZXJzCmFsaWNlOiQyeSQwNSRCLk1Dc2FlUEJaOXByTjFtWEJ6ZEx1NnJYZmFHN2pBTnlxTUZnVTlpNl"
    "BVc2dCSGx1Z0xzQwpib2I6JDJiJDA1JGp4dXBFOXB0aE1BNjdWLzJqbExVV09pLzJkb2VUb3hyTEhibVRZSXpwdjFV"
    "cHJuU0o5MUQyOmNvbW1lbnQKY2Fyb2w6e1NIQX1XNnBoNU1tNVB6OEdnaVVMYlBnekczN21qOWc9CmRhdmU6JGFwcj"
    "EkT0ZHM1h5YnAkY2tMMEZIREFrb1hZSWxIOS5jeXNUMAplcmluOnBsYWlucGFzc3dvcmQKbm90LWEtbGluZQphbGlj"
    "ZTokMmIkMDUkbnpNTkdZanNNRVdtbE83WnJUeXRldWQzZi5qZHVwbk9Eb3cyQzFjYzA2R09QSUxuVTlicHkK";
const char* kAliceHash = "$2b$05$B.MCsaePBZ9prN1mXBzdLu6rXfaG7jANyqMFgU9i6PUsgBHlugLsC";
const char* kBobHash = "$2b$05$jxupE9pthMA67V/2jlLUWOi/2doeToxrLHbmTYIzpv1UprnSJ91D2";
const char* kBobHashBase64 =
    "JDJiJDA1JGp4dXBFOXB0aE1BNjdWLzJqbExVV09pLzJkb2VUb3hyTEhibVRZSXpwdjFVcHJuU0o5MUQy";

// An Ingress shop/web on web.example.com, path /admin, with these annotations.
std::string ingress(const std::map<std::string, std::string>& annotations) {
  return annotatedIngress(annotations, "/admin");
}

std::string secret(const std::string& name, const std::string& data,
                   const std::string& ns = "shop") {
  return "---\napiVersion: v1\nkind: Secret\nmetadata: {name: " + name + ", namespace: " + ns +
         "}\ntype: Opaque\ndata:\n" + data;
}

std::map<std::string, std::string> basic(const std::string& secret_ref = "basic-auth") {
  return {{kN + "auth-type", "basic"}, {kN + "auth-secret", secret_ref}};
}

void expectDenied(const TranslationResult& result) {
  const auto* r = findRoute(result, "shop/web");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->backends.empty());
  ASSERT_TRUE(r->direct_response);
  EXPECT_EQ(r->direct_response->status, 503);
  EXPECT_TRUE(result.snapshot.consumers.empty());
}

TEST(IngressBasicAuth, AuthFileUsersBecomeConsumersOfThisIngressOnly) {
  auto annotations = basic();
  annotations[kN + "auth-realm"] = "Staff only";
  auto result = translateYaml(ingress(annotations) +
                              secret("basic-auth", std::string("  auth: ") + kHtpasswd + "\n"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  const std::string field = "metadata.annotations[" + kN + "auth-secret]: ";
  EXPECT_EQ(
      reports(result, true),
      (std::vector<std::string>{
          field + "line 7 of the htpasswd file is not \"user:hash\" and is ignored",
          field + "user \"carol\": the password hash is {SHA} (SHA-1), which Atrium does not "
                  "check; this user cannot log in (write the line with `htpasswd -B` for bcrypt)",
          field + "user \"dave\": the password hash is $apr1$ (Apache MD5), which Atrium does not "
                  "check; this user cannot log in (write the line with `htpasswd -B` for bcrypt)",
          field + "user \"erin\": the password hash is crypt(3) DES or plain text, which Atrium "
                  "does not check; this user cannot log in (write the line with `htpasswd -B` "
                  "for bcrypt)",
          field + "user \"alice\" is listed more than once; the first one is used"}));
  for (const auto& d : result.diagnostics) {
    for (const char* secret_bit : {"$2", "W6ph", "OFG3", "plainpassword"}) {
      EXPECT_EQ(d.message.find(secret_bit), std::string::npos) << d.message;
    }
  }
  const auto* r = findRoute(result, "shop/web");
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->auth);
  config::AuthPolicy expected;
  expected.basic = true;
  expected.basic_realm = "Staff only";
  expected.consumer_namespace = "Ingress shop/web";
  EXPECT_EQ(*r->auth, expected);
  ASSERT_EQ(result.snapshot.consumers.size(), 2u);
  const auto& alice = result.snapshot.consumers[0];
  EXPECT_EQ(alice.ns, "Ingress shop/web");
  EXPECT_EQ(alice.name, "alice");
  EXPECT_EQ(alice.basic_username, "alice");
  EXPECT_EQ(alice.basic_password, kAliceHash);  // $2y$ is stored as the same $2b$
  EXPECT_EQ(result.snapshot.consumers[1].basic_username, "bob");
  EXPECT_EQ(result.snapshot.consumers[1].basic_password, kBobHash);  // without ":comment"
}

TEST(IngressBasicAuth, AuthMapAndDefaultRealm) {
  auto annotations = basic("shop/users");  // namespace/name of the Ingress's own namespace
  annotations[kN + "auth-secret-type"] = "auth-map";
  auto result =
      translateYaml(ingress(annotations) + secret("users", std::string("  bob: ") + kBobHashBase64 +
                                                               "\n  frank: JDYkc2FsdCRhYmM=\n"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  EXPECT_EQ(reports(result, true),
            std::vector<std::string>{
                "metadata.annotations[" + kN +
                "auth-secret]: user \"frank\": the password hash is crypt(3) $6$, which Atrium "
                "does not check; this user cannot log in (write the line with `htpasswd -B` for "
                "bcrypt)"});
  const auto* r = findRoute(result, "shop/web");
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(r->auth);
  EXPECT_EQ(r->auth->basic_realm, "");  // ingress-nginx's default
  ASSERT_EQ(result.snapshot.consumers.size(), 1u);
  EXPECT_EQ(result.snapshot.consumers[0].basic_username, "bob");
}

TEST(IngressBasicAuth, AnUnusableSecretAnswers503) {
  struct Case {
    std::map<std::string, std::string> annotations;
    std::string objects;
    std::string error;
  };
  const std::string secret_field = "metadata.annotations[" + kN + "auth-secret]: ";
  const std::string type_field = "metadata.annotations[" + kN + "auth-type]: ";
  std::vector<Case> cases = {
      {basic(), "",
       secret_field + "Secret shop/basic-auth not found; the Ingress's routes answer 503"},
      {basic(), secret("basic-auth", "  other: YQ==\n"),
       secret_field + "Secret shop/basic-auth has no base64 data key \"auth\" (an htpasswd "
                      "file); the Ingress's routes answer 503"},
      {basic("other/basic-auth"),
       secret("basic-auth", std::string("  auth: ") + kHtpasswd + "\n", "other"),
       secret_field + "the Secret must be in the Ingress's namespace \"shop\"; the Ingress's "
                      "routes answer 503"},
      {{{kN + "auth-type", "basic"}},
       "",
       type_field + "needs auth-secret; the Ingress's routes "
                    "answer 503"},
      {{{kN + "auth-type", "digest"}, {kN + "auth-secret", "basic-auth"}},
       "",
       type_field + "auth-type digest is not supported by Atrium (basic is); the Ingress's "
                    "routes answer 503"},
  };
  auto with_realm = basic();
  with_realm[kN + "auth-realm"] = "a\\\\\\\"b";  // a\"b in the YAML value
  cases.push_back({with_realm, secret("basic-auth", std::string("  auth: ") + kHtpasswd + "\n"),
                   "metadata.annotations[" + kN +
                       "auth-realm]: must not contain quotes, backslashes or control "
                       "characters; the Ingress's routes answer 503"});
  auto bad_type = basic();
  bad_type[kN + "auth-secret-type"] = "htpasswd";
  cases.push_back({bad_type, secret("basic-auth", std::string("  auth: ") + kHtpasswd + "\n"),
                   "metadata.annotations[" + kN +
                       "auth-secret-type]: must be auth-file or auth-map; the Ingress's routes "
                       "answer 503"});
  for (const auto& c : cases) {
    auto result = translateYaml(ingress(c.annotations) + c.objects);
    EXPECT_EQ(reports(result, false), std::vector<std::string>{c.error});
    expectDenied(result);
  }
}

TEST(IngressBasicAuth, KeysWithoutAuthTypeAreIgnoredAndOtherAuthKeysRefused) {
  auto ignored = translateYaml(ingress({{kN + "auth-secret", "basic-auth"}}));
  EXPECT_EQ(reports(ignored, true),
            std::vector<std::string>{"metadata.annotations[" + kN +
                                     "auth-secret]: ignored: auth-type is not set"});
  ASSERT_NE(findRoute(ignored, "shop/web"), nullptr);
  EXPECT_FALSE(findRoute(ignored, "shop/web")->auth);
  for (const char* key : {"auth-url", "auth-tls-verify-client", "auth-signin"}) {
    auto result = translateYaml(ingress({{kN + key, "on"}}));
    EXPECT_EQ(findRoute(result, "shop/web"), nullptr) << key;
    ASSERT_EQ(reports(result, false).size(), 1u) << key;
    EXPECT_NE(reports(result, false)[0].find("not supported by Atrium"), std::string::npos);
  }
}

TEST(IngressBasicAuth, UsersOfAnotherIngressOrAnAPIConsumerDoNotMix) {
  // Two Ingresses with one Secret each and the same user name: two consumer namespaces.
  std::string second = ingress(basic("basic-auth-2"));
  second.replace(second.find("name: web"), 9, "name: api");
  second.replace(second.find("/admin"), 6, "/api");
  auto result = translateYaml(ingress(basic()) + "---\n" + second.substr(0, second.find("\n---")) +
                              secret("basic-auth", std::string("  auth: ") + kHtpasswd + "\n") +
                              secret("basic-auth-2", std::string("  auth: ") + kHtpasswd + "\n"));
  std::vector<std::string> owners;
  for (const auto& c : result.snapshot.consumers) owners.push_back(c.ns + "/" + c.name);
  EXPECT_EQ(owners, (std::vector<std::string>{"Ingress shop/api/alice", "Ingress shop/api/bob",
                                              "Ingress shop/web/alice", "Ingress shop/web/bob"}));
}

TEST(IngressBasicAuth, UsersSurviveTheTranslationCache) {
  // As from the API server (uid, resourceVersion): an unchanged Ingress may be reused from the
  // cache, but one that read a Secret is translated again, so its consumers are never lost and
  // a changed Secret is always seen.
  const ObjectStore store = versioned(
      ingress(basic()) + secret("basic-auth", std::string("  auth: ") + kHtpasswd + "\n"));
  TranslationCache cache;
  const auto cold = translate(store, options(), &cache);
  const auto warm = translate(store, options(), &cache);
  EXPECT_EQ(warm, cold);
  EXPECT_EQ(warm.snapshot.consumers.size(), 2u);
  EXPECT_EQ(warm, translate(store, options()));
}

}  // namespace
}  // namespace atrium::controller::translator
