#pragma once
// Request-target normalisation, applied before routing and forwarding so that a route's path
// rules cannot be bypassed by an equivalent spelling (SPEC §4):
//   - percent-encoded unreserved characters are decoded ("%7Euser" → "~user", "%2e" → ".");
//     other escapes are kept, with upper-case hex;
//   - dot-segments are removed ("/a/./b/../c" → "/a/c") and "//" merged;
//   - "%2F" (an encoded slash would let "/admin%2Fx" dodge a "/admin" rule), "%00", malformed
//     escapes, and paths whose ".." climbs above the root are rejected.
#include <string>
#include <string_view>

namespace atrium::proxy::http {

enum class PathError {
  kNone,
  kNotOriginForm,   // neither "/..." nor "http(s)://host/..."
  kBadEscape,       // "%" not followed by two hex digits
  kEncodedSlash,    // %2F
  kNullByte,        // %00
  kEscapesRoot,     // "/../x"
  kBadCharacter,    // '#', '\\' or a control/space byte
};

const char* describe(PathError error);

struct NormalizedTarget {
  std::string path;        // normalised, always starts with '/'
  std::string_view query;  // raw query (without '?'), a view into the input target
};

// Normalises `target` (the request-target as received). Returns kNone on success.
PathError normalizeTarget(std::string_view target, NormalizedTarget& out);

}  // namespace atrium::proxy::http
