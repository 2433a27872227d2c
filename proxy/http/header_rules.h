#pragma once
// How headers and targets change between client and upstream (SPEC §4 and Gateway API filter
// semantics). Kept apart from the session so each rule can be unit-tested on plain messages.
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <memory_resource>
#include <string>
#include <string_view>

#include "proxy/http/path_normalizer.h"
#include "src/config/snapshot.h"

namespace re2 {
class RE2;
}

namespace atrium::proxy::http {

// Header fields allocated from a per-request arena (std::pmr), as the proxy's sessions use. The
// field functions below are instantiated for it and for Beast's default `fields`.
using PmrFields = boost::beast::http::basic_fields<std::pmr::polymorphic_allocator<char>>;

// True for a Transfer-Encoding value that is exactly "chunked" (any case, optional spaces).
// Anything else ("gzip, chunked", "identity", "chunked, chunked") is refused: proxies that
// disagree about such values are how requests get smuggled.
bool isPlainChunked(std::string_view value);

// "Thu, 26 Nov 2026 18:00:00 GMT", formatted at most once per second per thread.
std::string_view httpDate();

// Removes hop-by-hop headers (RFC 9110 §7.6.1): Connection and every header it lists,
// Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade, Proxy-Authorization.
template <class Fields>
void removeHopByHop(Fields& fields);

// Client request → upstream request: hop-by-hop removed, client-sent X-Consumer-* removed (only
// the gateway may assert an identity), X-Forwarded-For appended, X-Forwarded-Proto/Host/Port,
// X-Request-Id and a W3C traceparent with a new span id set.
template <class Fields>
void prepareUpstreamRequest(Fields& fields, std::string_view original_host,
                            std::string_view client_ip, uint16_t listener_port,
                            std::string_view request_id, std::string_view scheme = "http");

// Upstream response → client response: hop-by-hop removed, Server: atrium, a Date if the
// upstream sent none, X-Request-Id echoed.
template <class Fields>
void prepareDownstreamResponse(Fields& fields, std::string_view request_id);

// Gateway API header filter: `set` replaces, `add` appends to an existing value (comma), then
// `remove` deletes.
template <class Fields>
void applyHeaderModifier(Fields& fields, const config::HeaderModifier& mod);

// A response the gateway makes itself (an aggregate bundle) gets the route's responseHeaders
// `set` and `add` entries as complete header lines, each ending in CRLF; names and values were
// validated when loaded.
std::string modifierHeaderLines(const config::HeaderModifier& mod);

// Removes "Expect: 100-continue" and says whether it was there.
template <class Fields>
bool takeExpectContinue(Fields& fields);

// The path to send upstream after the route's rewrite (regex, full path or matched prefix).
std::string rewritePath(const config::Route& route, const re2::RE2* rewrite_regex,
                        const config::RouteMatch& match, const std::string& path);

// A value that may be sent as a header value: no control characters (CR, LF, NUL...) and not
// longer than 8 KiB. Used for values that come from tokens, not from validated configuration.
bool isSafeHeaderValue(std::string_view value);

// "example.com" for "example.com:8080", "[::1]" for "[::1]:8080".
std::string hostWithoutPort(std::string_view host);

// The Location of a redirect rule for this request.
std::string redirectLocation(const config::Redirect& redirect, const config::RouteMatch& match,
                             const NormalizedTarget& target, std::string_view request_host,
                             std::string_view request_scheme, uint16_t listener_port);

}  // namespace atrium::proxy::http
