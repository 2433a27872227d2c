#include "proxy/cache/storability.h"

#include <algorithm>

namespace atrium::proxy::cache {

bool cacheableByDefault(int status) {
  switch (status) {
    case 200:
    case 203:
    case 204:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
      return true;
    default:
      return false;
  }
}

bool storable(const Exchange& exchange, const RequestDirectives& request,
              const ResponseDirectives& response, const config::CachePolicy& policy) {
  const bool respect = policy.respect_cache_control;
  if (exchange.request_method != "GET" ||
      std::find(policy.methods.begin(), policy.methods.end(), "GET") == policy.methods.end()) {
    return false;
  }
  const int status = exchange.status;
  if (status < 200 || status > 599 || status == 206 || status == 304) return false;

  // Never stored, whatever the route says: these protect the data, not the freshness.
  if (response.no_store || response.is_private) return false;
  if (exchange.response_has_set_cookie && !policy.cache_set_cookie) return false;

  if (respect && (request.no_store || response.no_cache)) return false;

  if (exchange.request_has_authorization && !exchange.key_includes_consumer) {
    const bool declared_shareable =
        respect && (response.is_public || response.s_maxage_s || response.must_revalidate);
    if (!declared_shareable) return false;
  }

  if (cacheableByDefault(status)) return true;
  // Any other final status needs the origin to have said how long it stays fresh (§3).
  return respect && (response.max_age_s || response.s_maxage_s || exchange.response_has_expires ||
                     response.is_public);
}

}  // namespace atrium::proxy::cache
