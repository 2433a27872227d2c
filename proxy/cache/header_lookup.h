#pragma once
// How the cache reads a request's headers without knowing the message type (Beast fields, a
// pmr arena, a test map).
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace atrium::proxy::cache {

// The value of the request header `lower_name` (asked lower-case), or nullopt when the request
// has none. A header sent on several lines is answered as the lines' values joined with ", "
// (RFC 9110 §5.3), so that both spellings key alike. Called on the caller's thread, only during
// the call that received it; it must not call back into the cache.
using HeaderLookup = std::function<std::optional<std::string>(std::string_view lower_name)>;

}  // namespace atrium::proxy::cache
