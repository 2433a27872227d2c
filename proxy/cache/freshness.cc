#include "proxy/cache/freshness.h"

#include <algorithm>

#include "proxy/cache/field_text.h"
#include "proxy/cache/http_date.h"

namespace atrium::proxy::cache {
namespace {

constexpr int64_t kMaxDeltaMs = kMaxDeltaSeconds * 1000;

int64_t secondsToMs(int64_t s) { return std::clamp<int64_t>(s, 0, kMaxDeltaSeconds) * 1000; }

int64_t clampMs(int64_t ms) { return std::clamp<int64_t>(ms, 0, kMaxDeltaMs); }

}  // namespace

int64_t freshnessLifetimeMs(const ResponseDirectives& response,
                            std::optional<std::string_view> expires,
                            std::optional<std::string_view> date, SystemTime received_at,
                            const config::CachePolicy& policy) {
  if (!policy.respect_cache_control) return policy.ttl_ms;
  if (response.s_maxage_s) return secondsToMs(*response.s_maxage_s);
  if (response.max_age_s) return secondsToMs(*response.max_age_s);
  if (expires) {
    const auto expires_at = parseHttpDate(*expires);
    if (!expires_at) return 0;
    std::optional<std::chrono::sys_seconds> date_at = date ? parseHttpDate(*date) : std::nullopt;
    const SystemTime origin_now = date_at ? SystemTime(*date_at) : received_at;
    return clampMs(
        std::chrono::duration_cast<std::chrono::milliseconds>(*expires_at - origin_now).count());
  }
  return policy.ttl_ms;
}

int64_t staleIfErrorMs(const ResponseDirectives& response, const config::CachePolicy& policy) {
  if (!policy.respect_cache_control) return policy.stale_if_error_ms;
  if (mustRevalidate(response, policy) || response.no_cache) return 0;
  if (response.stale_if_error_s) return secondsToMs(*response.stale_if_error_s);
  return policy.stale_if_error_ms;
}

bool mustRevalidate(const ResponseDirectives& response, const config::CachePolicy& policy) {
  return policy.respect_cache_control &&
         (response.must_revalidate || response.proxy_revalidate || response.s_maxage_s);
}

int64_t initialAgeMs(std::optional<std::string_view> age_header) {
  if (!age_header) return 0;
  return secondsToMs(parseDeltaSeconds(trimOws(*age_header)).value_or(0));
}

int64_t ageSeconds(const CachedResponse& entry, SteadyTime now) {
  return entry.currentAgeMs(now) / 1000;
}

EntryTimes entryTimes(SteadyTime stored_at, int64_t lifetime_ms, int64_t initial_age_ms,
                      int64_t stale_if_error_ms) {
  using std::chrono::milliseconds;
  const int64_t fresh_ms = std::max<int64_t>(0, clampMs(lifetime_ms) - clampMs(initial_age_ms));
  EntryTimes t;
  t.fresh_until = stored_at + milliseconds(fresh_ms);
  t.stale_if_error_until = t.fresh_until + milliseconds(clampMs(stale_if_error_ms));
  return t;
}

Freshness freshnessFor(const CachedResponse& entry, const RequestDirectives& request,
                       SteadyTime now) {
  if (request.no_cache) return Freshness::Stale;
  const int64_t age_ms = entry.currentAgeMs(now);
  if (request.max_age_s && age_ms > secondsToMs(*request.max_age_s)) return Freshness::Stale;
  using std::chrono::milliseconds;
  if (now < entry.fresh_until) {
    if (request.min_fresh_s &&
        entry.fresh_until - now < milliseconds(secondsToMs(*request.min_fresh_s))) {
      return Freshness::Stale;
    }
    return Freshness::Fresh;
  }
  // A stale entry is never "fresh for at least min-fresh more", whatever max-stale allows.
  if (request.max_stale_s && !request.min_fresh_s && !entry.must_revalidate &&
      now - entry.fresh_until <= milliseconds(secondsToMs(*request.max_stale_s))) {
    return Freshness::Fresh;
  }
  return Freshness::Stale;
}

}  // namespace atrium::proxy::cache
