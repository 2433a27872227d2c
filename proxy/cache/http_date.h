#pragma once
// HTTP-date (RFC 9110 §5.6.7) as Expires, Date, Last-Modified and If-Modified-Since carry it.
// Recipients must accept all three historical formats; anything else is "invalid", which each
// caller interprets (an invalid Expires means "already expired", RFC 9111 §5.3).
#include <chrono>
#include <optional>
#include <string_view>

namespace atrium::proxy::cache {

// Accepts IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT",
//         RFC 850      "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years: 70-99 → 19xx,
//                      00-69 → 20xx, a fixed pivot so that parsing needs no clock),
//         asctime      "Sun Nov  6 08:49:37 1994".
// The day name must be a real one but is not checked against the date, as RFC 9110 lets
// recipients do. Leading and trailing whitespace is ignored.
std::optional<std::chrono::sys_seconds> parseHttpDate(std::string_view text);

}  // namespace atrium::proxy::cache
