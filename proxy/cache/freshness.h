#pragma once
// How long a stored response stays fresh, how long it may stand in for a failed upstream, and
// whether a request accepts it (RFC 9111 §4.2, RFC 5861). Every function takes "now" from the
// caller: nothing here reads a clock.
#include <cstdint>
#include <optional>
#include <string_view>

#include "proxy/cache/cache_control.h"
#include "proxy/cache/cached_response.h"
#include "src/config/snapshot.h"

namespace atrium::proxy::cache {

// Freshness lifetime in milliseconds, first of: s-maxage (a shared cache's own), max-age,
// Expires − Date, the route's ttl. A missing or invalid Date is the time the response was
// received (RFC 9110 §6.6.1); an invalid Expires ("0", "-1") means already expired. With
// `respect_cache_control: false` the route's ttl is the lifetime, whatever the response says.
int64_t freshnessLifetimeMs(const ResponseDirectives& response,
                            std::optional<std::string_view> expires,
                            std::optional<std::string_view> date, SystemTime received_at,
                            const config::CachePolicy& policy);

// How long past its freshness an entry may answer when the upstream fails. The response's own
// stale-if-error wins over the route's staleIfError; must-revalidate, proxy-revalidate and
// s-maxage (which implies proxy-revalidate for a shared cache, §5.2.2.10) forbid serving stale
// at all (§4.2.4). With `respect_cache_control: false`, the route's staleIfError.
int64_t staleIfErrorMs(const ResponseDirectives& response, const config::CachePolicy& policy);

// Whether a client's max-stale may have this response stale (not with the directives above).
bool mustRevalidate(const ResponseDirectives& response, const config::CachePolicy& policy);

// The Age header the response arrived with, in milliseconds; missing or invalid: 0.
int64_t initialAgeMs(std::optional<std::string_view> age_header);

// The Age header to send: whole seconds, rounded down (RFC 9111 §5.1).
int64_t ageSeconds(const CachedResponse& entry, SteadyTime now);

struct EntryTimes {
  SteadyTime fresh_until;
  SteadyTime stale_if_error_until;
};

// Deadlines of an entry stored at `stored_at`: it is fresh while its current age (initial age
// plus time stored) is below the lifetime, then usable on error for `stale_if_error_ms` more.
EntryTimes entryTimes(SteadyTime stored_at, int64_t lifetime_ms, int64_t initial_age_ms,
                      int64_t stale_if_error_ms);

// Whether this request may be answered by `entry` now (RFC 9111 §4.2, §5.2.1): Fresh when it is
// fresh and meets the request's max-age and min-fresh, or is stale within the request's
// max-stale (unless the entry must be revalidated); Stale otherwise, and always with request
// no-cache. Callers pass default directives for routes that ignore request Cache-Control.
Freshness freshnessFor(const CachedResponse& entry, const RequestDirectives& request,
                       SteadyTime now);

}  // namespace atrium::proxy::cache
