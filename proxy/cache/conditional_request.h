#pragma once
// Answering a client's conditional GET/HEAD from a stored entry (RFC 9110 §13): whether the
// client's copy is current, so the cache can answer 304 without a body.
#include <optional>
#include <string_view>

namespace atrium::proxy::cache {

// If-None-Match (every line joined with ", ") takes precedence: true when any listed entity-tag
// matches `etag` by weak comparison (W/"x" matches "x"), or the list is "*" (the cache has a
// current representation). Only without If-None-Match is If-Modified-Since used: true when
// `last_modified` is a valid date no later than it. An invalid date, or an entry without
// Last-Modified, never matches. `etag` and `last_modified` are "" when the entry has none.
bool notModified(std::optional<std::string_view> if_none_match,
                 std::optional<std::string_view> if_modified_since, std::string_view etag,
                 std::string_view last_modified);

// The opaque part of an entity-tag (`W/"x"` and `"x"` both give `"x"`); nullopt when `tag` is
// not one.
std::optional<std::string_view> opaqueTag(std::string_view tag);

}  // namespace atrium::proxy::cache
