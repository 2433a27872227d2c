#include "proxy/redis/redis_url.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>

namespace atrium::proxy::redis {

namespace {

constexpr std::string_view kExpected =
    "--redis: expected redis://[[user]:password@]host[:port][/db]";

bool fail(std::string& error, std::string_view message) {
  error.assign(message);
  return false;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Credentials may carry any byte percent-encoded (a password with '@' or '/' must be).
bool percentDecode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hexValue(in[i + 1]), lo = hexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool isHostName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

bool parseUserInfo(std::string_view info, RedisUrl& url, std::string& error) {
  auto colon = info.find(':');
  // A bare `user@` would connect without a password: refuse rather than guess.
  if (colon == std::string_view::npos) {
    return fail(error, "--redis: credentials must be [user]:password before '@'");
  }
  if (!percentDecode(info.substr(0, colon), url.username) ||
      !percentDecode(info.substr(colon + 1), url.password)) {
    return fail(error, "--redis: bad percent-encoding in the credentials");
  }
  if (url.password.empty()) return fail(error, "--redis: the password after ':' is empty");
  return true;
}

bool parsePort(std::string_view text, RedisUrl& url, std::string& error) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!allDigits(text) || ec != std::errc{} || end != text.data() + text.size() || value == 0 ||
      value > 65535) {
    return fail(
        error, "--redis: port must be a number from 1 to 65535, got \"" + std::string(text) + "\"");
  }
  url.port = static_cast<uint16_t>(value);
  return true;
}

bool parseHostPort(std::string_view authority, RedisUrl& url, std::string& error) {
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(error, "--redis: unterminated '[' in host");
    url.host = std::string(authority.substr(1, close - 1));
    in6_addr ignored{};
    if (inet_pton(AF_INET6, url.host.c_str(), &ignored) != 1) {
      return fail(error, "--redis: \"" + url.host + "\" is not an IPv6 address");
    }
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(error, kExpected);
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
      if (port_text.find(':') != std::string_view::npos) {
        return fail(error, "--redis: an IPv6 host must be written in brackets, e.g. [::1]:6379");
      }
    }
    if (url.host.empty()) return fail(error, "--redis: the host is empty");
    if (!isHostName(url.host)) return fail(error, "--redis: \"" + url.host + "\" is not a host");
  }
  return !has_port || parsePort(port_text, url, error);
}

bool parseDb(std::string_view path, RedisUrl& url, std::string& error) {
  if (path.empty()) return true;  // "redis://host/" is db 0
  int value = 0;
  auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), value);
  if (!allDigits(path) || ec != std::errc{} || end != path.data() + path.size()) {
    return fail(error, "--redis: the database must be a number after '/', got \"" +
                           std::string(path) + "\"");
  }
  url.db = value;
  return true;
}

}  // namespace

std::optional<RedisUrl> parseRedisUrl(std::string_view text, std::string& error) {
  auto reject = [&](std::string_view message) {
    error.assign(message);
    return std::nullopt;
  };
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return reject(kExpected);
  auto scheme = text.substr(0, sep);
  if (equalsIgnoreCase(scheme, "rediss")) {
    return reject("--redis: TLS (rediss://) is not supported");
  }
  if (!equalsIgnoreCase(scheme, "redis")) {
    return reject("--redis: unsupported scheme \"" + std::string(scheme) + "\", " +
                  std::string(kExpected.substr(9)));
  }

  RedisUrl url;
  auto rest = text.substr(sep + 3);
  // The last '@' ends the credentials, so an unencoded '@' in a password still parses.
  auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    if (!parseUserInfo(rest.substr(0, at), url, error)) return std::nullopt;
    rest = rest.substr(at + 1);
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return reject("--redis: query strings and fragments are not supported");
  }
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  auto path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  if (!parseHostPort(authority, url, error) || !parseDb(path, url, error)) return std::nullopt;
  return url;
}

std::string describe(const RedisUrl& url) {
  std::string out = "redis://";
  if (!url.password.empty()) out += url.username + ":***@";
  bool ipv6 = url.host.find(':') != std::string::npos;
  out += ipv6 ? "[" + url.host + "]" : url.host;
  out += ":" + std::to_string(url.port);
  if (url.db != 0) out += "/" + std::to_string(url.db);
  return out;
}

}  // namespace atrium::proxy::redis
