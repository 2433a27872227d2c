#include "proxy/filters/cors.h"

#include <algorithm>
#include <cctype>

namespace atrium::proxy::filters {

namespace {

constexpr size_t kMaxOriginLength = 1024;
constexpr std::string_view kVaryPreflight =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool isTokenChar(unsigned char c) {
  if (std::isalnum(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool isToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return isTokenChar(static_cast<unsigned char>(c));
  });
}

// Access-Control-Allow-Origin is "*" for a policy of any origin, else the (safe) origin itself.
// "*" never comes with credentials (the translator and validate() refuse the pair); were it to,
// browsers refuse "*" with credentials, which fails closed where echoing the origin would let
// every site read the API with its users' cookies.
bool anyOrigin(const config::CorsPolicy& policy) {
  return std::find(policy.allow_origins.begin(), policy.allow_origins.end(), "*") !=
         policy.allow_origins.end();
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string join(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& item : list) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// scheme://host[:port], lower-cased, the scheme's default port dropped. `wildcard` lets the
// host start with "*." (policy entries); a request's Origin never may.
struct Origin {
  std::string scheme;
  std::string host;
  std::string port;  // empty: the scheme's default
};

std::optional<Origin> parseOrigin(std::string_view text, bool wildcard) {
  const std::string s = lower(text);
  const size_t sep = s.find("://");
  if (sep == std::string::npos || sep == 0) return std::nullopt;
  Origin o;
  o.scheme = s.substr(0, sep);
  for (unsigned char c : o.scheme) {
    if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') return std::nullopt;
  }
  std::string_view rest = std::string_view(s).substr(sep + 3);
  std::string_view host = rest;
  std::optional<std::string_view> port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = rest.substr(0, close + 1);
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
    for (unsigned char c : host.substr(1, host.size() - 2)) {
      if (!std::isxdigit(c) && c != ':' && c != '.') return std::nullopt;
    }
  } else {
    if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
    }
    std::string_view labels = host;
    if (wildcard && labels.rfind("*.", 0) == 0) labels.remove_prefix(2);
    if (labels.empty() || labels.front() == '.' || labels.back() == '.' ||
        labels.find("..") != std::string_view::npos) {
      return std::nullopt;
    }
    for (unsigned char c : labels) {
      if (!std::isalnum(c) && c != '-' && c != '.') return std::nullopt;
    }
  }
  o.host = std::string(host);
  if (port) {
    if (port->empty() || port->size() > 5 ||
        port->find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    const int value = std::stoi(std::string(*port));
    if (value < 1 || value > 65535) return std::nullopt;
    const bool default_port =
        (o.scheme == "http" && value == 80) || (o.scheme == "https" && value == 443);
    if (!default_port) o.port = std::to_string(value);
  }
  return o;
}

bool entryMatches(std::string_view entry, const Origin& origin) {
  const auto e = parseOrigin(entry, /*wildcard=*/true);
  if (!e || e->scheme != origin.scheme || e->port != origin.port) return false;
  if (e->host.rfind("*.", 0) != 0) return e->host == origin.host;
  // "*.example.com": at least one label before ".example.com", so neither the apex nor
  // "evil-example.com" (which ends in "example.com" but not in ".example.com").
  const std::string_view suffix = std::string_view(e->host).substr(1);  // ".example.com"
  return origin.host.size() > suffix.size() && origin.host.front() != '[' &&
         std::string_view(origin.host).substr(origin.host.size() - suffix.size()) == suffix;
}

bool simpleMethod(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "POST";
}

// Access-Control-Request-Headers: comma-separated names, lower-cased; nullopt when one is not
// a token (nothing of it is then echoed).
std::optional<std::vector<std::string>> requestedHeaders(std::string_view value) {
  std::vector<std::string> names;
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.empty()) continue;  // "a, , b": empty list elements are allowed (RFC 9110 §5.6.1)
    if (!isToken(item)) return std::nullopt;
    std::string name = lower(item);
    if (!contains(names, name)) names.push_back(std::move(name));
  }
  return names;
}

}  // namespace

bool isSafeOrigin(std::string_view origin) {
  if (origin.empty() || origin.size() > kMaxOriginLength) return false;
  return std::all_of(origin.begin(), origin.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

bool originAllowed(const config::CorsPolicy& policy, std::string_view origin) {
  if (!isSafeOrigin(origin)) return false;
  if (origin == "null") return contains(policy.allow_origins, "null");
  if (anyOrigin(policy)) return true;
  const auto parsed = parseOrigin(origin, /*wildcard=*/false);
  if (!parsed) return false;
  return std::any_of(policy.allow_origins.begin(), policy.allow_origins.end(),
                     [&](const std::string& entry) { return entryMatches(entry, *parsed); });
}

CorsPreflight preflight(const config::CorsPolicy& policy, std::string_view method,
                        std::optional<std::string_view> origin,
                        std::optional<std::string_view> request_method,
                        std::optional<std::string_view> request_headers) {
  CorsPreflight out;
  if (method != "OPTIONS" || !origin || !request_method) return out;
  out.is_preflight = true;
  out.headers.emplace_back("Vary", kVaryPreflight);
  if (!originAllowed(policy, *origin)) return out;

  // Methods are case-sensitive (RFC 9110 §9.1); browsers upper-case the standard ones.
  const std::string_view wanted = *request_method;
  if (!isToken(wanted)) return out;
  const bool any_method = contains(policy.allow_methods, "*");
  const bool method_ok =
      simpleMethod(wanted) || any_method || contains(policy.allow_methods, wanted);
  if (!method_ok) return out;

  const auto asked = requestedHeaders(request_headers.value_or(""));
  if (!asked) return out;
  const bool echo_headers = policy.allow_headers.empty() || contains(policy.allow_headers, "*");
  if (!echo_headers) {
    for (const auto& name : *asked) {
      if (!contains(policy.allow_headers, name)) return out;
    }
  }

  out.allowed = true;
  out.headers.emplace_back("Access-Control-Allow-Origin",
                           anyOrigin(policy) ? std::string("*") : std::string(*origin));
  std::string methods;
  if (any_method) {
    methods = std::string(wanted);  // "*" means nothing to browsers with credentials
  } else if (policy.allow_methods.empty()) {
    methods = "GET, HEAD, POST";
  } else {
    methods = join(policy.allow_methods);
  }
  out.headers.emplace_back("Access-Control-Allow-Methods", std::move(methods));
  const std::string headers = echo_headers ? join(*asked) : join(policy.allow_headers);
  if (!headers.empty()) out.headers.emplace_back("Access-Control-Allow-Headers", headers);
  if (policy.allow_credentials) {
    out.headers.emplace_back("Access-Control-Allow-Credentials", "true");
  }
  if (policy.max_age_s > 0) {
    out.headers.emplace_back("Access-Control-Max-Age", std::to_string(policy.max_age_s));
  }
  return out;
}

CorsHeaders actualResponseHeaders(const config::CorsPolicy& policy,
                                  std::optional<std::string_view> origin) {
  CorsHeaders out;
  out.emplace_back("Vary", "Origin");
  if (!origin || !originAllowed(policy, *origin)) return out;
  out.emplace_back("Access-Control-Allow-Origin",
                   anyOrigin(policy) ? std::string("*") : std::string(*origin));
  if (policy.allow_credentials) out.emplace_back("Access-Control-Allow-Credentials", "true");
  if (!policy.expose_headers.empty()) {
    out.emplace_back("Access-Control-Expose-Headers", join(policy.expose_headers));
  }
  return out;
}

}  // namespace atrium::proxy::filters
