#pragma once
// X-Request-Id and W3C traceparent handling (SPEC §4).
#include <string>
#include <string_view>

namespace atrium::proxy::http {

// A random UUIDv4 from a per-thread generator (no lock, no syscall per request).
std::string newRequestId();

// A client-sent id is kept when it is 1–128 visible ASCII characters without spaces or quotes;
// anything else (empty, too long, control bytes) is replaced so logs cannot be forged.
bool isAcceptableRequestId(std::string_view id);

// Given the client's traceparent (may be empty/invalid), returns the value to send upstream:
// the same trace id and flags with a new parent span id, or a new trace when absent/invalid.
std::string nextTraceparent(std::string_view incoming);

}  // namespace atrium::proxy::http
