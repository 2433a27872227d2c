#pragma once
// Cache-Control (RFC 9111 §5.2) parsed into the directives a shared cache acts on. Parsing is
// lenient the way deployed caches are: names are case-insensitive, values may be tokens or
// quoted strings, spacing is optional, unknown directives are skipped, and a header sent on
// several lines is one comma list. What the directives *mean* for storing and serving lives in
// storability.h and freshness.h.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace atrium::proxy::cache {

// Request directives (RFC 9111 §5.2.1). Durations are in seconds, as sent.
struct RequestDirectives {
  bool no_store = false;
  bool no_cache = false;  // also "Pragma: no-cache" when the request has no Cache-Control
  std::optional<int64_t> max_age_s;
  std::optional<int64_t> max_stale_s;  // "max-stale" without a value: kMaxDeltaSeconds (any)
  std::optional<int64_t> min_fresh_s;
  bool only_if_cached = false;
  bool operator==(const RequestDirectives&) const = default;
};

// Response directives (RFC 9111 §5.2.2, RFC 5861). Durations are in seconds, as sent.
struct ResponseDirectives {
  bool no_store = false;
  bool no_cache = false;    // with or without a field list: the whole response
  bool is_private = false;  // with or without a field list: the whole response
  bool is_public = false;
  std::optional<int64_t> max_age_s;
  std::optional<int64_t> s_maxage_s;
  bool must_revalidate = false;
  bool proxy_revalidate = false;
  std::optional<int64_t> stale_if_error_s;
  std::optional<int64_t> stale_while_revalidate_s;  // parsed; the cache does not revalidate
  bool operator==(const ResponseDirectives&) const = default;
};

// `cache_control` holds every Cache-Control line of the request, `pragma` every Pragma line.
// A directive repeated with different values keeps its first value; invalid values are ignored
// (a client cannot loosen anything that way).
RequestDirectives parseRequestDirectives(std::span<const std::string_view> cache_control,
                                         std::span<const std::string_view> pragma = {});

// `cache_control` holds every Cache-Control line of the response. A shared cache must not be
// talked into keeping something longer than meant, so a max-age or s-maxage that is invalid
// ("max-age=soon") or repeated with different values makes the response stale (0), as RFC 9111
// §4.2.1 allows.
ResponseDirectives parseResponseDirectives(std::span<const std::string_view> cache_control);

// One-line conveniences.
RequestDirectives parseRequestDirectives(std::string_view cache_control);
ResponseDirectives parseResponseDirectives(std::string_view cache_control);

}  // namespace atrium::proxy::cache
