#pragma once
// Authentication of a request against the consumers of a route's namespace (SPEC §3.2 auth,
// §3.3 APIConsumer): API keys (a header, or a query parameter) and Basic credentials. The
// consumer index is built once per snapshot; a lookup hashes the presented secret (SHA-256) and
// finds its consumer in a hash map, so no stored secret is ever compared byte by byte with
// attacker input. Plain Basic passwords are compared as digests in constant time; bcrypt ones
// with crypt(3), whose results each worker caches (bcrypt costs tens of milliseconds by design).
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/filters/jwks_fetcher.h"
#include "proxy/filters/jwt.h"
#include "src/config/snapshot.h"

namespace atrium::proxy::filters {

class ConsumerIndex {
 public:
  ConsumerIndex() = default;
  explicit ConsumerIndex(const std::vector<config::Consumer>& consumers);
  const config::Consumer* byApiKey(std::string_view ns, std::string_view key) const;
  const config::Consumer* byUser(std::string_view ns, std::string_view user) const;
  const config::Consumer* byJwtSubject(std::string_view ns, std::string_view subject) const;

 private:
  std::unordered_map<std::string, const config::Consumer*> subjects_;  // ns '\0' subject
  std::unordered_map<std::string, const config::Consumer*> keys_;   // ns '\0' sha256 hex
  std::unordered_map<std::string, const config::Consumer*> users_;  // ns '\0' user name
};

// Checks passwords against their stored form; one per worker (not thread-safe), remembering
// recent bcrypt verdicts so a client sending the same credentials costs one crypt(3) call.
class PasswordVerifier {
 public:
  bool verify(const std::string& stored, std::string_view password);

 private:
  std::unordered_map<std::string, bool> bcrypt_cache_;  // sha256(stored '\0' password) → ok
};

// Tokens this worker verified recently, so a client repeating its token costs a digest and a
// lookup instead of a signature verification and two JSON parses. An entry is used only for
// the same route runtime (a new configuration starts afresh), the same fetched key set, and
// while the token's own exp/nbf allow it. One per worker (not thread-safe); bounded.
class JwtVerdictCache {
 public:
  struct Entry {
    uint64_t runtime_id = 0;  // the JwtRuntime that verified it (ids are never reused)
    // The fetched keys it was verified with, held so that no later key set can be mistaken
    // for them by address.
    std::shared_ptr<const JwtKeySet> remote_keys;
    nlohmann::json claims;
    double not_after = 1e300;        // exp + skew
    double not_before = -1e300;      // nbf - skew
  };
  const Entry* find(const std::string& key, uint64_t runtime_id, const JwtKeySet* remote_keys,
                    int64_t now) const;
  void put(std::string key, Entry entry);

 private:
  std::unordered_map<std::string, Entry> entries_;
};

enum class AuthOutcome { kOk, kMissing, kInvalid, kForbidden };

struct AuthResult {
  AuthOutcome outcome = AuthOutcome::kMissing;
  const config::Consumer* consumer = nullptr;  // set for kOk and kForbidden
  bool bad_token = false;         // a bearer token was presented and refused
  nlohmann::json jwt_claims;      // the verified token's claims (JWT)
};

// A route's JWT keys as the proxy holds them: parsed once per configuration (Secret JWKS, HMAC
// secret), or fetched (jwksURI).
struct JwtRuntime {
  uint64_t id = nextId();  // unique per runtime: the verdict cache keys on it
  std::shared_ptr<const JwtKeySet> static_keys;
  std::shared_ptr<const JwtKeySet> hmac_keys;
  std::shared_ptr<JwksSource> remote;
  std::vector<std::string> algorithms;

  static uint64_t nextId() {
    static std::atomic<uint64_t> counter{0};
    return ++counter;
  }
};

// `header(name)` returns the request's value of a header (case-insensitive name), or nullopt.
using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view)>;

// `jwt` is required when the policy has JWT; `now` is seconds since the epoch.
AuthResult authenticate(const config::AuthPolicy& policy, const ConsumerIndex& consumers,
                        const HeaderLookup& header, std::string_view query,
                        PasswordVerifier& passwords, const JwtRuntime* jwt, int64_t now,
                        JwtVerdictCache* verdicts = nullptr);

// The WWW-Authenticate challenges of a 401, one per method: `Basic realm="shop"`,
// `APIKey header="X-API-Key"`, `Bearer realm="atrium"` (with error="invalid_token" after a bad
// token, RFC 6750 §3).
std::vector<std::string> challenges(const config::AuthPolicy& policy, bool bad_token);

// The value of query parameter `name` (percent-decoded; '+' is a space), or nullopt.
std::optional<std::string> queryParam(std::string_view query, std::string_view name);
// `query` without every occurrence of parameter `name`; the others keep their order and bytes.
std::string withoutQueryParam(std::string_view query, std::string_view name);

// Lower-case hex SHA-256.
std::string sha256Hex(std::string_view data);

}  // namespace atrium::proxy::filters
