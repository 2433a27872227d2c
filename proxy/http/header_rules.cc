#include "proxy/http/header_rules.h"

#include <re2/re2.h>

#include <boost/beast/core/string.hpp>
#include <ctime>
#include <vector>

#include "proxy/http/request_id.h"

namespace atrium::proxy::http {

namespace bhttp = boost::beast::http;

namespace {

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Replaces the matched prefix of `path` with `replacement`, keeping segment boundaries:
// "/foo" → "/xyz" turns "/foo/bar" into "/xyz/bar"; "/foo" → "/" turns it into "/bar".
std::string replacePrefix(const std::string& path, std::string_view prefix,
                          const std::string& replacement) {
  // Prefixes compare element-wise, so "/foo/" matched "/foo" too: the matched part of the path
  // is the prefix without its trailing slashes.
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  std::string rest = path.substr(std::min(prefix.size(), path.size()));
  std::string out = replacement;
  if (!out.empty() && out.back() == '/' && !rest.empty() && rest.front() == '/') out.pop_back();
  out += rest;
  if (out.empty() || out.front() != '/') out.insert(out.begin(), '/');
  return out;
}

}  // namespace

bool isPlainChunked(std::string_view value) {
  return boost::beast::iequals(trim(value), "chunked");
}

std::string_view httpDate() {
  thread_local std::time_t cached_second = 0;
  thread_local char buf[40];
  thread_local size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm;
    gmtime_r(&now, &tm);
    len = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return {buf, len};
}

template <class Fields>
void removeHopByHop(Fields& fields) {
  // Headers named in Connection are hop-by-hop too ("Connection: close, X-Secret"), in every
  // Connection line. Framing and Host are never removed that way: the body is relayed with the
  // framing it arrived with, and a next hop that lost Content-Length or Transfer-Encoding would
  // read that body as another request (smuggling on a pooled connection).
  std::vector<std::string> listed;
  auto [first, last] = fields.equal_range(bhttp::field::connection);
  for (auto conn = first; conn != last; ++conn) {
    for (auto token : bhttp::token_list{conn->value()}) {
      const auto f = bhttp::string_to_field(token);
      if (f == bhttp::field::content_length || f == bhttp::field::transfer_encoding ||
          f == bhttp::field::host || boost::beast::iequals(token, "close") ||
          boost::beast::iequals(token, "keep-alive")) {
        continue;
      }
      listed.emplace_back(token);
    }
  }
  for (const auto& name : listed) fields.erase(name);
  fields.erase(bhttp::field::connection);
  fields.erase(bhttp::field::keep_alive);
  fields.erase(bhttp::field::proxy_connection);
  fields.erase(bhttp::field::te);
  fields.erase(bhttp::field::trailer);
  fields.erase(bhttp::field::upgrade);
  fields.erase(bhttp::field::proxy_authorization);
}

template <class Fields>
void prepareUpstreamRequest(Fields& fields, std::string_view original_host,
                            std::string_view client_ip, uint16_t listener_port,
                            std::string_view request_id, std::string_view scheme) {
  removeHopByHop(fields);
  // Strip any client-supplied identity header; only authentication may set them.
  for (auto it = fields.begin(); it != fields.end();) {
    if (it->name_string().size() >= 11 &&
        boost::beast::iequals(it->name_string().substr(0, 11), "x-consumer-")) {
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
  // Several X-Forwarded-For lines are one list (RFC 9110 §5.3): keep them all, in order.
  std::string xff;
  auto [xff_first, xff_last] = fields.equal_range("X-Forwarded-For");
  for (auto it = xff_first; it != xff_last; ++it) {
    xff.append(it->value());
    xff += ", ";
  }
  xff += client_ip;
  fields.set("X-Forwarded-For", xff);
  fields.set("X-Forwarded-Proto", scheme);
  fields.set("X-Forwarded-Host", original_host);
  fields.set("X-Forwarded-Port", std::to_string(listener_port));
  fields.set("X-Request-Id", request_id);
  auto tp = fields.find("traceparent");
  fields.set("traceparent", nextTraceparent(tp == fields.end() ? std::string_view()
                                                               : std::string_view(tp->value())));
}

template <class Fields>
void prepareDownstreamResponse(Fields& fields, std::string_view request_id) {
  removeHopByHop(fields);
  fields.set(bhttp::field::server, "atrium");
  if (fields.find(bhttp::field::date) == fields.end()) fields.set(bhttp::field::date, httpDate());
  fields.set("X-Request-Id", request_id);
}

template <class Fields>
void applyHeaderModifier(Fields& fields, const config::HeaderModifier& mod) {
  for (const auto& [name, value] : mod.set) fields.set(name, value);
  for (const auto& [name, value] : mod.add) {
    // Appends to the existing value; several existing lines are joined first so none is lost.
    std::string joined;
    auto [first, last] = fields.equal_range(name);
    for (auto it = first; it != last; ++it) {
      joined.append(it->value());
      joined += ",";
    }
    joined += value;
    fields.set(name, joined);
  }
  for (const auto& name : mod.remove) fields.erase(name);
}

std::string modifierHeaderLines(const config::HeaderModifier& mod) {
  std::string lines;
  for (const auto* list : {&mod.set, &mod.add}) {
    for (const auto& [name, value] : *list) {
      lines += name;
      lines += ": ";
      lines += value;
      lines += "\r\n";
    }
  }
  return lines;
}

template <class Fields>
bool takeExpectContinue(Fields& fields) {
  auto it = fields.find(bhttp::field::expect);
  if (it == fields.end()) return false;
  const bool is_continue = boost::beast::iequals(trim(it->value()), "100-continue");
  if (is_continue) fields.erase(bhttp::field::expect);
  return is_continue;
}

std::string rewritePath(const config::Route& route, const re2::RE2* rewrite_regex,
                        const config::RouteMatch& match, const std::string& path) {
  const auto& rw = route.rewrite;
  if (rewrite_regex) {
    // Like nginx's `rewrite` (what ingress-nginx's rewrite-target compiles to): when the regex
    // matches, the whole path becomes the substitution, not only the matched part.
    std::string out;
    if (!re2::RE2::Extract(path, *rewrite_regex, rw.substitution, &out)) return path;
    if (out.empty() || out.front() != '/') out.insert(out.begin(), '/');
    return out;
  }
  if (!rw.full_path.empty()) return rw.full_path;
  if (!rw.path_prefix.empty() && match.path.type == config::PathType::Prefix) {
    return replacePrefix(path, match.path.value, rw.path_prefix);
  }
  return path;
}

bool isSafeHeaderValue(std::string_view value) {
  if (value.size() > 8192) return false;
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

std::string hostWithoutPort(std::string_view host) {
  if (!host.empty() && host.front() == '[') return std::string(host.substr(0, host.find(']') + 1));
  if (auto colon = host.rfind(':'); colon != std::string_view::npos) host = host.substr(0, colon);
  return std::string(host);
}

std::string redirectLocation(const config::Redirect& redirect, const config::RouteMatch& match,
                             const NormalizedTarget& target, std::string_view request_host,
                             std::string_view request_scheme, uint16_t listener_port) {
  const std::string scheme =
      redirect.scheme.empty() ? std::string(request_scheme) : redirect.scheme;
  std::string host = redirect.hostname;
  if (host.empty()) host = hostWithoutPort(request_host);
  std::string location = scheme + "://" + host;
  const uint32_t default_port = scheme == "https" ? 443 : 80;
  if (redirect.port != 0 && redirect.port != default_port) {
    location += ":" + std::to_string(redirect.port);
  }
  (void)listener_port;
  if (!redirect.full_path.empty()) {
    location += redirect.full_path;
  } else if (!redirect.path_prefix.empty() && match.path.type == config::PathType::Prefix) {
    location += replacePrefix(target.path, match.path.value, redirect.path_prefix);
  } else {
    location += target.path;
  }
  if (!target.query.empty()) {
    location += '?';
    location += target.query;
  }
  return location;
}

// The plain allocator (tests, admin) and the per-request arena (the proxy's hot path).
#define ATRIUM_INSTANTIATE_HEADER_RULES(F)                                                    \
  template void removeHopByHop<F>(F&);                                                      \
  template void prepareUpstreamRequest<F>(F&, std::string_view, std::string_view, uint16_t,  \
                                          std::string_view, std::string_view);             \
  template void prepareDownstreamResponse<F>(F&, std::string_view);                         \
  template void applyHeaderModifier<F>(F&, const config::HeaderModifier&);                  \
  template bool takeExpectContinue<F>(F&);
ATRIUM_INSTANTIATE_HEADER_RULES(bhttp::fields)
ATRIUM_INSTANTIATE_HEADER_RULES(PmrFields)
#undef ATRIUM_INSTANTIATE_HEADER_RULES

}  // namespace atrium::proxy::http
