// CORS decisions as a table: which origins a policy allows (exact, "*.example.com", "*",
// "null", scheme/port mismatches, case), what a preflight answers (methods, headers, echo,
// credentials, max-age), what an actual response gets, and Vary on every answer.
#include "proxy/filters/cors.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace atrium::proxy::filters {
namespace {

config::CorsPolicy policy(std::vector<std::string> origins) {
  config::CorsPolicy p;
  p.allow_origins = std::move(origins);
  return p;
}

std::map<std::string, std::string> asMap(const CorsHeaders& headers) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : headers) {
    EXPECT_TRUE(out.emplace(name, value).second) << "duplicate " << name;
  }
  return out;
}

struct OriginCase {
  std::vector<std::string> policy;
  std::string origin;
  bool allowed;
};

TEST(Cors, OriginTable) {
  const std::vector<std::string> exact = {"https://app.example.com"};
  const std::vector<std::string> wild = {"https://*.example.com"};
  const std::vector<OriginCase> cases = {
      // Exact: scheme, host and port must all agree; scheme and host are case-insensitive.
      {exact, "https://app.example.com", true},
      {exact, "HTTPS://App.Example.COM", true},
      {exact, "https://app.example.com:443", true},  // the default port, spelt out
      {exact, "http://app.example.com", false},
      {exact, "https://app.example.com:8443", false},
      {exact, "https://app.example.com.evil.net", false},
      {exact, "https://evilapp.example.com", false},
      {exact, "https://app.example.co", false},
      {exact, "https://app.example.com/", false},  // an Origin has no path
      {exact, "https://user@app.example.com", false},
      {exact, "app.example.com", false},
      {{"http://localhost:3000"}, "http://localhost:3000", true},
      {{"http://localhost:3000"}, "http://localhost", false},
      {{"http://localhost:3000"}, "http://localhost:3001", false},
      {{"http://127.0.0.1:8080"}, "http://127.0.0.1:8080", true},
      {{"http://[::1]:8080"}, "http://[::1]:8080", true},
      {{"http://[::1]:8080"}, "http://[::1]", false},
      // Wildcard subdomains: one label or more, same scheme and port, never the apex.
      {wild, "https://a.example.com", true},
      {wild, "https://a.b.example.com", true},
      {wild, "https://A.Example.Com", true},
      {wild, "https://example.com", false},
      {wild, "https://evil-example.com", false},
      {wild, "https://aexample.com", false},
      {wild, "https://.example.com", false},
      {wild, "http://a.example.com", false},
      {wild, "https://a.example.com:8443", false},
      {wild, "https://a.example.com.evil.net", false},
      {{"https://*.example.com:8443"}, "https://a.example.com:8443", true},
      {{"https://*.example.com:8443"}, "https://a.example.com", false},
      // "*": any well-formed origin, even an odd scheme; never "null".
      {{"*"}, "https://anything.test", true},
      {{"*"}, "http://localhost:1234", true},
      {{"*"}, "chrome-extension://abcdef", true},
      {{"*"}, "null", false},
      {exact, "null", false},
      {{"null"}, "null", true},  // only when listed literally (the translator refuses it)
      // Unsafe or empty origins never match, not even "*".
      {{"*"}, "", false},
      {{"*"}, "https://a.example.com\r\nSet-Cookie: x=1", false},
      {exact, "https://app.example.com\r\n", false},
      {{"*"}, "https://a b.test", false},
      {{"*"}, std::string("https://a\0b", 11), false},
      {{"*"}, "https://" + std::string(2000, 'a') + ".test", false},
      {{}, "https://app.example.com", false},  // no origins: nobody
      {{"https://a.test", "https://app.example.com"}, "https://app.example.com", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(originAllowed(policy(c.policy), c.origin), c.allowed)
        << "policy " << (c.policy.empty() ? "<none>" : c.policy.front()) << " origin " << c.origin;
  }
}

TEST(Cors, NotAPreflight) {
  const auto p = policy({"https://app.example.com"});
  // OPTIONS needs both Origin and Access-Control-Request-Method; other methods never are.
  EXPECT_FALSE(preflight(p, "OPTIONS", std::nullopt, "PUT", std::nullopt).is_preflight);
  EXPECT_FALSE(
      preflight(p, "OPTIONS", "https://app.example.com", std::nullopt, std::nullopt).is_preflight);
  EXPECT_FALSE(preflight(p, "GET", "https://app.example.com", "PUT", std::nullopt).is_preflight);
  EXPECT_FALSE(
      preflight(p, "options", "https://app.example.com", "PUT", std::nullopt).is_preflight);
  const auto none = preflight(p, "POST", "https://app.example.com", "PUT", std::nullopt);
  EXPECT_FALSE(none.allowed);
  EXPECT_TRUE(none.headers.empty());
}

TEST(Cors, AllowedPreflightHeaders) {
  config::CorsPolicy p = policy({"https://app.example.com"});
  p.allow_methods = {"GET", "POST", "PUT"};
  p.allow_headers = {"authorization", "content-type"};
  p.expose_headers = {"x-request-id"};
  p.allow_credentials = true;
  p.max_age_s = 600;
  const auto r =
      preflight(p, "OPTIONS", "https://app.example.com", "PUT", "Content-Type, AUTHORIZATION");
  EXPECT_TRUE(r.is_preflight);
  EXPECT_TRUE(r.allowed);
  const auto h = asMap(r.headers);
  EXPECT_EQ(h,
            (std::map<std::string, std::string>{
                {"Access-Control-Allow-Origin", "https://app.example.com"},
                {"Access-Control-Allow-Methods", "GET, POST, PUT"},
                {"Access-Control-Allow-Headers", "authorization, content-type"},
                {"Access-Control-Allow-Credentials", "true"},
                {"Access-Control-Max-Age", "600"},
                {"Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"},
            }));
}

TEST(Cors, PreflightEchoesTheOriginAsSent) {
  const auto p = policy({"https://*.example.com"});
  const auto r = preflight(p, "OPTIONS", "https://A.example.com", "GET", std::nullopt);
  ASSERT_TRUE(r.allowed);
  EXPECT_EQ(asMap(r.headers).at("Access-Control-Allow-Origin"), "https://A.example.com");
}

TEST(Cors, PreflightDefaultsAndEcho) {
  // No methods configured: GET, HEAD, POST; no headers configured: what is asked, echoed.
  const auto p = policy({"https://app.example.com"});
  auto r = preflight(p, "OPTIONS", "https://app.example.com", "POST", " X-Trace ,, content-type ");
  ASSERT_TRUE(r.allowed);
  auto h = asMap(r.headers);
  EXPECT_EQ(h.at("Access-Control-Allow-Methods"), "GET, HEAD, POST");
  EXPECT_EQ(h.at("Access-Control-Allow-Headers"), "x-trace, content-type");
  EXPECT_FALSE(h.count("Access-Control-Allow-Credentials"));
  EXPECT_FALSE(h.count("Access-Control-Max-Age"));
  EXPECT_FALSE(preflight(p, "OPTIONS", "https://app.example.com", "PUT", std::nullopt).allowed);
  // Nothing asked, nothing echoed.
  r = preflight(p, "OPTIONS", "https://app.example.com", "GET", "");
  ASSERT_TRUE(r.allowed);
  EXPECT_FALSE(asMap(r.headers).count("Access-Control-Allow-Headers"));
  // A requested name that is not a token is never echoed: the preflight is refused.
  r = preflight(p, "OPTIONS", "https://app.example.com", "GET", "x-a\r\nset-cookie: y");
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.headers.size(), 1u);
}

TEST(Cors, WildcardMethodsAndHeaders) {
  config::CorsPolicy p = policy({"https://app.example.com"});
  p.allow_methods = {"*"};
  p.allow_headers = {"*"};
  p.allow_credentials = true;
  const auto r = preflight(p, "OPTIONS", "https://app.example.com", "PATCH", "X-Custom");
  ASSERT_TRUE(r.allowed);
  const auto h = asMap(r.headers);
  // Echoed rather than "*", which browsers take literally on credentialed requests.
  EXPECT_EQ(h.at("Access-Control-Allow-Methods"), "PATCH");
  EXPECT_EQ(h.at("Access-Control-Allow-Headers"), "x-custom");
  EXPECT_FALSE(
      preflight(p, "OPTIONS", "https://app.example.com", "BAD METHOD", std::nullopt).allowed);
}

struct PreflightCase {
  std::string origin;
  std::string method;
  std::optional<std::string> headers;
  bool allowed;
};

TEST(Cors, PreflightTable) {
  config::CorsPolicy p = policy({"https://app.example.com", "https://*.example.org"});
  p.allow_methods = {"DELETE", "PUT"};
  p.allow_headers = {"authorization", "x-api-key"};
  const std::vector<PreflightCase> cases = {
      {"https://app.example.com", "PUT", std::nullopt, true},
      {"https://app.example.com", "DELETE", "x-api-key", true},
      {"https://app.example.com", "GET", std::nullopt, true},  // simple methods always
      {"https://app.example.com", "HEAD", std::nullopt, true},
      {"https://app.example.com", "POST", "Authorization", true},
      {"https://app.example.com", "PATCH", std::nullopt, false},  // not listed
      {"https://app.example.com", "put", std::nullopt, false},    // methods are case-sensitive
      {"https://app.example.com", "PUT", "x-api-key, x-other", false},  // one header not listed
      {"https://app.example.com", "PUT", "X-API-KEY", true},  // names are case-insensitive
      {"https://a.example.org", "PUT", std::nullopt, true},
      {"https://example.org", "PUT", std::nullopt, false},
      {"http://app.example.com", "PUT", std::nullopt, false},
      {"https://app.example.com:444", "PUT", std::nullopt, false},
      {"null", "PUT", std::nullopt, false},
  };
  for (const auto& c : cases) {
    std::optional<std::string_view> headers;
    if (c.headers) headers = *c.headers;
    const auto r = preflight(p, "OPTIONS", c.origin, c.method, headers);
    EXPECT_TRUE(r.is_preflight);
    EXPECT_EQ(r.allowed, c.allowed)
        << c.origin << " " << c.method << " " << c.headers.value_or("-");
    const auto h = asMap(r.headers);
    // Vary always; Allow-* only when allowed.
    EXPECT_EQ(h.at("Vary"),
              "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    EXPECT_EQ(h.count("Access-Control-Allow-Origin"), c.allowed ? 1u : 0u) << c.origin;
    if (!c.allowed) {
      EXPECT_EQ(h.size(), 1u);
    }
  }
}

TEST(Cors, AnyOrigin) {
  // "*" without credentials: the value is "*" itself, whatever the origin.
  config::CorsPolicy p = policy({"*"});
  p.max_age_s = 60;
  auto r = preflight(p, "OPTIONS", "https://x.test", "GET", std::nullopt);
  ASSERT_TRUE(r.allowed);
  EXPECT_EQ(asMap(r.headers).at("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(asMap(r.headers).at("Access-Control-Max-Age"), "60");
  EXPECT_EQ(asMap(actualResponseHeaders(p, "https://x.test")).at("Access-Control-Allow-Origin"),
            "*");
  // With credentials (refused by the translator and validate()): still "*", which browsers
  // refuse together with credentials, rather than the origin, which they would accept.
  p.allow_credentials = true;
  r = preflight(p, "OPTIONS", "https://x.test", "GET", std::nullopt);
  ASSERT_TRUE(r.allowed);
  EXPECT_EQ(asMap(r.headers).at("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(asMap(actualResponseHeaders(p, "https://x.test")).at("Access-Control-Allow-Origin"),
            "*");
}

TEST(Cors, ActualResponse) {
  config::CorsPolicy p = policy({"https://app.example.com"});
  p.expose_headers = {"x-request-id", "x-total"};
  p.allow_credentials = true;
  EXPECT_EQ(asMap(actualResponseHeaders(p, "https://app.example.com")),
            (std::map<std::string, std::string>{
                {"Access-Control-Allow-Origin", "https://app.example.com"},
                {"Access-Control-Allow-Credentials", "true"},
                {"Access-Control-Expose-Headers", "x-request-id, x-total"},
                {"Vary", "Origin"},
            }));
  p.allow_credentials = false;
  p.expose_headers.clear();
  EXPECT_EQ(asMap(actualResponseHeaders(p, "https://app.example.com")),
            (std::map<std::string, std::string>{
                {"Access-Control-Allow-Origin", "https://app.example.com"},
                {"Vary", "Origin"},
            }));
}

TEST(Cors, VaryAlways) {
  // Without an Origin, with a refused one, or an unsafe one: only Vary, so that a shared cache
  // keeps the answers for different origins apart.
  const auto p = policy({"https://app.example.com"});
  const CorsHeaders vary = {{"Vary", "Origin"}};
  EXPECT_EQ(actualResponseHeaders(p, std::nullopt), vary);
  EXPECT_EQ(actualResponseHeaders(p, "https://evil.test"), vary);
  EXPECT_EQ(actualResponseHeaders(p, "null"), vary);
  EXPECT_EQ(actualResponseHeaders(p, "https://app.example.com\r\nX: y"), vary);
  EXPECT_EQ(actualResponseHeaders(config::CorsPolicy{}, "https://app.example.com"), vary);
  const auto refused = preflight(p, "OPTIONS", "https://evil.test", "GET", std::nullopt);
  EXPECT_TRUE(refused.is_preflight);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(
      refused.headers,
      (CorsHeaders{
          {"Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}}));
}

}  // namespace
}  // namespace atrium::proxy::filters
