#include "proxy/cache/cache_key.h"

#include <algorithm>

#include "proxy/cache/field_text.h"
#include "proxy/http/query_pairs.h"

namespace atrium::proxy::cache {
namespace {

void appendField(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

void appendCount(std::string& out, size_t n) { appendField(out, std::to_string(n)); }

// "-" for an absent header, "+" and the value for a present one (even empty).
void appendHeader(std::string& out, std::string_view name,
                  const std::optional<std::string>& value) {
  appendField(out, name);
  if (!value) {
    out += '-';
    return;
  }
  out += '+';
  appendField(out, trimOws(*value));
}

std::string_view rawName(std::string_view piece) { return piece.substr(0, piece.find('=')); }

struct Param {
  std::string_view raw;  // "name=value" exactly as received
  std::string name;      // decoded
};

// Splits at "&" only: empty pieces are kept, so that the key never merges two queries some
// application might read differently.
std::vector<Param> splitQuery(std::string_view query) {
  std::vector<Param> params;
  if (query.empty()) return params;
  size_t start = 0;
  while (true) {
    const size_t amp = query.find('&', start);
    const std::string_view piece =
        query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    params.push_back({piece, http::percentDecode(rawName(piece))});
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return params;
}

bool namedIn(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// True when the parameter, or any ";"-separated part of it, has a selected name.
bool selected(const Param& p, const std::vector<std::string>& names) {
  if (namedIn(names, p.name)) return true;
  if (p.raw.find(';') == std::string_view::npos) return false;
  size_t start = 0;
  while (start <= p.raw.size()) {
    const size_t semi = p.raw.find(';', start);
    const std::string_view part =
        p.raw.substr(start, semi == std::string_view::npos ? std::string_view::npos : semi - start);
    if (namedIn(names, http::percentDecode(rawName(part)))) return true;
    if (semi == std::string_view::npos) break;
    start = semi + 1;
  }
  return false;
}

}  // namespace

std::string buildCacheKey(const config::CachePolicy& policy, std::string_view route_cache_scope,
                          std::string_view method, std::string_view host, std::string_view path,
                          std::string_view raw_query, const HeaderLookup& request_headers,
                          std::string_view consumer) {
  std::string key;
  key.reserve(64 + route_cache_scope.size() + host.size() + path.size() + raw_query.size() +
              consumer.size());
  appendField(key, route_cache_scope);
  appendField(key, method == "HEAD" ? std::string_view("GET") : method);
  appendField(key, asciiLower(host));
  appendField(key, path);

  std::vector<Param> params = splitQuery(raw_query);
  if (!policy.key_whole_query) {
    std::erase_if(params, [&](const Param& p) { return !selected(p, policy.key_query_params); });
  }
  std::stable_sort(params.begin(), params.end(),
                   [](const Param& a, const Param& b) { return a.name < b.name; });
  key += policy.key_whole_query ? 'Q' : 'S';
  appendCount(key, params.size());
  for (const Param& p : params) appendField(key, p.raw);

  key += 'H';
  appendCount(key, policy.vary.size());
  for (const std::string& name : policy.vary) {
    const std::string lower = asciiLower(name);
    appendHeader(key, lower, request_headers ? request_headers(lower) : std::nullopt);
  }

  appendField(key, consumer);
  return key;
}

std::optional<std::vector<std::string>> parseVaryHeader(std::span<const std::string_view> lines) {
  std::vector<std::string> names;
  for (std::string_view line : lines) {
    size_t start = 0;
    while (start <= line.size()) {
      const size_t comma = line.find(',', start);
      const std::string_view name = trimOws(line.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      if (name == "*") return std::nullopt;
      if (!name.empty()) names.push_back(asciiLower(name));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::optional<std::string> varyKey(const std::vector<std::string>& vary_header_names,
                                   const HeaderLookup& request_headers) {
  std::vector<std::string> names;
  names.reserve(vary_header_names.size());
  for (const std::string& name : vary_header_names) {
    if (trimOws(name) == "*") return std::nullopt;
    names.push_back(asciiLower(trimOws(name)));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  std::string key;
  appendCount(key, names.size());
  for (const std::string& name : names) {
    appendHeader(key, name, request_headers ? request_headers(name) : std::nullopt);
  }
  return key;
}

}  // namespace atrium::proxy::cache
