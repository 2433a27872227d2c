#pragma once
// JSON Web Token verification (RFC 7519, RFC 7515 JWS compact form) for policy.auth JWT:
// HS256/384/512, RS256/384/512, PS256, ES256/384. The allowed algorithms are an explicit list,
// never "none", and a key is used only with algorithms of its own type (an RSA public key can
// never serve as an HMAC secret). Keys come from JWKS documents (RFC 7517) or a raw HMAC secret.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/config/snapshot.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace atrium::proxy::filters {

enum class KeyType { kRsa, kEcP256, kEcP384, kHmac };

struct JwtKey {
  std::string kid;
  KeyType type = KeyType::kRsa;
  std::shared_ptr<EVP_PKEY> public_key;  // RSA, EC
  std::string secret;                    // HMAC
};

class JwtKeySet {
 public:
  // Parses a JWKS document; keys it cannot use are skipped (and counted in `skipped`).
  // Returns null with `error` when the document is not a JWKS at all.
  static std::shared_ptr<const JwtKeySet> parse(std::string_view json, std::string* error,
                                                size_t* skipped = nullptr);
  static std::shared_ptr<const JwtKeySet> hmac(std::string secret);

  const std::vector<JwtKey>& keys() const { return keys_; }
  bool hasKid(std::string_view kid) const;

 private:
  std::vector<JwtKey> keys_;
};

enum class JwtFailure {
  kNone,
  kMalformed,    // not three base64url JSON/bytes segments
  kAlgorithm,    // alg not allowed (or none)
  kUnknownKey,   // no key with the token's kid (a JWKS refresh may find it)
  kSignature,
  kExpired,
  kNotYetValid,
  kIssuer,
  kAudience,
};
const char* toString(JwtFailure failure);

struct JwtVerification {
  JwtFailure failure = JwtFailure::kMalformed;
  nlohmann::json claims;  // the payload, when verified
};

// The algorithms a route accepts: its list, or the defaults for the key sources it has.
std::vector<std::string> effectiveAlgorithms(const config::JwtSettings& settings);

// Verifies `token` with the keys of `key_sets` (null entries skipped) at time `now` (seconds
// since the epoch).
JwtVerification verifyJwt(std::string_view token, const config::JwtSettings& settings,
                          const std::vector<std::string>& algorithms,
                          const std::vector<const JwtKeySet*>& key_sets, int64_t now);

// base64url without padding (RFC 7515 §2) → bytes; nullopt when invalid.
std::optional<std::string> base64UrlDecode(std::string_view text);

}  // namespace atrium::proxy::filters
