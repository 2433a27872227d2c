#include "proxy/filters/jwt.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "tests/unit/support/test_jwt.h"

namespace atrium::proxy::filters {
namespace {

using nlohmann::json;
using test_jwt::b64url;
using test_jwt::Signer;

// The clock of every test: a fixed instant, so boundaries are exact and nothing depends on when
// the tests run.
constexpr int64_t kNow = 1'700'000'000;

const std::vector<std::string> kAllAlgorithms = {"HS256", "HS384", "HS512", "RS256", "RS384",
                                                 "RS512", "PS256", "ES256", "ES384"};

// Keys generated once for the whole binary (RSA generation costs tens of milliseconds).
struct Keys {
  test_jwt::Key rsa = test_jwt::rsaKey();
  test_jwt::Key rsa_other = test_jwt::rsaKey();
  test_jwt::Key p256 = test_jwt::ecKey("P-256");
  test_jwt::Key p256_other = test_jwt::ecKey("P-256");
  test_jwt::Key p384 = test_jwt::ecKey("P-384");
  test_jwt::Key p384_other = test_jwt::ecKey("P-384");
  std::string secret = test_jwt::randomBytes(64);
  std::string secret_other = test_jwt::randomBytes(64);
};

const Keys& keys() {
  static const Keys* k = new Keys();
  return *k;
}

std::shared_ptr<const JwtKeySet> parseJwks(const std::string& text, size_t* skipped = nullptr) {
  std::string error;
  auto set = JwtKeySet::parse(text, &error, skipped);
  EXPECT_TRUE(set) << error;
  return set;
}

// The JWKS of a typical route: one key of each asymmetric type, each with its kid.
std::shared_ptr<const JwtKeySet> standardJwks() {
  const Keys& k = keys();
  return parseJwks(test_jwt::jwks({test_jwt::publicJwk(k.rsa.get(), "rsa-1"),
                                   test_jwt::publicJwk(k.p256.get(), "ec-256"),
                                   test_jwt::publicJwk(k.p384.get(), "ec-384")}));
}

// The signer of the keys above for `alg`, and the kid the JWKS gives it.
Signer signerFor(const std::string& alg, bool other = false) {
  const Keys& k = keys();
  if (alg.starts_with("HS")) return Signer::hmac(other ? k.secret_other : k.secret);
  if (alg == "ES256") return Signer::with(other ? k.p256_other : k.p256, 32);
  if (alg == "ES384") return Signer::with(other ? k.p384_other : k.p384, 48);
  return Signer::with(other ? k.rsa_other : k.rsa);
}

std::string kidFor(const std::string& alg) {
  if (alg.starts_with("HS")) return "";
  if (alg == "ES256") return "ec-256";
  if (alg == "ES384") return "ec-384";
  return "rsa-1";
}

json claims() { return {{"sub", "alice"}, {"iat", kNow - 10}, {"exp", kNow + 300}}; }

// Verifies with the standard JWKS and the HMAC secret, every algorithm allowed.
JwtVerification verify(const std::string& token, const config::JwtSettings& settings = {},
                       const std::vector<std::string>& algorithms = kAllAlgorithms,
                       int64_t now = kNow) {
  static const auto jwks = standardJwks();
  static const auto hmac = JwtKeySet::hmac(keys().secret);
  return verifyJwt(token, settings, algorithms, {jwks.get(), hmac.get()}, now);
}

JwtFailure failureOf(const std::string& token, const config::JwtSettings& settings = {},
                     const std::vector<std::string>& algorithms = kAllAlgorithms,
                     int64_t now = kNow) {
  return verify(token, settings, algorithms, now).failure;
}

std::string hs256(const json& payload, const std::string& kid = "") {
  return test_jwt::sign("HS256", Signer::hmac(keys().secret), payload, kid);
}

// ---------------------------------------------------------------------------------------------
// Every algorithm.

class JwtAlgorithm : public testing::TestWithParam<std::string> {};

TEST_P(JwtAlgorithm, ValidTokenVerifiesAndReturnsItsClaims) {
  const std::string alg = GetParam();
  const auto token = test_jwt::sign(alg, signerFor(alg), claims(), kidFor(alg));
  const auto result = verify(token);
  EXPECT_EQ(result.failure, JwtFailure::kNone) << toString(result.failure);
  EXPECT_EQ(result.claims, claims());
}

TEST_P(JwtAlgorithm, ValidWithoutKid) {
  const std::string alg = GetParam();
  EXPECT_EQ(failureOf(test_jwt::sign(alg, signerFor(alg), claims())), JwtFailure::kNone);
}

TEST_P(JwtAlgorithm, WrongKeyOfTheSameTypeIsABadSignature) {
  const std::string alg = GetParam();
  const auto token = test_jwt::sign(alg, signerFor(alg, /*other=*/true), claims(), kidFor(alg));
  EXPECT_EQ(failureOf(token), JwtFailure::kSignature);
}

TEST_P(JwtAlgorithm, TamperedPayloadIsABadSignature) {
  const std::string alg = GetParam();
  const auto token = test_jwt::sign(alg, signerFor(alg), claims(), kidFor(alg));
  const size_t dot1 = token.find('.');
  const size_t dot2 = token.find('.', dot1 + 1);
  json forged = claims();
  forged["sub"] = "admin";
  const std::string tampered =
      token.substr(0, dot1 + 1) + b64url(forged.dump()) + token.substr(dot2);
  EXPECT_EQ(failureOf(tampered), JwtFailure::kSignature);
}

INSTANTIATE_TEST_SUITE_P(Jwt, JwtAlgorithm, testing::ValuesIn(kAllAlgorithms),
                         [](const auto& info) { return info.param; });

TEST(JwtAlgorithms, SignatureOfAnotherAlgorithmWithTheSameKeyIsRefused) {
  struct Case {
    std::string header_alg, signed_as;
  };
  for (const Case& c : {Case{"RS256", "PS256"}, Case{"PS256", "RS256"}, Case{"RS256", "RS512"},
                        Case{"RS384", "RS256"}, Case{"HS256", "HS512"}, Case{"HS512", "HS384"}}) {
    const std::string input =
        b64url(json{{"alg", c.header_alg}, {"kid", kidFor(c.header_alg)}}.dump()) + "." +
        b64url(claims().dump());
    const std::string signature = signerFor(c.signed_as).sign(c.signed_as, input);
    EXPECT_EQ(failureOf(input + "." + b64url(signature)), JwtFailure::kSignature)
        << c.header_alg << " signed as " << c.signed_as;
  }
}

TEST(JwtAlgorithms, DerEcdsaSignatureIsRefused) {
  // JWS carries r || s; the DER ECDSA-Sig-Value OpenSSL produces is not a JWS signature.
  for (const auto& [alg, key, size] :
       {std::tuple{"ES256", keys().p256, 32}, std::tuple{"ES384", keys().p384, 48}}) {
    const std::string input =
        b64url(json{{"alg", alg}}.dump()) + "." + b64url(claims().dump());
    const std::string der = test_jwt::keySign(alg, key.get(), input, size, /*der=*/true);
    EXPECT_EQ(failureOf(input + "." + b64url(der)), JwtFailure::kSignature) << alg;
    // The right form of the same signature verifies (the test signs correctly).
    const std::string raw = test_jwt::keySign(alg, key.get(), input, size);
    EXPECT_EQ(failureOf(input + "." + b64url(raw)), JwtFailure::kNone) << alg;
    // r || s of the wrong length: one byte short, one byte long, empty.
    EXPECT_EQ(failureOf(input + "." + b64url(raw.substr(1))), JwtFailure::kSignature) << alg;
    EXPECT_EQ(failureOf(input + "." + b64url(raw + '\0')), JwtFailure::kSignature) << alg;
    EXPECT_EQ(failureOf(input + "."), JwtFailure::kSignature) << alg;
    // All zeros (r = s = 0 is never a valid signature).
    EXPECT_EQ(failureOf(input + "." + b64url(std::string(raw.size(), '\0'))),
              JwtFailure::kSignature)
        << alg;
  }
}

TEST(JwtAlgorithms, EveryHmacAlgorithmFromAJwksOctKey) {
  const auto set = parseJwks(test_jwt::jwks({test_jwt::octJwk(keys().secret, "hmac-1")}));
  for (const char* alg : {"HS256", "HS384", "HS512"}) {
    const auto token = test_jwt::sign(alg, Signer::hmac(keys().secret), claims(), "hmac-1");
    EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {set.get()}, kNow).failure, JwtFailure::kNone)
        << alg;
  }
}

// ---------------------------------------------------------------------------------------------
// Keys of another type never verify.

TEST(JwtKeyConfusion, RsaPublicKeyAsHmacSecretIsNotAKey) {
  // The classic attack: the server's public key (public knowledge) as an HS256 secret.
  const Keys& k = keys();
  const auto jwks = parseJwks(test_jwt::jwks({test_jwt::publicJwk(k.rsa.get(), "rsa-1")}));
  const auto jwk = test_jwt::publicJwk(k.rsa.get(), "rsa-1");
  const std::vector<std::string> secrets = {
      test_jwt::publicKeyPem(k.rsa.get()),
      *base64UrlDecode(jwk["n"].get<std::string>()),
      jwk.dump(),
  };
  for (const auto& secret : secrets) {
    for (const char* alg : {"HS256", "HS384", "HS512"}) {
      for (const std::string kid : {"rsa-1", ""}) {
        const auto token = test_jwt::sign(alg, Signer::hmac(secret), claims(), kid);
        // Only RSA keys, so nothing an HS* token could be checked with.
        EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {jwks.get()}, kNow).failure,
                  JwtFailure::kUnknownKey)
            << alg << " kid=" << kid;
        // With an HMAC secret configured too, the token is checked against that secret only.
        const auto hmac = JwtKeySet::hmac(k.secret);
        EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {jwks.get(), hmac.get()}, kNow).failure,
                  JwtFailure::kSignature)
            << alg << " kid=" << kid;
      }
    }
  }
}

TEST(JwtKeyConfusion, P384KeyNeverServesES256) {
  const Keys& k = keys();
  const auto only384 = parseJwks(test_jwt::jwks({test_jwt::publicJwk(k.p384.get(), "ec")}));
  // ES256 header, signed by the P-384 key (SHA-256, r and s of 48 bytes each).
  const auto token = test_jwt::sign("ES256", Signer::with(k.p384, 48), claims(), "ec");
  EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {only384.get()}, kNow).failure,
            JwtFailure::kUnknownKey);
  const auto no_kid = test_jwt::sign("ES256", Signer::with(k.p384, 48), claims());
  EXPECT_EQ(verifyJwt(no_kid, {}, kAllAlgorithms, {only384.get()}, kNow).failure,
            JwtFailure::kUnknownKey);
  // A P-256 key present: the 96-byte signature is not an ES256 signature.
  EXPECT_EQ(failureOf(no_kid), JwtFailure::kSignature);
}

TEST(JwtKeyConfusion, P256KeyNeverServesES384) {
  const Keys& k = keys();
  const auto only256 = parseJwks(test_jwt::jwks({test_jwt::publicJwk(k.p256.get(), "ec")}));
  const auto token = test_jwt::sign("ES384", Signer::with(k.p384, 48), claims(), "ec");
  EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {only256.get()}, kNow).failure,
            JwtFailure::kUnknownKey);
}

TEST(JwtKeyConfusion, RsaTokenAgainstEcKeysOnlyAndTheReverse) {
  const Keys& k = keys();
  const auto ec = parseJwks(test_jwt::jwks({test_jwt::publicJwk(k.p256.get(), "ec")}));
  const auto rsa = parseJwks(test_jwt::jwks({test_jwt::publicJwk(k.rsa.get(), "rsa")}));
  for (const char* alg : {"RS256", "PS256"}) {
    const auto token = test_jwt::sign(alg, Signer::with(k.rsa), claims());
    EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {ec.get()}, kNow).failure,
              JwtFailure::kUnknownKey);
  }
  const auto es = test_jwt::sign("ES256", Signer::with(k.p256, 32), claims());
  EXPECT_EQ(verifyJwt(es, {}, kAllAlgorithms, {rsa.get()}, kNow).failure,
            JwtFailure::kUnknownKey);
}

TEST(JwtKeyConfusion, HmacSecretIsNotAnRsaKey) {
  // RS256 header with an HMAC-SHA256 of the secret as the signature, only an HMAC key held.
  const auto hmac = JwtKeySet::hmac(keys().secret);
  const std::string header = json{{"alg", "RS256"}}.dump();
  const std::string input = b64url(header) + "." + b64url(claims().dump());
  const std::string token =
      input + "." + b64url(test_jwt::hmacSign("HS256", keys().secret, input));
  EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {hmac.get()}, kNow).failure,
            JwtFailure::kUnknownKey);
}

// ---------------------------------------------------------------------------------------------
// alg.

TEST(JwtAlg, NoneInEverySpellingIsRefused) {
  for (const char* none : {"none", "None", "NONE", "nOnE", "none ", " none", ""}) {
    const std::string header = json{{"alg", none}, {"typ", "JWT"}}.dump();
    const std::string unsigned_token = b64url(header) + "." + b64url(claims().dump()) + ".";
    EXPECT_EQ(failureOf(unsigned_token), JwtFailure::kAlgorithm) << "'" << none << "'";
    // Even listed among the algorithms (the translator refuses it; the verifier too).
    std::vector<std::string> with_none = kAllAlgorithms;
    with_none.push_back(none);
    EXPECT_EQ(failureOf(unsigned_token, {}, with_none), JwtFailure::kAlgorithm) << none;
    // With a signature anyway.
    const std::string with_sig = unsigned_token + b64url(keys().secret);
    EXPECT_EQ(failureOf(with_sig, {}, with_none), JwtFailure::kAlgorithm) << none;
  }
}

TEST(JwtAlg, MissingOrNonStringAlgIsMalformed) {
  const std::string payload = b64url(claims().dump());
  for (const json& header : {json{{"typ", "JWT"}}, json{{"alg", nullptr}}, json{{"alg", 256}},
                             json{{"alg", json::array({"HS256"})}}, json::object()}) {
    const std::string token = b64url(header.dump()) + "." + payload + ".c2ln";
    EXPECT_EQ(failureOf(token), JwtFailure::kMalformed) << header.dump();
  }
}

TEST(JwtAlg, AlgorithmNotInTheListIsRefusedBeforeAnyKey) {
  const auto hs = hs256(claims());
  EXPECT_EQ(failureOf(hs, {}, {"RS256", "ES256"}), JwtFailure::kAlgorithm);
  EXPECT_EQ(failureOf(hs, {}, {"HS384", "HS512"}), JwtFailure::kAlgorithm);
  EXPECT_EQ(failureOf(hs, {}, {}), JwtFailure::kAlgorithm);
  EXPECT_EQ(failureOf(hs, {}, {"HS256"}), JwtFailure::kNone);
  const auto rs = test_jwt::sign("RS256", signerFor("RS256"), claims(), "rsa-1");
  EXPECT_EQ(failureOf(rs, {}, {"HS256", "HS384", "HS512"}), JwtFailure::kAlgorithm);
  EXPECT_EQ(failureOf(rs, {}, {"PS256"}), JwtFailure::kAlgorithm);
  EXPECT_EQ(failureOf(rs, {}, {"RS256"}), JwtFailure::kNone);
}

TEST(JwtAlg, NamesAreExactAndUnsupportedOnesAreRefusedEvenWhenListed) {
  // Case matters (RFC 7515 §4.1.1 values are case-sensitive).
  const std::string input_tail = "." + b64url(claims().dump());
  for (const char* alg : {"hs256", "Hs256", "rs256", "es256", "HS256 ", "PS384", "PS512",
                          "ES512", "EdDSA", "RSA-OAEP", "HS1024"}) {
    const std::string header = json{{"alg", alg}}.dump();
    const std::string input = b64url(header) + input_tail;
    const std::string token =
        input + "." + b64url(test_jwt::hmacSign("HS256", keys().secret, input));
    std::vector<std::string> listed = kAllAlgorithms;
    listed.push_back(alg);
    EXPECT_EQ(failureOf(token, {}, listed), JwtFailure::kAlgorithm) << alg;
  }
}

TEST(JwtAlg, EffectiveAlgorithmsDefaults) {
  const std::vector<std::string> asymmetric = {"RS256", "RS384", "RS512",
                                               "PS256", "ES256", "ES384"};
  const std::vector<std::string> hmac = {"HS256", "HS384", "HS512"};
  config::JwtSettings s;
  EXPECT_TRUE(effectiveAlgorithms(s).empty());

  s.jwks_json = "{\"keys\":[]}";
  EXPECT_EQ(effectiveAlgorithms(s), asymmetric);

  s = {};
  s.jwks_uri = "https://issuer.example/jwks";
  EXPECT_EQ(effectiveAlgorithms(s), asymmetric);

  s = {};
  s.hmac_secret = "secret";
  EXPECT_EQ(effectiveAlgorithms(s), hmac);

  s.jwks_json = "{\"keys\":[]}";
  std::vector<std::string> both = asymmetric;
  both.insert(both.end(), hmac.begin(), hmac.end());
  EXPECT_EQ(effectiveAlgorithms(s), both);

  // An explicit list wins, as given.
  s.algorithms = {"ES384", "HS256"};
  EXPECT_EQ(effectiveAlgorithms(s), (std::vector<std::string>{"ES384", "HS256"}));

  // A JWKS alone never enables HS*: a JWKS (even one with oct keys) needs an explicit list
  // for HMAC, so a public JWKS can never become an HMAC secret by default.
  s = {};
  s.jwks_json = test_jwt::jwks({test_jwt::octJwk(keys().secret, "k")});
  for (const auto& alg : effectiveAlgorithms(s)) EXPECT_FALSE(alg.starts_with("HS")) << alg;
}

// ---------------------------------------------------------------------------------------------
// exp, nbf, clockSkew.

TEST(JwtTime, ExpAtTheSkewBoundary) {
  config::JwtSettings s;
  s.clock_skew_seconds = 30;
  // Valid while now - skew < exp (RFC 7519 §4.1.4 with leeway).
  EXPECT_EQ(failureOf(hs256({{"exp", kNow - 29}}), s), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256({{"exp", kNow - 30}}), s), JwtFailure::kExpired);
  EXPECT_EQ(failureOf(hs256({{"exp", kNow - 31}}), s), JwtFailure::kExpired);
  // The same token across the clock.
  const auto token = hs256({{"exp", kNow}});
  EXPECT_EQ(failureOf(token, s, kAllAlgorithms, kNow + 29), JwtFailure::kNone);
  EXPECT_EQ(failureOf(token, s, kAllAlgorithms, kNow + 30), JwtFailure::kExpired);
}

TEST(JwtTime, ExpWithoutSkew) {
  config::JwtSettings s;
  s.clock_skew_seconds = 0;
  EXPECT_EQ(failureOf(hs256({{"exp", kNow + 1}}), s), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256({{"exp", kNow}}), s), JwtFailure::kExpired);
  // NumericDate may be fractional.
  EXPECT_EQ(failureOf(hs256({{"exp", kNow + 0.5}}), s), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256({{"exp", kNow - 0.5}}), s), JwtFailure::kExpired);
}

TEST(JwtTime, DefaultSkewIs30Seconds) {
  EXPECT_EQ(config::JwtSettings{}.clock_skew_seconds, 30u);
  EXPECT_EQ(failureOf(hs256({{"exp", kNow - 29}})), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256({{"exp", kNow - 30}})), JwtFailure::kExpired);
}

TEST(JwtTime, NbfAtTheSkewBoundary) {
  config::JwtSettings s;
  s.clock_skew_seconds = 30;
  // Valid once now + skew >= nbf (RFC 7519 §4.1.5 with leeway).
  EXPECT_EQ(failureOf(hs256({{"nbf", kNow + 30}}), s), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256({{"nbf", kNow + 31}}), s), JwtFailure::kNotYetValid);
  s.clock_skew_seconds = 0;
  EXPECT_EQ(failureOf(hs256({{"nbf", kNow}}), s), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256({{"nbf", kNow + 1}}), s), JwtFailure::kNotYetValid);
  EXPECT_EQ(failureOf(hs256({{"nbf", kNow + 0.5}}), s), JwtFailure::kNotYetValid);
  EXPECT_EQ(failureOf(hs256({{"nbf", kNow - 1000}}), s), JwtFailure::kNone);
}

TEST(JwtTime, LargeSkew) {
  config::JwtSettings s;
  s.clock_skew_seconds = 24 * 3600;
  EXPECT_EQ(failureOf(hs256({{"exp", kNow - 24 * 3600 + 1}}), s), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256({{"exp", kNow - 24 * 3600}}), s), JwtFailure::kExpired);
  EXPECT_EQ(failureOf(hs256({{"nbf", kNow + 24 * 3600}}), s), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256({{"nbf", kNow + 24 * 3600 + 1}}), s), JwtFailure::kNotYetValid);
}

TEST(JwtTime, NoExpNoNbfIsValid) {
  EXPECT_EQ(failureOf(hs256({{"sub", "alice"}})), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256(json::object())), JwtFailure::kNone);
}

TEST(JwtTime, NonNumericTimesFail) {
  for (const json& v : {json("9999999999"), json(true), json(nullptr), json::array({kNow + 60}),
                        json::object()}) {
    EXPECT_EQ(failureOf(hs256({{"exp", v}})), JwtFailure::kExpired) << v.dump();
    EXPECT_EQ(failureOf(hs256({{"nbf", v}})), JwtFailure::kNotYetValid) << v.dump();
  }
}

TEST(JwtTime, SignatureIsCheckedBeforeTheClaims) {
  // A forged token learns nothing about the claims checks.
  const auto forged = test_jwt::sign("HS256", Signer::hmac(keys().secret_other),
                                     {{"exp", kNow - 3600}, {"iss", "x"}});
  config::JwtSettings s;
  s.issuer = "https://issuer.example";
  EXPECT_EQ(failureOf(forged, s), JwtFailure::kSignature);
}

// ---------------------------------------------------------------------------------------------
// iss, aud.

TEST(JwtClaims, Issuer) {
  config::JwtSettings s;
  s.issuer = "https://issuer.example";
  EXPECT_EQ(failureOf(hs256({{"iss", "https://issuer.example"}}), s), JwtFailure::kNone);
  for (const json& iss : {json("https://issuer.example/"), json("https://ISSUER.example"),
                          json("https://issuer.exampl"), json(""),
                          json::array({"https://issuer.example"}), json(1)}) {
    EXPECT_EQ(failureOf(hs256({{"iss", iss}}), s), JwtFailure::kIssuer) << iss.dump();
  }
  EXPECT_EQ(failureOf(hs256({{"sub", "alice"}}), s), JwtFailure::kIssuer);
  // No issuer configured: any, or none.
  EXPECT_EQ(failureOf(hs256({{"iss", "anyone"}})), JwtFailure::kNone);
}

TEST(JwtClaims, AudienceAsString) {
  config::JwtSettings s;
  s.audiences = {"api", "web"};
  EXPECT_EQ(failureOf(hs256({{"aud", "api"}}), s), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256({{"aud", "web"}}), s), JwtFailure::kNone);
  for (const char* aud : {"API", "ap", "api ", "other", ""}) {
    EXPECT_EQ(failureOf(hs256({{"aud", aud}}), s), JwtFailure::kAudience) << aud;
  }
  EXPECT_EQ(failureOf(hs256({{"sub", "alice"}}), s), JwtFailure::kAudience);
  EXPECT_EQ(failureOf(hs256({{"aud", 1}}), s), JwtFailure::kAudience);
  EXPECT_EQ(failureOf(hs256({{"aud", nullptr}}), s), JwtFailure::kAudience);
}

TEST(JwtClaims, AudienceAsArray) {
  config::JwtSettings s;
  s.audiences = {"api", "web"};
  EXPECT_EQ(failureOf(hs256({{"aud", {"other", "web"}}}), s), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256({{"aud", {"api"}}}), s), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256({{"aud", {1, "api"}}}), s), JwtFailure::kNone);
  EXPECT_EQ(failureOf(hs256({{"aud", json::array()}}), s), JwtFailure::kAudience);
  EXPECT_EQ(failureOf(hs256({{"aud", {"other", "API"}}}), s), JwtFailure::kAudience);
  EXPECT_EQ(failureOf(hs256({{"aud", {json::array({"api"})}}}), s), JwtFailure::kAudience);
  EXPECT_EQ(failureOf(hs256({{"aud", {{"api", true}}}}), s), JwtFailure::kAudience);
  // No audience configured: any.
  EXPECT_EQ(failureOf(hs256({{"aud", {"x", "y"}}})), JwtFailure::kNone);
}

TEST(JwtClaims, IssuerIsCheckedBeforeAudienceAndTimeBeforeBoth) {
  config::JwtSettings s;
  s.issuer = "iss";
  s.audiences = {"aud"};
  EXPECT_EQ(failureOf(hs256({{"iss", "x"}, {"aud", "x"}}), s), JwtFailure::kIssuer);
  EXPECT_EQ(failureOf(hs256({{"iss", "iss"}, {"aud", "x"}}), s), JwtFailure::kAudience);
  EXPECT_EQ(failureOf(hs256({{"iss", "x"}, {"aud", "x"}, {"exp", kNow - 60}}), s),
            JwtFailure::kExpired);
  EXPECT_EQ(failureOf(hs256({{"iss", "iss"}, {"aud", {"aud"}}, {"exp", kNow + 60}}), s),
            JwtFailure::kNone);
}

// ---------------------------------------------------------------------------------------------
// kid.

TEST(JwtKid, SelectsTheKeyNamedByKid) {
  const Keys& k = keys();
  const auto set = parseJwks(test_jwt::jwks({test_jwt::publicJwk(k.rsa.get(), "rsa-1"),
                                             test_jwt::publicJwk(k.rsa_other.get(), "rsa-2")}));
  auto check = [&](const test_jwt::Key& key, const std::string& kid) {
    return verifyJwt(test_jwt::sign("RS256", Signer::with(key), claims(), kid), {},
                     kAllAlgorithms, {set.get()}, kNow)
        .failure;
  };
  EXPECT_EQ(check(k.rsa, "rsa-1"), JwtFailure::kNone);
  EXPECT_EQ(check(k.rsa_other, "rsa-2"), JwtFailure::kNone);
  // A kid names one key: the other one is not tried.
  EXPECT_EQ(check(k.rsa_other, "rsa-1"), JwtFailure::kSignature);
  EXPECT_EQ(check(k.rsa, "rsa-2"), JwtFailure::kSignature);
  // No kid: every RSA key is tried.
  EXPECT_EQ(check(k.rsa, ""), JwtFailure::kNone);
  EXPECT_EQ(check(k.rsa_other, ""), JwtFailure::kNone);
  // Unknown kid: no key tried at all (a JWKS refresh may find it).
  EXPECT_EQ(check(k.rsa, "rsa-3"), JwtFailure::kUnknownKey);
  EXPECT_EQ(check(k.rsa, "RSA-1"), JwtFailure::kUnknownKey);
  EXPECT_TRUE(set->hasKid("rsa-1"));
  EXPECT_TRUE(set->hasKid("rsa-2"));
  EXPECT_FALSE(set->hasKid("rsa-3"));
  EXPECT_FALSE(set->hasKid(""));
}

TEST(JwtKid, NoKidTriesOnlyKeysOfTheRightType) {
  const Keys& k = keys();
  // Keys of every type; the P-256 signer's key comes last.
  const auto set = parseJwks(test_jwt::jwks({test_jwt::publicJwk(k.rsa.get(), "a"),
                                             test_jwt::octJwk(k.secret, "b"),
                                             test_jwt::publicJwk(k.p384.get(), "c"),
                                             test_jwt::publicJwk(k.p256_other.get(), "d"),
                                             test_jwt::publicJwk(k.p256.get(), "e")}));
  const auto token = test_jwt::sign("ES256", Signer::with(k.p256, 32), claims());
  EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {set.get()}, kNow).failure, JwtFailure::kNone);
  // A kid of a key of another type: no key of this algorithm's type has it.
  const auto wrong_type = test_jwt::sign("ES256", Signer::with(k.p256, 32), claims(), "a");
  EXPECT_EQ(verifyJwt(wrong_type, {}, kAllAlgorithms, {set.get()}, kNow).failure,
            JwtFailure::kUnknownKey);
  // Unknown key, no kid: tried against both P-256 keys, a bad signature.
  const auto stranger =
      test_jwt::sign("ES256", Signer::with(test_jwt::ecKey("P-256"), 32), claims());
  EXPECT_EQ(verifyJwt(stranger, {}, kAllAlgorithms, {set.get()}, kNow).failure,
            JwtFailure::kSignature);
}

TEST(JwtKid, NonStringKidCountsAsNoKid) {
  const Keys& k = keys();
  json header = {{"kid", 7}};
  const auto token = test_jwt::sign("RS256", Signer::with(k.rsa), claims(), "", header);
  EXPECT_EQ(failureOf(token), JwtFailure::kNone);
}

TEST(JwtKid, KeysWithoutKidAreTriedForAnyKid) {
  // A raw HMAC secret has no kid: it verifies tokens whatever kid they carry.
  EXPECT_EQ(failureOf(hs256(claims(), "some-kid")), JwtFailure::kNone);
  const Keys& k = keys();
  const auto set = parseJwks(test_jwt::jwks({test_jwt::publicJwk(k.rsa.get(), "")}));
  const auto token = test_jwt::sign("RS256", Signer::with(k.rsa), claims(), "whatever");
  EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {set.get()}, kNow).failure, JwtFailure::kNone);
}

TEST(JwtKid, KeySetsAreSearchedInOrderAndNullsSkipped) {
  const Keys& k = keys();
  const auto first = parseJwks(test_jwt::jwks({test_jwt::publicJwk(k.rsa_other.get(), "r2")}));
  const auto second = parseJwks(test_jwt::jwks({test_jwt::publicJwk(k.rsa.get(), "r1")}));
  const auto token = test_jwt::sign("RS256", Signer::with(k.rsa), claims(), "r1");
  EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {nullptr, first.get(), nullptr, second.get()},
                      kNow)
                .failure,
            JwtFailure::kNone);
  EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {nullptr, first.get()}, kNow).failure,
            JwtFailure::kUnknownKey);
  EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {}, kNow).failure, JwtFailure::kUnknownKey);
}

// ---------------------------------------------------------------------------------------------
// Malformed tokens.

TEST(JwtMalformed, SegmentCount) {
  const auto good = hs256(claims());
  ASSERT_EQ(failureOf(good), JwtFailure::kNone);
  const size_t dot2 = good.rfind('.');
  EXPECT_EQ(failureOf(""), JwtFailure::kMalformed);
  EXPECT_EQ(failureOf("."), JwtFailure::kMalformed);
  EXPECT_EQ(failureOf(".."), JwtFailure::kMalformed);
  EXPECT_EQ(failureOf("..."), JwtFailure::kMalformed);
  EXPECT_EQ(failureOf(good.substr(0, dot2)), JwtFailure::kMalformed);        // 2 segments
  EXPECT_EQ(failureOf(good.substr(0, good.find('.'))), JwtFailure::kMalformed);  // 1
  EXPECT_EQ(failureOf(good + "."), JwtFailure::kMalformed);                  // 4, last empty
  EXPECT_EQ(failureOf(good + ".c2ln"), JwtFailure::kMalformed);              // 4
  EXPECT_EQ(failureOf(good.substr(0, dot2) + "." + good.substr(0, dot2)), JwtFailure::kMalformed);
  // JWE compact form (5 segments).
  EXPECT_EQ(failureOf(good + ".a.b"), JwtFailure::kMalformed);
}

TEST(JwtMalformed, BadBase64Url) {
  const auto good = hs256(claims());
  const size_t dot1 = good.find('.');
  const size_t dot2 = good.rfind('.');
  const std::string header = good.substr(0, dot1);
  const std::string payload = good.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string sig = good.substr(dot2 + 1);
  auto join = [](const std::string& h, const std::string& p, const std::string& s) {
    return h + "." + p + "." + s;
  };
  // Padding, the standard alphabet, whitespace, other bytes: each segment.
  for (const std::string bad : {"=", "==", "+", "/", " ", "\n", "*", "%", "\x80"}) {
    EXPECT_EQ(failureOf(join(header + bad, payload, sig)), JwtFailure::kMalformed) << bad;
    EXPECT_EQ(failureOf(join(header, payload + bad, sig)), JwtFailure::kMalformed) << bad;
    EXPECT_EQ(failureOf(join(header, payload, sig + bad)), JwtFailure::kMalformed) << bad;
  }
  // '+' and '/' in place of '-' and '_' (the same bytes in the standard alphabet).
  std::string standard_sig = sig;
  for (char& c : standard_sig) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  if (standard_sig != sig) {
    EXPECT_EQ(failureOf(join(header, payload, standard_sig)), JwtFailure::kMalformed);
  }
  // A padded segment with the padding of its length.
  const std::string padded_header = test_certs::base64("{\"alg\":\"HS256\",\"x\":12}");
  ASSERT_NE(padded_header.find('='), std::string::npos);
  EXPECT_EQ(failureOf(join(padded_header, payload, sig)), JwtFailure::kMalformed);
  // A length no base64 has (4n + 1), in each segment.
  auto to_4n_plus_1 = [](std::string segment) {
    while (segment.size() % 4 != 1) segment.push_back('A');
    return segment;
  };
  EXPECT_EQ(failureOf(join(to_4n_plus_1(header), payload, sig)), JwtFailure::kMalformed);
  EXPECT_EQ(failureOf(join(header, to_4n_plus_1(payload), sig)), JwtFailure::kMalformed);
  EXPECT_EQ(failureOf(join(header, payload, to_4n_plus_1(sig))), JwtFailure::kMalformed);
}

TEST(JwtMalformed, StandardAlphabetAlwaysRefused) {
  // Sign over segments whose text needs '-' or '_'; the same token in '+' '/' is refused.
  for (int i = 0; i < 64; ++i) {
    const auto token = hs256({{"sub", "alice"}, {"n", i}, {"pad", std::string(i, '?')}});
    if (token.find_first_of("-_") == std::string::npos) continue;
    std::string standard = token;
    for (char& c : standard) {
      if (c == '-') c = '+';
      if (c == '_') c = '/';
    }
    EXPECT_EQ(failureOf(token), JwtFailure::kNone);
    EXPECT_EQ(failureOf(standard), JwtFailure::kMalformed) << standard;
    return;
  }
  FAIL() << "no token with '-' or '_' was made";
}

TEST(JwtMalformed, NonJsonOrNonObjectHeaderAndPayload) {
  const std::string payload = claims().dump();
  const std::string header = json{{"alg", "HS256"}}.dump();
  auto signed_token = [](const std::string& h, const std::string& p) {
    const std::string input = b64url(h) + "." + b64url(p);
    return input + "." + b64url(test_jwt::hmacSign("HS256", keys().secret, input));
  };
  ASSERT_EQ(failureOf(signed_token(header, payload)), JwtFailure::kNone);
  for (const std::string bad :
       {"", "not json", "{", "{\"alg\":\"HS256\"", "{\"alg\":\"HS256\"} x", "[\"HS256\"]",
        "\"HS256\"", "256", "null", "true", "{\"alg\":\"HS256\",}", "\xff\xfe"}) {
    EXPECT_EQ(failureOf(signed_token(bad, payload)), JwtFailure::kMalformed) << "header " << bad;
    EXPECT_EQ(failureOf(signed_token(header, bad)), JwtFailure::kMalformed) << "payload " << bad;
  }
  // Invalid UTF-8 inside a string.
  EXPECT_EQ(failureOf(signed_token(header, "{\"sub\":\"\xc3\x28\"}")), JwtFailure::kMalformed);
}

TEST(JwtMalformed, SizeLimitIs16KiB) {
  // Valid tokens of exactly 16384 and 16385 bytes: the limit is on the token's size alone.
  auto token_of_size = [](size_t wanted) -> std::string {
    for (int extra = 0; extra < 4; ++extra) {
      const json header = {{"x", std::string(static_cast<size_t>(extra), 'h')}};
      const auto probe = test_jwt::sign("HS256", Signer::hmac(keys().secret),
                                        {{"fill", ""}}, "", header);
      if (probe.size() > wanted) return "";
      const size_t fill = (wanted - probe.size()) * 3 / 4;
      for (size_t f = fill > 8 ? fill - 8 : 0; f < fill + 8; ++f) {
        const auto token = test_jwt::sign("HS256", Signer::hmac(keys().secret),
                                          {{"fill", std::string(f, 'p')}}, "", header);
        if (token.size() == wanted) return token;
      }
    }
    return "";
  };
  const auto at_limit = token_of_size(16 * 1024);
  ASSERT_EQ(at_limit.size(), 16u * 1024);
  EXPECT_EQ(failureOf(at_limit), JwtFailure::kNone);
  const auto over = token_of_size(16 * 1024 + 1);
  ASSERT_EQ(over.size(), 16u * 1024 + 1);
  EXPECT_EQ(failureOf(over), JwtFailure::kMalformed);
  const auto huge = hs256({{"fill", std::string(1 << 20, 'p')}});
  EXPECT_EQ(failureOf(huge), JwtFailure::kMalformed);
}

TEST(JwtMalformed, DeeplyNestedJsonIsHarmless) {
  // Parsed before the signature is checked, so anyone can send it; under 16 KiB.
  const std::string deep = "{\"a\":" + std::string(5500, '[') + std::string(5500, ']') + "}";
  const std::string header = json{{"alg", "HS256"}}.dump();
  const std::string token = b64url(header) + "." + b64url(deep) + ".c2ln";
  ASSERT_LE(token.size(), 16u * 1024);
  EXPECT_EQ(failureOf(token), JwtFailure::kSignature);
  const std::string deep_header = b64url("{\"alg\":\"HS256\",\"x\":" + std::string(5500, '[') +
                                         std::string(5500, ']') + "}");
  EXPECT_EQ(failureOf(deep_header + "." + b64url(claims().dump()) + ".c2ln"),
            JwtFailure::kSignature);
}

TEST(JwtMalformed, ToStringNamesEveryFailure) {
  EXPECT_STREQ(toString(JwtFailure::kNone), "ok");
  EXPECT_STREQ(toString(JwtFailure::kMalformed), "malformed");
  EXPECT_STREQ(toString(JwtFailure::kAlgorithm), "algorithm not allowed");
  EXPECT_STREQ(toString(JwtFailure::kUnknownKey), "unknown key");
  EXPECT_STREQ(toString(JwtFailure::kSignature), "bad signature");
  EXPECT_STREQ(toString(JwtFailure::kExpired), "expired");
  EXPECT_STREQ(toString(JwtFailure::kNotYetValid), "not yet valid");
  EXPECT_STREQ(toString(JwtFailure::kIssuer), "wrong issuer");
  EXPECT_STREQ(toString(JwtFailure::kAudience), "wrong audience");
}

TEST(JwtMalformed, FailedVerificationCarriesNoClaims) {
  const auto forged = test_jwt::sign("HS256", Signer::hmac(keys().secret_other), claims());
  EXPECT_TRUE(verify(forged).claims.is_null());
  config::JwtSettings s;
  s.issuer = "someone else";
  EXPECT_TRUE(verify(hs256(claims()), s).claims.is_null());
}

// ---------------------------------------------------------------------------------------------
// base64UrlDecode.

TEST(JwtBase64Url, Rfc4648Vectors) {
  // RFC 4648 §10, without the padding.
  EXPECT_EQ(base64UrlDecode(""), "");
  EXPECT_EQ(base64UrlDecode("Zg"), "f");
  EXPECT_EQ(base64UrlDecode("Zm8"), "fo");
  EXPECT_EQ(base64UrlDecode("Zm9v"), "foo");
  EXPECT_EQ(base64UrlDecode("Zm9vYg"), "foob");
  EXPECT_EQ(base64UrlDecode("Zm9vYmE"), "fooba");
  EXPECT_EQ(base64UrlDecode("Zm9vYmFy"), "foobar");
}

TEST(JwtBase64Url, UrlAlphabet) {
  EXPECT_EQ(base64UrlDecode("-_-_"), std::string("\xfb\xff\xbf"));
  EXPECT_EQ(base64UrlDecode("____"), std::string("\xff\xff\xff"));
  EXPECT_EQ(base64UrlDecode("AAAA"), std::string(3, '\0'));
  // RFC 7515 appendix C: the octets 3, 236, 255, 224, 193.
  EXPECT_EQ(base64UrlDecode("A-z_4ME"), std::string("\x03\xec\xff\xe0\xc1", 5));
  // Round trip of every byte.
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(base64UrlDecode(b64url(all)), all);
}

TEST(JwtBase64Url, Refused) {
  for (const std::string& bad : std::initializer_list<std::string>{"Zg==", "Zg=", "Zm8=", "=", "+/8", "Zm+v", "Zm/v", "Z",
                                "Zm9vY", "Zm9v\n", " Zg", "Zg ", "Zm\t9v", "Zm\r9v", "Zm9v*",
                                "Zm.v", "Zm9v%3D", std::string("Zm\0v", 4), "\xc3\xa9\x41\x41"}) {
    EXPECT_EQ(base64UrlDecode(bad), std::nullopt) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// JWKS parsing.

TEST(JwksParse, RsaEcAndOctKeys) {
  const Keys& k = keys();
  size_t skipped = 99;
  const auto set = parseJwks(test_jwt::jwks({test_jwt::publicJwk(k.rsa.get(), "r"),
                                             test_jwt::publicJwk(k.p256.get(), "e256"),
                                             test_jwt::publicJwk(k.p384.get(), "e384"),
                                             test_jwt::octJwk(k.secret, "h")}),
                             &skipped);
  ASSERT_TRUE(set);
  EXPECT_EQ(skipped, 0u);
  ASSERT_EQ(set->keys().size(), 4u);
  EXPECT_EQ(set->keys()[0].kid, "r");
  EXPECT_EQ(set->keys()[0].type, KeyType::kRsa);
  EXPECT_TRUE(set->keys()[0].public_key);
  EXPECT_EQ(set->keys()[1].kid, "e256");
  EXPECT_EQ(set->keys()[1].type, KeyType::kEcP256);
  EXPECT_TRUE(set->keys()[1].public_key);
  EXPECT_EQ(set->keys()[2].kid, "e384");
  EXPECT_EQ(set->keys()[2].type, KeyType::kEcP384);
  EXPECT_EQ(set->keys()[3].kid, "h");
  EXPECT_EQ(set->keys()[3].type, KeyType::kHmac);
  EXPECT_EQ(set->keys()[3].secret, k.secret);
  EXPECT_FALSE(set->keys()[3].public_key);
}

TEST(JwksParse, ExtraMembersAreIgnored) {
  // As real issuers publish them: alg, use, key_ops, x5c, x5t.
  const Keys& k = keys();
  json jwk = test_jwt::publicJwk(k.rsa.get(), "r");
  jwk["alg"] = "RS256";
  jwk["use"] = "sig";
  jwk["key_ops"] = {"verify"};
  jwk["x5c"] = {"MIIB"};
  jwk["x5t"] = "abc";
  size_t skipped = 99;
  const auto set = parseJwks(json{{"keys", {jwk}}, {"other", 1}}.dump(), &skipped);
  ASSERT_TRUE(set);
  EXPECT_EQ(skipped, 0u);
  EXPECT_EQ(set->keys().size(), 1u);
}

TEST(JwksParse, UnusableEntriesAreSkippedAndCounted) {
  const Keys& k = keys();
  const auto ed = test_jwt::ed25519Key();
  size_t raw_len = 32;
  std::string raw(raw_len, '\0');
  EVP_PKEY_get_raw_public_key(ed.get(), reinterpret_cast<unsigned char*>(raw.data()), &raw_len);
  const json ed25519 = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", b64url(raw)}, {"kid", "ed"}};
  const json p521 = test_jwt::publicJwk(test_jwt::ecKey("P-521").get(), "p521");
  ASSERT_EQ(p521["crv"], "P-521");
  const json short_rsa = test_jwt::publicJwk(test_jwt::rsaKey(1016).get(), "short");
  json off_curve = test_jwt::publicJwk(k.p256.get(), "off");
  std::string y = *base64UrlDecode(off_curve["y"].get<std::string>());
  y[31] = static_cast<char>(y[31] ^ 1);
  off_curve["y"] = b64url(y);
  json ec_short_x = test_jwt::publicJwk(k.p256.get(), "short-x");
  ec_short_x["x"] = b64url(std::string(31, 'x'));
  json ec_p384_as_p256 = test_jwt::publicJwk(k.p384.get(), "mislabelled");
  ec_p384_as_p256["crv"] = "P-256";
  json rsa_no_e = test_jwt::publicJwk(k.rsa.get(), "no-e");
  rsa_no_e.erase("e");
  json rsa_bad_n = test_jwt::publicJwk(k.rsa.get(), "bad-n");
  rsa_bad_n["n"] = rsa_bad_n["n"].get<std::string>() + "=";
  const json usable = test_jwt::publicJwk(k.rsa.get(), "good");

  size_t skipped = 0;
  const auto set = parseJwks(
      json{{"keys",
            {ed25519, p521, short_rsa, off_curve, ec_short_x, ec_p384_as_p256, rsa_no_e, rsa_bad_n,
             json{{"kty", "oct"}, {"k", ""}}, json{{"kty", "oct"}}, json{{"kid", "no-kty"}},
             json{{"kty", "RSA-X"}}, json{{"kty", "rsa"}, {"n", usable["n"]}, {"e", "AQAB"}},
             json("a string"), json(1), json(nullptr), json::array(), usable}}}
          .dump(),
      &skipped);
  ASSERT_TRUE(set);
  EXPECT_EQ(skipped, 17u);
  ASSERT_EQ(set->keys().size(), 1u);
  EXPECT_EQ(set->keys()[0].kid, "good");
}

TEST(JwksParse, RsaOf1024BitsIsTheSmallestAccepted) {
  size_t skipped = 99;
  const auto set = parseJwks(
      test_jwt::jwks({test_jwt::publicJwk(test_jwt::rsaKey(1024).get(), "r1024")}), &skipped);
  ASSERT_TRUE(set);
  EXPECT_EQ(skipped, 0u);
  EXPECT_EQ(set->keys().size(), 1u);
  for (unsigned bits : {512u, 768u, 1016u}) {
    skipped = 0;
    const auto small = parseJwks(
        test_jwt::jwks({test_jwt::publicJwk(test_jwt::rsaKey(bits).get(), "small")}), &skipped);
    ASSERT_TRUE(small);
    EXPECT_EQ(skipped, 1u) << bits;
    EXPECT_TRUE(small->keys().empty()) << bits;
  }
}

TEST(JwksParse, ParsedKeysVerifyTokens) {
  // What a token signed with a JWK's private half needs: the public JWK round trip.
  const auto rsa = test_jwt::rsaKey(3072);
  const auto set = parseJwks(test_jwt::jwks({test_jwt::publicJwk(rsa.get(), "big")}));
  const auto token = test_jwt::sign("RS512", Signer::with(rsa), claims(), "big");
  EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {set.get()}, kNow).failure, JwtFailure::kNone);
}

TEST(JwksParse, NotAJwksIsAnError) {
  for (const std::string text :
       {"", "not json", "[]", "{}", "{\"key\":[]}", "{\"keys\":{}}", "{\"keys\":\"x\"}",
        "{\"keys\":null}", "\"keys\"", "{\"keys\":[]", "null"}) {
    std::string error;
    size_t skipped = 0;
    EXPECT_EQ(JwtKeySet::parse(text, &error, &skipped), nullptr) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
  // A lone JWK is not a JWKS either.
  std::string error;
  EXPECT_EQ(JwtKeySet::parse(test_jwt::publicJwk(keys().rsa.get(), "r").dump(), &error),
            nullptr);
  // Null out-parameters are allowed.
  EXPECT_EQ(JwtKeySet::parse("[]", nullptr), nullptr);
}

TEST(JwksParse, EmptyKeysIsAnEmptySet) {
  std::string error;
  size_t skipped = 99;
  const auto set = JwtKeySet::parse("{\"keys\":[]}", &error, &skipped);
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->keys().empty());
  EXPECT_EQ(skipped, 0u);
  EXPECT_EQ(verifyJwt(hs256(claims()), {}, kAllAlgorithms, {set.get()}, kNow).failure,
            JwtFailure::kUnknownKey);
}

// Disabled: fails today. JwtKeySet::parse reads members with nlohmann's json::value(key, ""),
// which throws type_error.302 when the member exists but is not a string, so an entry such as
// {"kty":"RSA","kid":7,...} or {"kty":1} makes parse() throw instead of skipping the entry.
// From a jwksURI this escapes the fetcher's detached coroutine and its io_context::run()
// (std::terminate); from a Secret it escapes ProxyConfig compilation. Enable once fixed.
TEST(JwksParse, MembersOfTheWrongTypeAreSkippedNotThrown) {
  const json rsa = test_jwt::publicJwk(keys().rsa.get(), "r");
  const json p256 = test_jwt::publicJwk(keys().p256.get(), "e");
  std::vector<json> entries = {json{{"kty", 1}}, json{{"kty", "oct"}, {"k", 5}}};
  for (const char* member : {"kid", "n", "e"}) {
    json bad = rsa;
    bad[member] = 7;
    entries.push_back(bad);
  }
  for (const char* member : {"crv", "x", "y"}) {
    json bad = p256;
    bad[member] = json::array();
    entries.push_back(bad);
  }
  for (const auto& entry : entries) {
    size_t skipped = 0;
    std::string error;
    std::shared_ptr<const JwtKeySet> set;
    EXPECT_NO_THROW(set = JwtKeySet::parse(json{{"keys", {entry, rsa}}}.dump(), &error,
                                           &skipped))
        << entry.dump();
    if (!set) continue;
    EXPECT_EQ(skipped, 1u) << entry.dump();
    EXPECT_EQ(set->keys().size(), 1u) << entry.dump();
  }
}

TEST(JwksParse, HmacSetHoldsTheRawSecret) {
  const std::string binary("raw\0secret\xff", 11);
  const auto set = JwtKeySet::hmac(binary);
  ASSERT_EQ(set->keys().size(), 1u);
  EXPECT_EQ(set->keys()[0].type, KeyType::kHmac);
  EXPECT_EQ(set->keys()[0].kid, "");
  EXPECT_EQ(set->keys()[0].secret, binary);
  const auto token = test_jwt::sign("HS384", Signer::hmac(binary), claims());
  EXPECT_EQ(verifyJwt(token, {}, kAllAlgorithms, {set.get()}, kNow).failure, JwtFailure::kNone);
  // An empty secret verifies nothing, not even an HMAC made with an empty key.
  const auto empty = JwtKeySet::hmac("");
  const auto unkeyed = test_jwt::sign("HS256", Signer::hmac(""), claims());
  EXPECT_EQ(verifyJwt(unkeyed, {}, kAllAlgorithms, {empty.get()}, kNow).failure,
            JwtFailure::kSignature);
}

}  // namespace
}  // namespace atrium::proxy::filters
