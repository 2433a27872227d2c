#include "proxy/filters/authenticator.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <strings.h>
#include <memory>

#include "src/common/base64.h"

namespace atrium::proxy::filters {

namespace {

std::string indexKey(std::string_view ns, std::string_view id) {
  std::string key;
  key.reserve(ns.size() + 1 + id.size());
  key.append(ns).push_back('\0');
  key.append(id);
  return key;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 &&
               hexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool allowed(const config::AuthPolicy& policy, const config::Consumer& consumer) {
  if (policy.allow_consumers.empty() && policy.allow_groups.empty()) return true;
  if (std::find(policy.allow_consumers.begin(), policy.allow_consumers.end(), consumer.name) !=
      policy.allow_consumers.end()) {
    return true;
  }
  for (const auto& g : consumer.groups) {
    if (std::find(policy.allow_groups.begin(), policy.allow_groups.end(), g) !=
        policy.allow_groups.end()) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (unsigned i = 0; i < n; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

ConsumerIndex::ConsumerIndex(const std::vector<config::Consumer>& consumers) {
  for (const auto& c : consumers) {
    for (const auto& digest : c.api_key_sha256) keys_.emplace(indexKey(c.ns, digest), &c);
    if (!c.basic_username.empty()) users_.emplace(indexKey(c.ns, c.basic_username), &c);
    if (!c.jwt_subject.empty()) subjects_.emplace(indexKey(c.ns, c.jwt_subject), &c);
  }
}

const config::Consumer* ConsumerIndex::byApiKey(std::string_view ns, std::string_view key) const {
  auto it = keys_.find(indexKey(ns, sha256Hex(key)));
  return it == keys_.end() ? nullptr : it->second;
}

const config::Consumer* ConsumerIndex::byUser(std::string_view ns, std::string_view user) const {
  auto it = users_.find(indexKey(ns, user));
  return it == users_.end() ? nullptr : it->second;
}

const config::Consumer* ConsumerIndex::byJwtSubject(std::string_view ns,
                                                     std::string_view subject) const {
  auto it = subjects_.find(indexKey(ns, subject));
  return it == subjects_.end() ? nullptr : it->second;
}

const JwtVerdictCache::Entry* JwtVerdictCache::find(const std::string& key, uint64_t runtime_id,
                                                     const JwtKeySet* remote_keys,
                                                     int64_t now) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  const Entry& e = it->second;
  // exp is checked as verifyJwt does (expired at exp + skew); nbf likewise.
  if (e.runtime_id != runtime_id || e.remote_keys.get() != remote_keys) return nullptr;
  if (static_cast<double>(now) >= e.not_after || static_cast<double>(now) < e.not_before) {
    return nullptr;
  }
  return &e;
}

void JwtVerdictCache::put(std::string key, Entry entry) {
  if (entries_.size() >= 4096) entries_.clear();  // bounded; refills on demand
  entries_.insert_or_assign(std::move(key), std::move(entry));
}

bool PasswordVerifier::verify(const std::string& stored, std::string_view password) {
  if (stored.rfind("sha256:", 0) == 0) {
    return constantTimeEquals(std::string_view(stored).substr(7), sha256Hex(password));
  }
  const std::string cache_key = sha256Hex(stored + '\0' + std::string(password));
  if (auto it = bcrypt_cache_.find(cache_key); it != bcrypt_cache_.end()) return it->second;
  auto data = std::make_unique<crypt_data>();
  const std::string phrase(password);
  const char* hashed = crypt_rn(phrase.c_str(), stored.c_str(), data.get(), sizeof(crypt_data));
  const bool ok = hashed && hashed[0] != '*' && constantTimeEquals(hashed, stored);
  if (bcrypt_cache_.size() >= 4096) bcrypt_cache_.clear();  // bounded; refills on demand
  bcrypt_cache_.emplace(cache_key, ok);
  return ok;
}

AuthResult authenticate(const config::AuthPolicy& policy, const ConsumerIndex& consumers,
                        const HeaderLookup& header, std::string_view query,
                        PasswordVerifier& passwords, const JwtRuntime* jwt, int64_t now,
                        JwtVerdictCache* verdicts) {
  bool presented = false;
  bool bearer = false;
  const config::Consumer* consumer = nullptr;
  if (policy.jwt && jwt) {
    if (auto value = header("authorization")) {
      std::string_view v = trim(*value);
      if (v.size() > 7 && strncasecmp(v.data(), "bearer ", 7) == 0) {
        presented = bearer = true;
        const std::string_view token = trim(v.substr(7));
        std::shared_ptr<const JwtKeySet> remote = jwt->remote ? jwt->remote->keys() : nullptr;
        JwtVerification verified;
        std::string cache_key;
        const JwtVerdictCache::Entry* hit = nullptr;
        if (verdicts) {
          cache_key = sha256Hex(token);
          hit = verdicts->find(cache_key, jwt->id, remote.get(), now);
        }
        if (hit) {
          verified.failure = JwtFailure::kNone;
          verified.claims = hit->claims;
        } else {
          verified = verifyJwt(token, policy.jwt_settings, jwt->algorithms,
                               {jwt->static_keys.get(), jwt->hmac_keys.get(), remote.get()}, now);
          if (verdicts && verified.failure == JwtFailure::kNone) {
            JwtVerdictCache::Entry entry;
            entry.runtime_id = jwt->id;
            entry.remote_keys = remote;
            entry.claims = verified.claims;
            const double skew = policy.jwt_settings.clock_skew_seconds;
            if (auto it = verified.claims.find("exp");
                it != verified.claims.end() && it->is_number()) {
              entry.not_after = it->get<double>() + skew;
            } else {
              entry.not_after = static_cast<double>(now) + 300;  // no exp: re-check every 5 min
            }
            if (auto it = verified.claims.find("nbf");
                it != verified.claims.end() && it->is_number()) {
              entry.not_before = it->get<double>() - skew;
            }
            verdicts->put(std::move(cache_key), std::move(entry));
          }
        }
        if (verified.failure == JwtFailure::kUnknownKey && jwt->remote) {
          jwt->remote->refresh();  // a rotated JWKS: fetch it (rate-limited) for next time
        }
        if (verified.failure == JwtFailure::kNone) {
          AuthResult result;
          result.outcome = AuthOutcome::kOk;
          const auto& claim = verified.claims.contains(policy.jwt_settings.consumer_claim)
                                  ? verified.claims[policy.jwt_settings.consumer_claim]
                                  : nlohmann::json();
          if (claim.is_string()) {
            result.consumer =
                consumers.byJwtSubject(policy.consumer_namespace, claim.get<std::string>());
          }
          result.jwt_claims = std::move(verified.claims);
          const bool restricted = !policy.allow_consumers.empty() || !policy.allow_groups.empty();
          if (restricted && (!result.consumer || !allowed(policy, *result.consumer))) {
            result.outcome = AuthOutcome::kForbidden;
          }
          return result;
        }
      }
    }
  }
  if (policy.api_key) {
    std::optional<std::string> key;
    if (auto value = header(policy.api_key_header)) {
      key = std::string(trim(*value));
    } else if (!policy.api_key_query_param.empty()) {
      key = queryParam(query, policy.api_key_query_param);
    }
    if (key) {
      presented = true;
      if (!key->empty()) consumer = consumers.byApiKey(policy.consumer_namespace, *key);
    }
  }
  if (!consumer && policy.basic) {
    if (auto value = header("authorization")) {
      std::string_view v = trim(*value);
      // The scheme name is case-insensitive (RFC 9110 §11.1).
      if (v.size() > 6 && strncasecmp(v.data(), "basic ", 6) == 0) {
        presented = true;
        std::string decoded;
        try {
          decoded = common::decodeBase64(trim(v.substr(6)));
        } catch (const std::exception&) {
          decoded.clear();
        }
        const auto colon = decoded.find(':');
        if (colon != std::string::npos) {
          const std::string_view user(decoded.data(), colon);
          const std::string_view password = std::string_view(decoded).substr(colon + 1);
          const config::Consumer* c = consumers.byUser(policy.consumer_namespace, user);
          // An unknown user costs a digest too, so timing tells little about which users exist.
          if (c && passwords.verify(c->basic_password, password)) {
            consumer = c;
          } else if (!c) {
            passwords.verify("sha256:", password);
          }
        }
      }
    }
  }
  AuthResult result;
  result.bad_token = bearer;
  if (!consumer) {
    result.outcome = presented ? AuthOutcome::kInvalid : AuthOutcome::kMissing;
    return result;
  }
  result.consumer = consumer;
  result.outcome = allowed(policy, *consumer) ? AuthOutcome::kOk : AuthOutcome::kForbidden;
  return result;
}

std::vector<std::string> challenges(const config::AuthPolicy& policy, bool bad_token) {
  std::vector<std::string> out;
  if (policy.jwt) {
    out.push_back(bad_token ? "Bearer realm=\"atrium\", error=\"invalid_token\""
                            : "Bearer realm=\"atrium\"");
  }
  if (policy.basic) out.push_back("Basic realm=\"" + policy.basic_realm + "\"");
  if (policy.api_key) out.push_back("APIKey header=\"" + policy.api_key_header + "\"");
  return out;
}

std::optional<std::string> queryParam(std::string_view query, std::string_view name) {
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(start, end - start);
    const size_t eq = pair.find('=');
    if (percentDecode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : percentDecode(pair.substr(eq + 1));
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::string withoutQueryParam(std::string_view query, std::string_view name) {
  std::string out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(start, end - start);
    if (percentDecode(pair.substr(0, pair.find('='))) != name && !pair.empty()) {
      if (!out.empty()) out.push_back('&');
      out.append(pair);
    }
    start = end + 1;
  }
  return out;
}

}  // namespace atrium::proxy::filters
