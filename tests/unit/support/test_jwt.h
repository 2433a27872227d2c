#pragma once
// JSON Web Tokens for the unit tests, made in-process with the OpenSSL 3 API: RSA and EC keys
// generated at run time, their public halves as JWKs (RFC 7517/7518 §6), and compact JWS tokens
// signed with HS256/384/512, RS256/384/512, PS256, ES256/384 (RFC 7518 §3). Written apart from
// proxy/filters/jwt.cc so the tests do not check the code against itself. Header-only because
// the unit test binary compiles only tests/unit/**/*_test.cc.
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tests/unit/support/test_certs.h"

namespace atrium::test_jwt {

using Key = std::shared_ptr<EVP_PKEY>;

inline Key rsaKey(unsigned bits = 2048) {
  EVP_PKEY* key = EVP_RSA_gen(bits);
  if (!key) throw std::runtime_error("test RSA key generation failed");
  return Key(key, EVP_PKEY_free);
}

// curve: "P-256" or "P-384" (also "P-521", for keys the verifier must refuse).
inline Key ecKey(const char* curve) {
  EVP_PKEY* key = EVP_EC_gen(curve);
  if (!key) throw std::runtime_error(std::string("test EC key generation failed: ") + curve);
  return Key(key, EVP_PKEY_free);
}

inline Key ed25519Key() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (!key) throw std::runtime_error("test Ed25519 key generation failed");
  return Key(key, EVP_PKEY_free);
}

inline std::string randomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

// base64url without padding (RFC 7515 §2).
inline std::string b64url(std::string_view data) {
  std::string out = test_certs::base64(data);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

// The public key in PEM ("-----BEGIN PUBLIC KEY-----"): what an attacker would use as the HMAC
// secret in an RS256 → HS256 confusion attack.
inline std::string publicKeyPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key);
  return test_certs::bioContents(bio.get());
}

inline std::string bnParam(EVP_PKEY* key, const char* name, int pad_to = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
    throw std::runtime_error(std::string("key parameter ") + name);
  }
  const int size = pad_to ? pad_to : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(size), '\0');
  const int n = BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
  BN_free(bn);
  if (n != size) throw std::runtime_error(std::string("key parameter size ") + name);
  return out;
}

// The public JWK of an RSA or EC key (no "alg"/"use": the verifier must not need them).
inline nlohmann::json publicJwk(EVP_PKEY* key, const std::string& kid) {
  nlohmann::json jwk;
  if (!kid.empty()) jwk["kid"] = kid;
  if (EVP_PKEY_is_a(key, "RSA")) {
    jwk["kty"] = "RSA";
    jwk["n"] = b64url(bnParam(key, OSSL_PKEY_PARAM_RSA_N));
    jwk["e"] = b64url(bnParam(key, OSSL_PKEY_PARAM_RSA_E));
    return jwk;
  }
  if (!EVP_PKEY_is_a(key, "EC")) throw std::runtime_error("publicJwk: RSA or EC keys only");
  char group[64] = {};
  EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr);
  const std::string g = group;
  const int size = g == "prime256v1" ? 32 : g == "secp384r1" ? 48 : 66;
  jwk["kty"] = "EC";
  jwk["crv"] = size == 32 ? "P-256" : size == 48 ? "P-384" : "P-521";
  jwk["x"] = b64url(bnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, size));
  jwk["y"] = b64url(bnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, size));
  return jwk;
}

inline nlohmann::json octJwk(std::string_view secret, const std::string& kid) {
  nlohmann::json jwk = {{"kty", "oct"}, {"k", b64url(secret)}};
  if (!kid.empty()) jwk["kid"] = kid;
  return jwk;
}

inline std::string jwks(std::initializer_list<nlohmann::json> keys) {
  nlohmann::json doc = {{"keys", nlohmann::json::array()}};
  for (const auto& key : keys) doc["keys"].push_back(key);
  return doc.dump();
}

inline const EVP_MD* digestOf(std::string_view alg) {
  if (alg.ends_with("256")) return EVP_sha256();
  if (alg.ends_with("384")) return EVP_sha384();
  if (alg.ends_with("512")) return EVP_sha512();
  throw std::runtime_error("no digest for " + std::string(alg));
}

inline std::string hmacSign(std::string_view alg, std::string_view secret, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(digestOf(alg), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length)) {
    throw std::runtime_error("HMAC failed");
  }
  return std::string(reinterpret_cast<char*>(mac), length);
}

// An RS*/PS*/ES* signature of `data`; ES* as JWS wants it (r || s, each `ec_size` bytes) unless
// `der` asks for OpenSSL's DER ECDSA-Sig-Value.
inline std::string keySign(std::string_view alg, EVP_PKEY* key, std::string_view data,
                           int ec_size = 0, bool der = false) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                              EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit(ctx.get(), &pctx, digestOf(alg), nullptr, key) != 1) {
    throw std::runtime_error("EVP_DigestSignInit failed");
  }
  if (alg.starts_with("PS")) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  size_t length = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &length, in, data.size()) != 1) {
    throw std::runtime_error("EVP_DigestSign (size) failed");
  }
  std::string sig(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &length, in,
                     data.size()) != 1) {
    throw std::runtime_error("EVP_DigestSign failed");
  }
  sig.resize(length);
  if (!alg.starts_with("ES") || der) return sig;
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* ecdsa = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  if (!ecdsa) throw std::runtime_error("d2i_ECDSA_SIG failed");
  std::string raw(2 * static_cast<size_t>(ec_size), '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  const bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa), out, ec_size) == ec_size &&
                  BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa), out + ec_size, ec_size) == ec_size;
  ECDSA_SIG_free(ecdsa);
  if (!ok) throw std::runtime_error("ECDSA r/s larger than the JWS size");
  return raw;
}

// A token from raw header and payload text (any bytes, valid JSON or not) and a signature.
inline std::string assemble(std::string_view header, std::string_view payload,
                            std::string_view signature) {
  return b64url(header) + "." + b64url(payload) + "." + b64url(signature);
}

// What signs a token: an HMAC secret, or a private key (with the ES* r/s size of its curve).
struct Signer {
  std::string secret;
  EVP_PKEY* key = nullptr;
  int ec_size = 0;

  static Signer hmac(std::string s) { return Signer{std::move(s), nullptr, 0}; }
  static Signer with(const Key& k, int ec = 0) { return Signer{"", k.get(), ec}; }

  std::string sign(std::string_view alg, std::string_view data) const {
    if (alg.starts_with("HS")) return hmacSign(alg, secret, data);
    return keySign(alg, key, data, ec_size);
  }
};

// A signed compact JWS: `header` gets "alg" (and "typ"), `kid` when not empty.
inline std::string sign(const std::string& alg, const Signer& signer, const nlohmann::json& claims,
                        const std::string& kid = "", nlohmann::json header = nlohmann::json()) {
  if (header.is_null()) header = nlohmann::json::object();
  header["alg"] = alg;
  header["typ"] = "JWT";
  if (!kid.empty()) header["kid"] = kid;
  const std::string signing_input = b64url(header.dump()) + "." + b64url(claims.dump());
  return signing_input + "." + b64url(signer.sign(alg, signing_input));
}

}  // namespace atrium::test_jwt
