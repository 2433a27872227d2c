#pragma once
// One stored response. Immutable once inserted and shared as shared_ptr<const CachedResponse>,
// so a worker can keep serving an entry that another worker has just replaced, purged or
// evicted: the bytes live until the last reader lets go.
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace atrium::proxy::cache {

using SteadyTime = std::chrono::steady_clock::time_point;
using SystemTime = std::chrono::system_clock::time_point;

// What a lookup found, for this request: Fresh may be served as is; Stale exists but may not
// be served without going upstream (it may still stand in when the upstream fails, see
// usableOnErrorAt); None is nothing at all.
enum class Freshness { Fresh, Stale, None };

struct CachedResponse {
  int status = 200;
  std::string reason;
  // As received, hop-by-hop fields already removed by the caller, Date included. The serving
  // side replaces Age with currentAgeMs().
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  SteadyTime stored_at;             // for ages and deadlines: immune to wall-clock steps
  SystemTime stored_at_system;      // the Date to send when the response carried none
  int64_t initial_age_ms = 0;       // the Age the response arrived with (RFC 9111 §4.2.3)
  SteadyTime fresh_until;           // fresh while now < fresh_until
  SteadyTime stale_if_error_until;  // may stand in for a failed upstream while now < this
  bool must_revalidate = false;     // a client's max-stale cannot have it stale (RFC 9111 §4.2.4)

  std::vector<std::string> vary;  // the response's Vary names: lower-case, sorted, unique
  std::string etag;               // for conditional requests; "" when none
  std::string last_modified;      // as sent; "" when none

  std::string route_scope;  // the route's cache scope, for purges
  std::string path;         // the request path without query, for purges by prefix

  // RFC 9111 §4.2.3, simplified for a cache that is the response's first hop after the origin:
  // the Age it arrived with plus the time it has been stored.
  int64_t currentAgeMs(SteadyTime now) const {
    const auto resident =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - stored_at).count();
    return initial_age_ms + (resident > 0 ? resident : 0);
  }
  bool freshAt(SteadyTime now) const { return now < fresh_until; }
  bool usableOnErrorAt(SteadyTime now) const { return now < stale_if_error_until; }
};

// What an entry costs in memory, for the cache's byte bound: every string's bytes (allocation
// granularity ignored) plus the fixed parts and a per-header allowance.
inline size_t approximateBytes(const CachedResponse& r) {
  size_t bytes = sizeof(CachedResponse) + r.reason.size() + r.body.size() + r.etag.size() +
                 r.last_modified.size() + r.route_scope.size() + r.path.size();
  for (const auto& [name, value] : r.headers) {
    bytes += sizeof(std::pair<std::string, std::string>) + name.size() + value.size();
  }
  for (const auto& name : r.vary) bytes += sizeof(std::string) + name.size();
  return bytes;
}

}  // namespace atrium::proxy::cache
