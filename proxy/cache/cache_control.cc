#include "proxy/cache/cache_control.h"

#include <string>

#include "proxy/cache/field_text.h"

namespace atrium::proxy::cache {
namespace {

// One directive of a comma list: a lower-cased name and, when "=" follows, its value with the
// quotes and backslash escapes of a quoted-string removed.
struct Directive {
  std::string name;
  std::optional<std::string> value;
};

bool isDelimiter(char c) { return c == ',' || c == '=' || isOws(c); }

// Calls `on(directive)` for each directive of one line. Junk after a directive's value (an
// unterminated quote, stray characters) is skipped up to the next comma, so one bad directive
// never hides the ones after it.
template <class On>
void forEachDirective(std::string_view line, On&& on) {
  size_t i = 0;
  const size_t n = line.size();
  while (i < n) {
    while (i < n && (line[i] == ',' || isOws(line[i]))) ++i;
    if (i >= n) break;
    Directive d;
    const size_t name_start = i;
    while (i < n && !isDelimiter(line[i]) && line[i] != '"') ++i;
    d.name = asciiLower(line.substr(name_start, i - name_start));
    while (i < n && isOws(line[i])) ++i;
    if (i < n && line[i] == '=') {
      ++i;
      while (i < n && isOws(line[i])) ++i;
      std::string value;
      if (i < n && line[i] == '"') {
        ++i;
        while (i < n && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < n) ++i;
          value += line[i++];
        }
        if (i < n) ++i;  // the closing quote
      } else {
        const size_t start = i;
        while (i < n && line[i] != ',' && !isOws(line[i])) ++i;
        value.assign(line.substr(start, i - start));
      }
      d.value = std::move(value);
    }
    while (i < n && line[i] != ',') ++i;
    if (!d.name.empty()) on(d);
  }
}

template <class On>
void forEachDirective(std::span<const std::string_view> lines, On&& on) {
  for (std::string_view line : lines) forEachDirective(line, on);
}

std::optional<int64_t> deltaOf(const Directive& d) {
  return d.value ? parseDeltaSeconds(trimOws(*d.value)) : std::nullopt;
}

// Request side: the first valid occurrence wins.
void setFirst(std::optional<int64_t>& field, std::optional<int64_t> value) {
  if (!field && value) field = value;
}

// Response side, for freshness: invalid or conflicting values mean "stale".
void setStrict(std::optional<int64_t>& field, std::optional<int64_t> value) {
  const int64_t v = value.value_or(0);
  field = (field && *field != v) ? 0 : v;
}

}  // namespace

RequestDirectives parseRequestDirectives(std::span<const std::string_view> cache_control,
                                         std::span<const std::string_view> pragma) {
  RequestDirectives out;
  forEachDirective(cache_control, [&](const Directive& d) {
    if (d.name == "no-store") {
      out.no_store = true;
    } else if (d.name == "no-cache") {
      out.no_cache = true;
    } else if (d.name == "max-age") {
      setFirst(out.max_age_s, deltaOf(d));
    } else if (d.name == "max-stale") {
      setFirst(out.max_stale_s, d.value ? deltaOf(d) : kMaxDeltaSeconds);
    } else if (d.name == "min-fresh") {
      setFirst(out.min_fresh_s, deltaOf(d));
    } else if (d.name == "only-if-cached") {
      out.only_if_cached = true;
    }
  });
  // RFC 9111 §5.4: Pragma is only the HTTP/1.0 spelling, ignored when Cache-Control is present.
  bool has_cache_control = false;
  for (std::string_view line : cache_control) has_cache_control |= !trimOws(line).empty();
  if (!has_cache_control) {
    forEachDirective(pragma, [&](const Directive& d) {
      if (d.name == "no-cache") out.no_cache = true;
    });
  }
  return out;
}

ResponseDirectives parseResponseDirectives(std::span<const std::string_view> cache_control) {
  ResponseDirectives out;
  forEachDirective(cache_control, [&](const Directive& d) {
    if (d.name == "no-store") {
      out.no_store = true;
    } else if (d.name == "no-cache") {
      out.no_cache = true;
    } else if (d.name == "private") {
      out.is_private = true;
    } else if (d.name == "public") {
      out.is_public = true;
    } else if (d.name == "max-age") {
      setStrict(out.max_age_s, deltaOf(d));
    } else if (d.name == "s-maxage") {
      setStrict(out.s_maxage_s, deltaOf(d));
    } else if (d.name == "must-revalidate") {
      out.must_revalidate = true;
    } else if (d.name == "proxy-revalidate") {
      out.proxy_revalidate = true;
    } else if (d.name == "stale-if-error") {
      setFirst(out.stale_if_error_s, deltaOf(d));
    } else if (d.name == "stale-while-revalidate") {
      setFirst(out.stale_while_revalidate_s, deltaOf(d));
    }
  });
  return out;
}

RequestDirectives parseRequestDirectives(std::string_view cache_control) {
  return parseRequestDirectives(std::span<const std::string_view>(&cache_control, 1));
}

ResponseDirectives parseResponseDirectives(std::string_view cache_control) {
  return parseResponseDirectives(std::span<const std::string_view>(&cache_control, 1));
}

}  // namespace atrium::proxy::cache
