#pragma once
// Cache keys (SPEC §5.4). A key is an encoding of every request property the stored response
// may depend on; two requests share an entry only if they agree on all of them. Each field is
// length-prefixed ("<bytes>:<field>"), so no choice of host, path, query or header values can
// make two different requests encode alike by concatenation.
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/cache/header_lookup.h"
#include "src/config/snapshot.h"

namespace atrium::proxy::cache {

// The primary key: the route's cache scope (its metrics name, so routes never share entries and
// a route can be purged), the method (HEAD keys as GET: it is answered from the GET entry), the
// host (lower-cased here; the port is kept), the path as routed, the query, the values of the
// policy's `vary` request headers (absent and empty are different) and the consumer ("" when
// there is none or the route shares entries across consumers).
//
// Query: with `key_whole_query` every parameter, ordered by name so that `a=1&b=2` and
// `b=2&a=1` share an entry; parameters with the same name keep their order (`a=1&a=2` is not
// `a=2&a=1` to most applications). Otherwise only the parameters named in `key_query_params`.
// Parameters keep their raw percent-encoding in the key, but are ordered and selected by their
// decoded names: `?%71=x` is `q=x` to the application, and ignoring it would let one client
// store a response for `q=x` under the key of a request without `q` (cache poisoning by
// parameter cloaking). For the same reason a parameter whose value hides a `;`-separated
// selected name (`utm=1;q=x`, split at `;` by some frameworks) is kept whole.
std::string buildCacheKey(const config::CachePolicy& policy, std::string_view route_cache_scope,
                          std::string_view method, std::string_view host, std::string_view path,
                          std::string_view raw_query, const HeaderLookup& request_headers,
                          std::string_view consumer);

// The names of a response's Vary header lines (RFC 9110 §12.5.5): lower-cased, sorted, without
// duplicates. nullopt for "Vary: *" (the response varies on something no request header shows,
// so it is never stored).
std::optional<std::vector<std::string>> parseVaryHeader(std::span<const std::string_view> lines);

// The secondary key of a response that varies on request headers: their names and this
// request's values (absent and empty differ). nullopt when the names contain "*". Names are
// compared case-insensitively and in any order.
std::optional<std::string> varyKey(const std::vector<std::string>& vary_header_names,
                                   const HeaderLookup& request_headers);

}  // namespace atrium::proxy::cache
