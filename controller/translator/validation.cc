#include "controller/translator/validation.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <cctype>
#include <set>

namespace atrium::controller::translator {

namespace {

const std::set<std::string, std::less<>> kMethods = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};

}  // namespace

bool isMethod(std::string_view method) { return kMethods.count(method) > 0; }

std::string checkHostname(std::string_view host) {
  if (host.empty()) return "must not be empty";
  if (host.size() > 253) return "longer than 253 characters";
  std::string_view rest = host;
  if (rest.rfind("*.", 0) == 0) rest.remove_prefix(2);
  if (rest.find('*') != std::string_view::npos) {
    return "a wildcard is only allowed as the whole first label (\"*.example.com\")";
  }
  // Kubernetes (Ingress) and Gateway API (hostnames) both refuse IP addresses: a Host header
  // with an address is served by the hostless routes.
  unsigned char addr[16];
  if (inet_pton(AF_INET, std::string(rest).c_str(), addr) == 1 ||
      inet_pton(AF_INET6, std::string(rest).c_str(), addr) == 1) {
    return "must be a DNS name, not an IP address";
  }
  // RFC 1123 labels: [a-z0-9]([-a-z0-9]*[a-z0-9])?
  size_t label = 0;
  for (size_t i = 0; i < rest.size(); ++i) {
    char c = rest[i];
    if (c == '.') {
      if (label == 0) return "has an empty label";
      if (rest[i - 1] == '-') return "a label must not end with '-'";
      label = 0;
      continue;
    }
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      return std::string("invalid character '") + c + "' (lower-case letters, digits, '-', '.')";
    }
    if (label == 0 && c == '-') return "a label must not start with '-'";
    if (++label > 63) return "a label is longer than 63 characters";
  }
  if (label == 0) return "has an empty label";
  if (rest.back() == '-') return "a label must not end with '-'";
  return "";
}

bool isHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) continue;
    switch (c) {
      case '!':
      case '#':
      case '$':
      case '%':
      case '&':
      case '\'':
      case '*':
      case '+':
      case '-':
      case '.':
      case '^':
      case '_':
      case '`':
      case '|':
      case '~':
        continue;
      default:
        return false;
    }
  }
  return true;
}

bool isHeaderValue(std::string_view value) {
  for (unsigned char c : value) {
    if (c == '\t') continue;
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string checkPath(std::string_view path) {
  if (path.empty() || path.front() != '/') return "must be an absolute path starting with '/'";
  for (unsigned char c : path) {
    if (c <= 0x20 || c == 0x7f) return "must not contain spaces or control characters";
    if (c == '?' || c == '#') return "must not contain '?' or '#'";
  }
  return "";
}

std::string normalizeMatchPath(std::string& path) {
  if (auto err = checkPath(path); !err.empty()) return err;
  // Spell escapes the way the data plane normalises request paths (proxy/http/path_normalizer):
  // unreserved characters decoded, other escapes with upper-case hex. "/%7Euser" then matches a
  // request for "/~user" or "/%7euser" instead of never matching at all.
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') {
      out.push_back(path[i]);
      continue;
    }
    if (i + 2 >= path.size() || hex(path[i + 1]) < 0 || hex(path[i + 2]) < 0) {
      return "has a malformed percent-escape";
    }
    const int value = hex(path[i + 1]) * 16 + hex(path[i + 2]);
    if (value == 0) return "must not contain '%00'";
    if (value == '/') return "must not contain '%2F'";
    const char c = static_cast<char>(value);
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(c);
    } else {
      static const char kHex[] = "0123456789ABCDEF";
      out += {'%', kHex[value >> 4], kHex[value & 15]};
    }
    i += 2;
  }
  // Kubernetes refuses these in Exact/Prefix Ingress paths, Gateway API in HTTPPathMatch: a
  // request path is normalised before matching, so such a path could never match.
  for (std::string_view seq : {"//", "/./", "/../"}) {
    if (out.find(seq) != std::string::npos) return "must not contain '" + std::string(seq) + "'";
  }
  for (std::string_view suffix : {"/..", "/."}) {
    if (out.size() >= suffix.size() &&
        out.compare(out.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return "must not end with '" + std::string(suffix) + "'";
    }
  }
  path = std::move(out);
  return "";
}

std::string checkRegex(const std::string& pattern) {
  RE2 re(pattern, RE2::Quiet);
  if (!re.ok()) return "invalid regular expression: " + re.error();
  return "";
}

std::string canonicalPrefix(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::optional<uint64_t> parseCount(const std::string& v, uint64_t min, uint64_t max) {
  if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const uint64_t n = std::stoull(v);
  if (n < min || n > max) return std::nullopt;
  return n;
}

bool isCidr(std::string_view cidr) {
  std::string addr(cidr);
  int max_bits = 32;
  std::string bits;
  bool has_slash = false;
  if (auto slash = addr.find('/'); slash != std::string::npos) {
    bits = addr.substr(slash + 1);
    addr.resize(slash);
    has_slash = true;
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) != 1) {
    if (inet_pton(AF_INET6, addr.c_str(), buf) != 1) return false;
    max_bits = 128;
  }
  if (!has_slash) return true;
  if (bits.empty() || bits.size() > 3) return false;  // "10.0.0.0/" is no prefix length
  for (char c : bits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return std::stoi(bits) <= max_bits;
}

}  // namespace atrium::controller::translator
