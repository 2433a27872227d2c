#pragma once
// Whether a response may be stored by this shared cache (RFC 9111 §3, SPEC §5.4).
//
// With the route's `respect_cache_control` (the default) the request's and response's
// directives decide, with these deliberate narrowings of what RFC 9111 permits:
// - only responses to GET are stored: HEAD shares the GET key but has no body, and other
//   methods' responses depend on a request body the key does not see;
// - 206 (the key has no Range) and 304 (not a full response) are never stored;
// - a response with no-cache is not stored: this cache does not revalidate, so it could never
//   be served.
// With `respect_cache_control: false` the operator has said that the route's ttl decides:
// request directives are ignored (a client cannot bust the cache with `no-cache`), and so are
// response directives that would keep or loosen freshness (max-age, s-maxage, Expires,
// no-cache, public). Directives that protect data are still obeyed: a `private` or `no-store`
// response is never stored, because a shared entry would hand one user's response to another.
// Only the statuses that are cacheable by default are stored then.
#include <string_view>

#include "proxy/cache/cache_control.h"
#include "src/config/snapshot.h"

namespace atrium::proxy::cache {

// What storable() needs to know about one exchange besides the directives.
struct Exchange {
  int status = 0;
  std::string_view request_method;  // upper-case
  // The request as sent upstream carried Authorization: the response may be personal. It is
  // stored only if entries are keyed per consumer, or the response declares itself shareable
  // (public, s-maxage or must-revalidate: RFC 9111 §3.5).
  bool request_has_authorization = false;
  bool key_includes_consumer = false;
  bool response_has_set_cookie = false;  // stored only with the policy's cache_set_cookie
  bool response_has_expires = false;     // an Expires line, valid or not: explicit freshness
};

// The statuses RFC 9110 §15.1 makes cacheable by default (206 excluded, see above).
bool cacheableByDefault(int status);

bool storable(const Exchange& exchange, const RequestDirectives& request,
              const ResponseDirectives& response, const config::CachePolicy& policy);

}  // namespace atrium::proxy::cache
