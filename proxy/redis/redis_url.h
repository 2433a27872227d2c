#pragma once
// Where the data plane's Redis lives: `--redis redis://[[user]:password@]host[:port][/db]`.
// Parsing is kept apart from the client so flag validation fails at startup with one clear line,
// before any worker exists.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atrium::proxy::redis {

struct RedisUrl {
  std::string host;  // a name, an IPv4 address or an IPv6 address (without brackets)
  uint16_t port = 6379;
  std::string username;  // empty: AUTH with the password alone (the `default` user)
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECTed after connecting when not 0
};

// Parses a redis:// URL; user and password are percent-decoded. On failure returns nullopt and
// sets `error` to one line starting with "--redis: " that never repeats the password.
std::optional<RedisUrl> parseRedisUrl(std::string_view url, std::string& error);

// The URL for logs and errors: the password, if any, is shown as "***".
std::string describe(const RedisUrl& url);

}  // namespace atrium::proxy::redis
