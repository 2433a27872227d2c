#include "controller/translator/cors_reader.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "controller/translator/validation.h"

namespace atrium::controller::translator {

namespace {

void sortUnique(std::vector<std::string>& list) {
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool isIpv4(std::string_view host) {
  unsigned char addr[4];
  return inet_pton(AF_INET, std::string(host).c_str(), addr) == 1;
}

bool isBracketedIpv6(std::string_view host) {
  if (host.size() < 3 || host.front() != '[' || host.back() != ']') return false;
  unsigned char addr[16];
  return inet_pton(AF_INET6, std::string(host.substr(1, host.size() - 2)).c_str(), addr) == 1;
}

// allowHeaders / exposeHeaders: header names, lower-case as the data plane compares them; "*"
// stands alone (it already means every name).
std::optional<std::vector<std::string>> readHeaderNames(FieldReader& r, const nlohmann::json& cors,
                                                        const std::string& path, const char* key) {
  const auto* names = r.array(cors, path, key);
  if (!names) return std::nullopt;
  const std::string npath = FieldReader::join(path, key);
  if (names->size() > kMaxCorsHeaders) {
    r.error(npath, "holds at most 32 header names");
    return std::nullopt;
  }
  std::vector<std::string> list;
  for (size_t i = 0; i < names->size(); ++i) {
    const auto& n = (*names)[i];
    if (!n.is_string() || !isHeaderName(n.get<std::string>()) ||
        n.get<std::string>().size() > kMaxCorsHeaderLength) {
      r.error(FieldReader::index(npath, i), "must be an HTTP header name (or \"*\")");
      continue;
    }
    list.push_back(lower(n.get<std::string>()));
  }
  if (std::find(list.begin(), list.end(), "*") != list.end()) list = {"*"};
  sortUnique(list);
  return list;
}

// allowMethods: upper-cased (a manifest's get means GET; the CRD's enum refuses it in a
// cluster, so nothing else can differ); "*" stands alone.
std::optional<std::vector<std::string>> readMethods(FieldReader& r, const nlohmann::json& cors,
                                                    const std::string& path) {
  const auto* methods = r.array(cors, path, "allowMethods");
  if (!methods) return std::nullopt;
  const std::string mpath = FieldReader::join(path, "allowMethods");
  if (methods->size() > kMaxCorsMethods) {
    r.error(mpath, "holds at most 10 methods");
    return std::nullopt;
  }
  std::vector<std::string> list;
  for (size_t i = 0; i < methods->size(); ++i) {
    const auto& m = (*methods)[i];
    std::string method = m.is_string() ? m.get<std::string>() : "";
    for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (method != "*" && !isMethod(method)) {
      r.error(FieldReader::index(mpath, i),
              "must be an HTTP method (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, "
              "PATCH) or \"*\"");
      continue;
    }
    list.push_back(std::move(method));
  }
  if (std::find(list.begin(), list.end(), "*") != list.end()) list = {"*"};
  sortUnique(list);
  return list;
}

std::optional<std::vector<std::string>> readOrigins(FieldReader& r, const nlohmann::json& cors,
                                                    const std::string& path) {
  const auto* origins = r.array(cors, path, "allowOrigins");
  if (!origins) return std::nullopt;
  const std::string opath = FieldReader::join(path, "allowOrigins");
  if (origins->size() > kMaxCorsOrigins) {
    r.error(opath, "holds at most 32 origins");
    return std::nullopt;
  }
  std::vector<std::string> list;
  for (size_t i = 0; i < origins->size(); ++i) {
    const auto& o = (*origins)[i];
    std::string problem = "must be a string";
    std::optional<std::string> origin;
    if (o.is_string()) origin = normalizeCorsOrigin(o.get<std::string>(), problem);
    if (!origin) {
      r.error(FieldReader::index(opath, i), problem);
      continue;
    }
    list.push_back(std::move(*origin));
  }
  if (std::find(list.begin(), list.end(), "*") != list.end()) list = {"*"};
  sortUnique(list);
  return list;
}

}  // namespace

std::optional<std::string> normalizeCorsOrigin(std::string_view origin, std::string& problem) {
  static const std::string kForm =
      "must be \"*\" or scheme://host[:port] (e.g. https://app.example.com, "
      "https://*.example.com)";
  if (origin == "*") return std::string(origin);
  if (origin.empty() || origin.size() > kMaxCorsOriginLength) {
    problem = "must be 1 to 512 characters";
    return std::nullopt;
  }
  const std::string s = lower(std::string(origin));
  const size_t sep = s.find("://");
  if (sep == std::string::npos) {
    problem = kForm;
    return std::nullopt;
  }
  const std::string scheme = s.substr(0, sep);
  if (scheme != "http" && scheme != "https") {
    problem = "the scheme must be http or https";
    return std::nullopt;
  }
  const std::string_view rest = std::string_view(s).substr(sep + 3);
  // An Origin header is scheme, host and port only: anything else could never match.
  for (unsigned char c : rest) {
    if (!std::isalnum(c) && c != '.' && c != '-' && c != '*' && c != ':' && c != '[' && c != ']') {
      problem = "must be scheme://host[:port], without a path, query, user or spaces";
      return std::nullopt;
    }
  }
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      problem = "an IPv6 address needs its closing ']'";
      return std::nullopt;
    }
    host = rest.substr(0, close + 1);
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        problem = kForm;
        return std::nullopt;
      }
      port = after.substr(1);
      if (port.empty()) port = "0";  // "host:" has no port: refused below
    }
  } else if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) port = "0";
  }
  std::string normalized = scheme + "://" + std::string(host);
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
      problem = "the port must be a number between 1 and 65535";
      return std::nullopt;
    }
    const int value = std::stoi(std::string(port));
    if (value < 1 || value > 65535) {
      problem = "the port must be a number between 1 and 65535";
      return std::nullopt;
    }
    const bool default_port =
        (scheme == "http" && value == 80) || (scheme == "https" && value == 443);
    if (!default_port) normalized += ":" + std::to_string(value);
  }
  if (!isBracketedIpv6(host) && !isIpv4(host)) {
    if (auto err = checkHostname(host); !err.empty()) {
      problem = "host " + err;
      return std::nullopt;
    }
  }
  return normalized;
}

std::optional<config::CorsPolicy> readCorsPolicy(FieldReader& r, const nlohmann::json& cors,
                                                 const std::string& path, config::CorsPolicy base) {
  const size_t errors_before = r.errorCount();
  r.unknownFields(cors, path,
                  {"allowOrigins", "allowMethods", "allowHeaders", "exposeHeaders",
                   "allowCredentials", "maxAge"});
  config::CorsPolicy out = std::move(base);
  if (auto v = readOrigins(r, cors, path)) out.allow_origins = std::move(*v);
  if (auto v = readMethods(r, cors, path)) out.allow_methods = std::move(*v);
  if (auto v = readHeaderNames(r, cors, path, "allowHeaders")) out.allow_headers = std::move(*v);
  if (auto v = readHeaderNames(r, cors, path, "exposeHeaders")) out.expose_headers = std::move(*v);
  const auto credentials = r.boolean(cors, path, "allowCredentials");
  if (credentials) out.allow_credentials = *credentials;
  if (auto v = r.integer(cors, path, "maxAge")) {
    if (*v < 0 || *v > kMaxCorsMaxAge) {
      r.error(FieldReader::join(path, "maxAge"), "must be between 0 and 86400 (seconds)");
    } else {
      out.max_age_s = static_cast<uint32_t>(*v);
    }
  }
  if (r.errorCount() != errors_before) return std::nullopt;
  const bool any_origin = out.allow_origins == std::vector<std::string>{"*"};
  if (out.allow_credentials && any_origin) {
    // Reported where this object wrote its half of the pair (the other may be inherited).
    if (credentials && *credentials) {
      r.error(FieldReader::join(path, "allowCredentials"),
              "cannot be combined with allowOrigins: ['*']: browsers refuse credentialed "
              "responses to any origin; list the origins");
    } else {
      r.error(FieldReader::join(path, "allowOrigins"),
              "['*'] cannot be combined with allowCredentials: true: browsers refuse "
              "credentialed responses to any origin; list the origins");
    }
    return std::nullopt;
  }
  if (out.allow_origins.empty()) {
    r.warning(path, "no allowOrigins: every cross-origin request is refused");
  }
  if (out.allow_credentials && out.expose_headers == std::vector<std::string>{"*"}) {
    r.warning(FieldReader::join(path, "exposeHeaders"),
              "with allowCredentials, browsers take \"*\" as a header name, not every header; "
              "list the names");
  }
  return out;
}

}  // namespace atrium::controller::translator
