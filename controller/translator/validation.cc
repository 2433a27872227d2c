#include "controller/translator/validation.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <cctype>

namespace atrium::controller::translator {

std::string checkHostname(std::string_view host) {
  if (host.empty()) return "must not be empty";
  if (host.size() > 253) return "longer than 253 characters";
  std::string_view rest = host;
  if (rest.rfind("*.", 0) == 0) rest.remove_prefix(2);
  if (rest.find('*') != std::string_view::npos) {
    return "a wildcard is only allowed as the whole first label (\"*.example.com\")";
  }
  size_t label = 0;
  for (size_t i = 0; i < rest.size(); ++i) {
    char c = rest[i];
    if (c == '.') {
      if (label == 0) return "has an empty label";
      label = 0;
      continue;
    }
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '-')) {
      return std::string("invalid character '") + c + "' (lower-case letters, digits, '-', '.')";
    }
    if (++label > 63) return "a label is longer than 63 characters";
  }
  if (label == 0) return "has an empty label";
  return "";
}

bool isHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) continue;
    switch (c) {
      case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
      case '-': case '.': case '^': case '_': case '`': case '|': case '~':
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

bool isCidr(std::string_view cidr) {
  std::string addr(cidr);
  int max_bits = 32;
  std::string bits;
  if (auto slash = addr.find('/'); slash != std::string::npos) {
    bits = addr.substr(slash + 1);
    addr.resize(slash);
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) != 1) {
    if (inet_pton(AF_INET6, addr.c_str(), buf) != 1) return false;
    max_bits = 128;
  }
  if (bits.empty()) return true;
  if (bits.size() > 3) return false;
  for (char c : bits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return std::stoi(bits) <= max_bits;
}

}  // namespace atrium::controller::translator
