#include "proxy/filters/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>

#include "src/common/base64.h"

namespace atrium::proxy::filters {

namespace {

constexpr size_t kMaxToken = 16 * 1024;  // far above real tokens; bounds the work per request

struct Algorithm {
  const char* name;
  KeyType type;
  const EVP_MD* (*md)();
  bool pss = false;
  size_t ec_size = 0;  // bytes of r (and of s) in an ES* signature
};

const Algorithm* findAlgorithm(std::string_view name) {
  static const Algorithm kAll[] = {
      {"HS256", KeyType::kHmac, EVP_sha256}, {"HS384", KeyType::kHmac, EVP_sha384},
      {"HS512", KeyType::kHmac, EVP_sha512}, {"RS256", KeyType::kRsa, EVP_sha256},
      {"RS384", KeyType::kRsa, EVP_sha384},  {"RS512", KeyType::kRsa, EVP_sha512},
      {"PS256", KeyType::kRsa, EVP_sha256, true},
      {"ES256", KeyType::kEcP256, EVP_sha256, false, 32},
      {"ES384", KeyType::kEcP384, EVP_sha384, false, 48},
  };
  for (const auto& a : kAll) {
    if (name == a.name) return &a;
  }
  return nullptr;
}

// A string member of a JWK, "" when absent or of another type (never throws: a JWKS comes from
// a Secret or a URL, and one odd entry must only be skipped).
std::string member(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  return it != jwk.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::shared_ptr<EVP_PKEY> fromParams(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  if (ctx && params && EVP_PKEY_fromdata_init(ctx) == 1) {
    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  ERR_clear_error();
  return pkey ? std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free) : nullptr;
}

std::optional<JwtKey> rsaKey(const nlohmann::json& jwk) {
  auto n = base64UrlDecode(member(jwk, "n"));
  auto e = base64UrlDecode(member(jwk, "e"));
  if (!n || !e || n->size() < 128 || e->empty()) return std::nullopt;  // < 1024 bits: refused
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                           static_cast<int>(n->size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                           static_cast<int>(e->size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
  auto pkey = fromParams("RSA", bld);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  if (!pkey) return std::nullopt;
  return JwtKey{member(jwk, "kid"), KeyType::kRsa, pkey, ""};
}

std::optional<JwtKey> ecKey(const nlohmann::json& jwk) {
  const std::string crv = member(jwk, "crv");
  const bool p256 = crv == "P-256";
  if (!p256 && crv != "P-384") return std::nullopt;
  const size_t size = p256 ? 32 : 48;
  auto x = base64UrlDecode(member(jwk, "x"));
  auto y = base64UrlDecode(member(jwk, "y"));
  if (!x || !y || x->size() != size || y->size() != size) return std::nullopt;
  std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                  p256 ? "prime256v1" : "secp384r1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  auto pkey = fromParams("EC", bld);
  OSSL_PARAM_BLD_free(bld);
  if (!pkey) return std::nullopt;
  return JwtKey{member(jwk, "kid"), p256 ? KeyType::kEcP256 : KeyType::kEcP384, pkey, ""};
}

bool verifySignature(const Algorithm& alg, const JwtKey& key, std::string_view signed_part,
                     const std::string& signature) {
  if (alg.type == KeyType::kHmac) {
    if (key.secret.empty()) return false;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(alg.md(), key.secret.data(), static_cast<int>(key.secret.size()),
              reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac,
              &mac_len)) {
      return false;
    }
    return signature.size() == mac_len && CRYPTO_memcmp(mac, signature.data(), mac_len) == 0;
  }
  std::string der = signature;
  if (alg.ec_size) {
    // JWS carries r || s; OpenSSL wants a DER ECDSA-Sig-Value.
    if (signature.size() != 2 * alg.ec_size) return false;
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()),
                          static_cast<int>(alg.ec_size), nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + alg.ec_size,
                          static_cast<int>(alg.ec_size), nullptr);
    ECDSA_SIG_set0(sig, r, s);
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(sig, &out);
    ECDSA_SIG_free(sig);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = EVP_DigestVerifyInit(ctx, &pctx, alg.md(), nullptr, key.public_key.get()) == 1;
  if (ok && alg.pss) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
  }
  ok = ok && EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                              reinterpret_cast<const unsigned char*>(signed_part.data()),
                              signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

std::optional<double> numericClaim(const nlohmann::json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  if (!it->is_number()) return -1e300;  // present but not a number: fails every check
  return it->get<double>();
}

}  // namespace

const char* toString(JwtFailure failure) {
  switch (failure) {
    case JwtFailure::kNone: return "ok";
    case JwtFailure::kMalformed: return "malformed";
    case JwtFailure::kAlgorithm: return "algorithm not allowed";
    case JwtFailure::kUnknownKey: return "unknown key";
    case JwtFailure::kSignature: return "bad signature";
    case JwtFailure::kExpired: return "expired";
    case JwtFailure::kNotYetValid: return "not yet valid";
    case JwtFailure::kIssuer: return "wrong issuer";
    case JwtFailure::kAudience: return "wrong audience";
  }
  return "?";
}

std::optional<std::string> base64UrlDecode(std::string_view text) {
  if (text.find_first_of("+/= \t\r\n") != std::string_view::npos) return std::nullopt;
  std::string standard(text);
  for (auto& c : standard) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  if (standard.size() % 4 == 1) return std::nullopt;
  try {
    return common::decodeBase64(standard);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::shared_ptr<const JwtKeySet> JwtKeySet::parse(std::string_view json, std::string* error,
                                                  size_t* skipped) {
  auto doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
    if (error) *error = "not a JWKS document (a JSON object with a \"keys\" array)";
    return nullptr;
  }
  auto set = std::make_shared<JwtKeySet>();
  size_t unusable = 0;
  for (const auto& jwk : doc["keys"]) {
    if (!jwk.is_object()) {
      ++unusable;
      continue;
    }
    if (jwk.contains("kid") && !jwk["kid"].is_string()) {
      ++unusable;  // a key without a usable kid would match tokens of any kid
      continue;
    }
    const std::string kty = member(jwk, "kty");
    std::optional<JwtKey> key;
    if (kty == "RSA") key = rsaKey(jwk);
    if (kty == "EC") key = ecKey(jwk);
    if (kty == "oct") {
      auto k = base64UrlDecode(member(jwk, "k"));
      if (k && !k->empty()) key = JwtKey{member(jwk, "kid"), KeyType::kHmac, nullptr, *k};
    }
    if (key) {
      set->keys_.push_back(std::move(*key));
    } else {
      ++unusable;
    }
  }
  if (skipped) *skipped = unusable;
  return set;
}

std::shared_ptr<const JwtKeySet> JwtKeySet::hmac(std::string secret) {
  auto set = std::make_shared<JwtKeySet>();
  set->keys_.push_back(JwtKey{"", KeyType::kHmac, nullptr, std::move(secret)});
  return set;
}

bool JwtKeySet::hasKid(std::string_view kid) const {
  return std::any_of(keys_.begin(), keys_.end(), [&](const JwtKey& k) { return k.kid == kid; });
}

std::vector<std::string> effectiveAlgorithms(const config::JwtSettings& settings) {
  if (!settings.algorithms.empty()) return settings.algorithms;
  std::vector<std::string> out;
  if (!settings.jwks_json.empty() || !settings.jwks_uri.empty()) {
    out = {"RS256", "RS384", "RS512", "PS256", "ES256", "ES384"};
  }
  if (!settings.hmac_secret.empty()) {
    out.insert(out.end(), {"HS256", "HS384", "HS512"});
  }
  return out;
}

JwtVerification verifyJwt(std::string_view token, const config::JwtSettings& settings,
                          const std::vector<std::string>& algorithms,
                          const std::vector<const JwtKeySet*>& key_sets, int64_t now) {
  JwtVerification result;
  if (token.empty() || token.size() > kMaxToken) return result;
  const size_t dot1 = token.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return result;
  }
  auto header_bytes = base64UrlDecode(token.substr(0, dot1));
  auto payload_bytes = base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = base64UrlDecode(token.substr(dot2 + 1));
  if (!header_bytes || !payload_bytes || !signature) return result;
  auto header = nlohmann::json::parse(*header_bytes, nullptr, false);
  auto claims = nlohmann::json::parse(*payload_bytes, nullptr, false);
  if (header.is_discarded() || !header.is_object() || claims.is_discarded() ||
      !claims.is_object() || !header.contains("alg") || !header["alg"].is_string()) {
    return result;
  }
  // No JWS extension is understood, so a token that marks one critical is refused (RFC 7515
  // §4.1.11).
  if (header.contains("crit")) return result;
  const std::string alg_name = header["alg"].get<std::string>();
  const Algorithm* alg = findAlgorithm(alg_name);  // "none" and anything unknown: null
  if (!alg || std::find(algorithms.begin(), algorithms.end(), alg_name) == algorithms.end()) {
    result.failure = JwtFailure::kAlgorithm;
    return result;
  }
  const bool has_kid = header.contains("kid") && header["kid"].is_string();
  const std::string kid = has_kid ? header["kid"].get<std::string>() : "";
  const std::string_view signed_part = token.substr(0, dot2);
  bool tried = false, verified = false;
  for (const JwtKeySet* set : key_sets) {
    if (!set) continue;
    for (const JwtKey& key : set->keys()) {
      if (key.type != alg->type) continue;  // no RSA key as an HMAC secret, no P-384 for ES256
      if (has_kid && !key.kid.empty() && key.kid != kid) continue;
      tried = true;
      if (verifySignature(*alg, key, signed_part, *signature)) {
        verified = true;
        break;
      }
    }
    if (verified) break;
  }
  if (!verified) {
    result.failure = tried ? JwtFailure::kSignature : JwtFailure::kUnknownKey;
    return result;
  }
  const double skew = settings.clock_skew_seconds;
  if (auto exp = numericClaim(claims, "exp"); exp && *exp <= static_cast<double>(now) - skew) {
    result.failure = JwtFailure::kExpired;
    return result;
  }
  if (auto nbf = numericClaim(claims, "nbf"); nbf && (*nbf < -1e299 || *nbf > now + skew)) {
    result.failure = JwtFailure::kNotYetValid;
    return result;
  }
  if (!settings.issuer.empty() &&
      !(claims.contains("iss") && claims["iss"].is_string() &&
        claims["iss"].get<std::string>() == settings.issuer)) {
    result.failure = JwtFailure::kIssuer;
    return result;
  }
  if (!settings.audiences.empty()) {
    bool match = false;
    auto accepted = [&](const nlohmann::json& a) {
      return a.is_string() && std::find(settings.audiences.begin(), settings.audiences.end(),
                                        a.get<std::string>()) != settings.audiences.end();
    };
    if (claims.contains("aud")) {
      const auto& aud = claims["aud"];
      if (aud.is_array()) {
        match = std::any_of(aud.begin(), aud.end(), accepted);
      } else {
        match = accepted(aud);
      }
    }
    if (!match) {
      result.failure = JwtFailure::kAudience;
      return result;
    }
  }
  result.failure = JwtFailure::kNone;
  result.claims = std::move(claims);
  return result;
}

}  // namespace atrium::proxy::filters
