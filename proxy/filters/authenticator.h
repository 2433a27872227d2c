#pragma once
// Authentication of a request against the consumers of a route's namespace (SPEC §3.2 auth,
// §3.3 APIConsumer): API keys (a header, or a query parameter) and Basic credentials. The
// consumer index is built once per snapshot; a lookup hashes the presented secret (SHA-256) and
// finds its consumer in a hash map, so no stored secret is ever compared byte by byte with
// attacker input. Plain Basic passwords are compared as digests in constant time; bcrypt ones
// with crypt(3), whose results each worker caches (bcrypt costs tens of milliseconds by design).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/config/snapshot.h"

namespace atrium::proxy::filters {

class ConsumerIndex {
 public:
  ConsumerIndex() = default;
  explicit ConsumerIndex(const std::vector<config::Consumer>& consumers);
  const config::Consumer* byApiKey(std::string_view ns, std::string_view key) const;
  const config::Consumer* byUser(std::string_view ns, std::string_view user) const;

 private:
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

enum class AuthOutcome { kOk, kMissing, kInvalid, kForbidden };

struct AuthResult {
  AuthOutcome outcome = AuthOutcome::kMissing;
  const config::Consumer* consumer = nullptr;  // set for kOk and kForbidden
};

// `header(name)` returns the request's value of a header (case-insensitive name), or nullopt.
using HeaderLookup = std::function<std::optional<std::string_view>(std::string_view)>;

AuthResult authenticate(const config::AuthPolicy& policy, const ConsumerIndex& consumers,
                        const HeaderLookup& header, std::string_view query,
                        PasswordVerifier& passwords);

// The WWW-Authenticate challenges of a 401, one per method, joined as header lines:
// `Basic realm="shop"` and `APIKey header="X-API-Key"`.
std::vector<std::string> challenges(const config::AuthPolicy& policy);

// The value of query parameter `name` (percent-decoded; '+' is a space), or nullopt.
std::optional<std::string> queryParam(std::string_view query, std::string_view name);
// `query` without every occurrence of parameter `name`; the others keep their order and bytes.
std::string withoutQueryParam(std::string_view query, std::string_view name);

// Lower-case hex SHA-256.
std::string sha256Hex(std::string_view data);

}  // namespace atrium::proxy::filters
