#pragma once
// CORS decisions (SPEC §3.2 policy.cors) for the request path: whether an Origin is allowed,
// the answer to a preflight, and the headers added to an actual response. Pure functions of
// the route's validated config::CorsPolicy and the request's headers: no I/O, no state, safe on
// any worker. The caller (proxy/server/session.cc) owns the wire:
//   - preflight().is_preflight && allowed  → answer 204 with `headers`, never forwarded upstream;
//   - preflight().is_preflight && !allowed → answer 403 JSON `forbidden` with `headers` (only
//     Vary): a plain, loggable refusal; the browser blocks the call either way, since no
//     Access-Control-Allow-* header is sent;
//   - otherwise (not a preflight, including an OPTIONS without Access-Control-Request-Method)
//     the request goes on as usual and actualResponseHeaders() is added to whatever answers it
//     (upstream, cache or local reply). Vary is appended to an upstream Vary, not replaced, and
//     Access-Control-* headers of the upstream are best replaced by these, since a second
//     Access-Control-Allow-Origin makes browsers refuse the response.
// Header values are built only from the validated policy and a request Origin that passed
// isSafeOrigin(), so nothing a client sends can put CR/LF into a response header.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/config/snapshot.h"

namespace atrium::proxy::filters {

using CorsHeaders = std::vector<std::pair<std::string, std::string>>;

// The Origin header is echoed only when it is visible ASCII without spaces (no CR, LF, NUL or
// other control character) and at most 1024 bytes.
bool isSafeOrigin(std::string_view origin);

// `origin` (the request's Origin header) is allowed by `policy`: "*" matches every origin but
// "null"; an exact entry matches case-insensitively on scheme and host, with an explicit
// default port (":443" for https, ":80" for http) equal to none; "https://*.example.com"
// matches any deeper host of the same scheme and port ("https://a.example.com",
// "https://a.b.example.com") but not "https://example.com" nor "https://evil-example.com".
// "null" (sandboxed frames, file: pages) is allowed only when listed literally (which the
// translator refuses: any page can claim it). Unsafe or malformed origins never match.
bool originAllowed(const config::CorsPolicy& policy, std::string_view origin);

struct CorsPreflight {
  bool is_preflight = false;  // OPTIONS with Origin and Access-Control-Request-Method
  bool allowed = false;       // the origin, the method and every requested header are allowed
  CorsHeaders headers;        // the response's headers (only Vary when !allowed)
};

// A preflight is allowed when the origin is allowed, `request_method` is a simple method (GET,
// HEAD, POST) or in allow_methods ("*": any; empty: GET, HEAD, POST), and every name of
// `request_headers` is in allow_headers (case-insensitive; "*" or empty: whatever is asked,
// echoed back). Allowed, the headers are Access-Control-Allow-Origin (the origin itself, or
// "*" when the policy allows any origin), -Allow-Methods, -Allow-Headers (when any),
// -Allow-Credentials: true (when set), -Max-Age (when above 0) and Vary: Origin,
// Access-Control-Request-Method, Access-Control-Request-Headers. Not a preflight: nothing.
CorsPreflight preflight(const config::CorsPolicy& policy, std::string_view method,
                        std::optional<std::string_view> origin,
                        std::optional<std::string_view> request_method,
                        std::optional<std::string_view> request_headers);

// The headers added to an actual (non-preflight) response. With an allowed origin:
// Access-Control-Allow-Origin, -Allow-Credentials (when set), -Expose-Headers (when any).
// Always Vary: Origin, also without an Origin or with a refused one, so that a cache never
// hands a response made for one origin (or none) to another.
CorsHeaders actualResponseHeaders(const config::CorsPolicy& policy,
                                  std::optional<std::string_view> origin);

}  // namespace atrium::proxy::filters
