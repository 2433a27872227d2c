#include "controller/translator/validation.h"

#include <gtest/gtest.h>

#include <string>

namespace atrium::controller::translator {
namespace {

TEST(Validation, Hostnames) {
  for (const char* ok : {"example.com", "a.b.c.example.com", "*.example.com", "x", "a-b.c0m",
                         "0.example.com", "xn--bcher-kva.example"}) {
    EXPECT_EQ(checkHostname(ok), "") << ok;
  }
  for (const char* bad : {"", "Example.com", "*.*.example.com", "foo*.example.com", "*",
                          "*example.com", "bad_host.com", "a..b", ".a.com", "a.com.", "a.com:80",
                          "-a.com", "a-.com", "a.com-", "10.0.0.1", "::1", "*.10.0.0.1x y"}) {
    EXPECT_NE(checkHostname(bad), "") << bad;
  }
  EXPECT_EQ(checkHostname("10.0.0.1"), "must be a DNS name, not an IP address");
  EXPECT_EQ(checkHostname(std::string(63, 'a') + ".com"), "");
  EXPECT_NE(checkHostname(std::string(64, 'a') + ".com"), "");
  EXPECT_NE(checkHostname(std::string(254, 'a')), "");
}

TEST(Validation, HeaderNamesAndValues) {
  EXPECT_TRUE(isHeaderName("X-Api-Version"));
  EXPECT_TRUE(isHeaderName("x_custom.1~!#$%&'*+^`|"));
  for (const char* bad : {"", "Bad Header", "Bad:Name", "a\r\nb", "a(b)", "\xc3\xa9"}) {
    EXPECT_FALSE(isHeaderName(bad)) << bad;
  }
  EXPECT_TRUE(isHeaderValue(""));
  EXPECT_TRUE(isHeaderValue("text/plain; charset=utf-8"));
  EXPECT_TRUE(isHeaderValue("tab\tinside"));
  EXPECT_TRUE(isHeaderValue("caf\xc3\xa9"));
  for (const char* bad : {"a\rb", "a\nb", "a\x01", "a\x7f"})
    EXPECT_FALSE(isHeaderValue(bad)) << bad;
  EXPECT_FALSE(isHeaderValue(std::string("a\0b", 3)));
}

TEST(Validation, Paths) {
  EXPECT_EQ(checkPath("/"), "");
  EXPECT_EQ(checkPath("/a/b"), "");
  for (const char* bad : {"", "a", "/a b", "/a?b", "/a#b", "/a\tb", "/a\x7f"}) {
    EXPECT_NE(checkPath(bad), "") << bad;
  }
}

std::string normalized(std::string path) {
  if (auto err = normalizeMatchPath(path); !err.empty()) return "error: " + err;
  return path;
}

TEST(Validation, NormalizeMatchPath) {
  EXPECT_EQ(normalized("/"), "/");
  EXPECT_EQ(normalized("/foo/"), "/foo/");
  EXPECT_EQ(normalized("/%7Euser"), "/~user");
  EXPECT_EQ(normalized("/caf%c3%a9"), "/caf%C3%A9");
  EXPECT_EQ(normalized("/a%20b"), "/a%20b");
  EXPECT_EQ(normalized("/.well-known/x"), "/.well-known/x");
  EXPECT_EQ(normalized("/a..b"), "/a..b");
  for (const char* bad : {"relative", "/a//b", "/a/./b", "/a/../b", "/a/..", "/a/.", "/%2e%2e/x",
                          "/a/%2E", "/a%2fb", "/a%2Fb", "/a%00", "/a%", "/a%zz", "/a?b"}) {
    EXPECT_EQ(normalized(bad).rfind("error: ", 0), 0u) << bad << " → " << normalized(bad);
  }
}

TEST(Validation, Regex) {
  EXPECT_EQ(checkRegex("/v[0-9]+/.*"), "");
  EXPECT_NE(checkRegex("/v(1"), "");
  EXPECT_NE(checkRegex("(a)\\1"), "");  // backreferences are not linear-time: RE2 refuses them
}

TEST(Validation, CanonicalPrefix) {
  EXPECT_EQ(canonicalPrefix("/"), "/");
  EXPECT_EQ(canonicalPrefix("/foo/"), "/foo");
  EXPECT_EQ(canonicalPrefix("/foo//"), "/foo");
  EXPECT_EQ(canonicalPrefix("//"), "/");
  EXPECT_EQ(canonicalPrefix("/a//b"), "/a/b");
}

TEST(Validation, Cidrs) {
  for (const char* ok : {"10.0.0.0/8", "10.0.0.1", "0.0.0.0/0", "192.168.1.1/32", "2001:db8::/32",
                         "::1", "::/0", "::ffff:10.0.0.0/104"}) {
    EXPECT_TRUE(isCidr(ok)) << ok;
  }
  for (const char* bad : {"", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x", "::/129",
                          "10.0.0/8", "host.example", "10.0.0.0/0008", "/8"}) {
    EXPECT_FALSE(isCidr(bad)) << bad;
  }
}

}  // namespace
}  // namespace atrium::controller::translator
