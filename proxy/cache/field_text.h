#pragma once
// The lexical pieces of HTTP field values (RFC 9110 §5.6) that the cache's parsers share:
// optional whitespace, ASCII case folding and delta-seconds. Header-only and allocation-free
// except where a lower-cased copy is asked for.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atrium::proxy::cache {

inline bool isOws(char c) { return c == ' ' || c == '\t'; }

inline std::string_view trimOws(std::string_view s) {
  while (!s.empty() && isOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isOws(s.back())) s.remove_suffix(1);
  return s;
}

inline char asciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiLower(c);
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (asciiLower(a[i]) != asciiLower(b[i])) return false;
  }
  return true;
}

// RFC 9111 §1.2.2: the largest delta-seconds a cache has to represent; larger values (and
// overflowing ones) are taken as this rather than wrapping into the past.
inline constexpr int64_t kMaxDeltaSeconds = 2'147'483'648;

// delta-seconds = 1*DIGIT, saturated at kMaxDeltaSeconds; nullopt for anything else ("", "-1",
// "1.5", "10s").
inline std::optional<int64_t> parseDeltaSeconds(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (value < kMaxDeltaSeconds) value = value * 10 + (c - '0');
  }
  return value < kMaxDeltaSeconds ? value : kMaxDeltaSeconds;
}

}  // namespace atrium::proxy::cache
