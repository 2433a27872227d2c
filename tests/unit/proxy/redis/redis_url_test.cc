// `--redis` is parsed once at startup: a bad URL must fail with one line that names the problem
// and never echoes the password.
#include "proxy/redis/redis_url.h"

#include <gtest/gtest.h>

namespace atrium::proxy::redis {
namespace {

RedisUrl parseOk(std::string_view text) {
  std::string error;
  auto url = parseRedisUrl(text, error);
  EXPECT_TRUE(url.has_value()) << text << ": " << error;
  return url.value_or(RedisUrl{});
}

std::string parseError(std::string_view text) {
  std::string error;
  auto url = parseRedisUrl(text, error);
  EXPECT_FALSE(url.has_value()) << text;
  EXPECT_EQ(error.rfind("--redis: ", 0), 0u) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  return error;
}

TEST(RedisUrl, HostAloneDefaultsPortAndDb) {
  auto url = parseOk("redis://cache.example.com");
  EXPECT_EQ(url.host, "cache.example.com");
  EXPECT_EQ(url.port, 6379);
  EXPECT_EQ(url.db, 0);
  EXPECT_TRUE(url.username.empty());
  EXPECT_TRUE(url.password.empty());
}

TEST(RedisUrl, FullForm) {
  auto url = parseOk("redis://alice:s3cret@10.0.0.5:6380/4");
  EXPECT_EQ(url.host, "10.0.0.5");
  EXPECT_EQ(url.port, 6380);
  EXPECT_EQ(url.username, "alice");
  EXPECT_EQ(url.password, "s3cret");
  EXPECT_EQ(url.db, 4);
}

TEST(RedisUrl, PasswordWithoutUserAndTrailingSlash) {
  auto url = parseOk("redis://:pw@localhost:7000/");
  EXPECT_TRUE(url.username.empty());
  EXPECT_EQ(url.password, "pw");
  EXPECT_EQ(url.port, 7000);
  EXPECT_EQ(url.db, 0);
}

TEST(RedisUrl, SchemeIsCaseInsensitive) { EXPECT_EQ(parseOk("REDIS://h").host, "h"); }

TEST(RedisUrl, Ipv6InBrackets) {
  auto url = parseOk("redis://[::1]:6390/2");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 6390);
  EXPECT_EQ(url.db, 2);
  EXPECT_EQ(parseOk("redis://[fe80::1]").port, 6379);
}

TEST(RedisUrl, CredentialsArePercentDecoded) {
  auto url = parseOk("redis://us%40er:p%2Fa%3As%25s@h");
  EXPECT_EQ(url.username, "us@er");
  EXPECT_EQ(url.password, "p/a:s%s");
  // The last '@' ends the credentials, so a raw '@' in the password still works.
  EXPECT_EQ(parseOk("redis://:a@b@h").password, "a@b");
}

TEST(RedisUrl, RejectsOtherSchemes) {
  EXPECT_NE(parseError("http://h:6379").find("unsupported scheme"), std::string::npos);
  EXPECT_NE(parseError("rediss://h").find("TLS"), std::string::npos);
  parseError("h:6379");
  parseError("");
}

TEST(RedisUrl, RejectsBadPorts) {
  for (auto text : {"redis://h:0", "redis://h:65536", "redis://h:", "redis://h:-1",
                    "redis://h:12ab", "redis://[::1]:99999", "redis://h:+80"}) {
    EXPECT_NE(parseError(text).find("port"), std::string::npos) << text;
  }
}

TEST(RedisUrl, RejectsBadDatabases) {
  for (auto text :
       {"redis://h/x", "redis://h/-1", "redis://h/1/2", "redis://h/ 1", "redis://h/99999999999"}) {
    EXPECT_NE(parseError(text).find("database"), std::string::npos) << text;
  }
}

TEST(RedisUrl, RejectsBadHostsAndShapes) {
  parseError("redis://");
  parseError("redis://:6379");
  parseError("redis://::1:6379");        // IPv6 without brackets
  parseError("redis://[::1");            // unterminated
  parseError("redis://[nothost]:6379");  // not an address
  parseError("redis://h?db=1");
  parseError("redis://h#frag");
  parseError("redis://bad host");
}

TEST(RedisUrl, RejectsAmbiguousCredentials) {
  // `user@` alone would silently connect without AUTH.
  parseError("redis://alice@h");
  parseError("redis://alice:@h");
  parseError("redis://:p%zz@h");
  parseError("redis://:p%4@h");
}

TEST(RedisUrl, ErrorsNeverEchoThePassword) {
  for (auto text : {"redis://:hunter2@h:0", "redis://u:hunter2@h/x", "redis://:hunter2@bad host",
                    "redis://u:hunter2@h?x"}) {
    EXPECT_EQ(parseError(text).find("hunter2"), std::string::npos) << text;
  }
}

TEST(RedisUrl, DescribeHidesThePassword) {
  EXPECT_EQ(describe(parseOk("redis://alice:hunter2@h:6380/3")), "redis://alice:***@h:6380/3");
  EXPECT_EQ(describe(parseOk("redis://:hunter2@h")), "redis://:***@h:6379");
  EXPECT_EQ(describe(parseOk("redis://[::1]:7000")), "redis://[::1]:7000");
}

}  // namespace
}  // namespace atrium::proxy::redis
