#include "proxy/http/header_rules.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <string>
#include <vector>

#include "proxy/http/request_id.h"

namespace atrium::proxy::http {
namespace {

namespace bhttp = boost::beast::http;

std::vector<std::string> all(const bhttp::fields& f, std::string_view name) {
  std::vector<std::string> out;
  auto [first, last] = f.equal_range(name);
  for (auto it = first; it != last; ++it) out.emplace_back(it->value());
  return out;
}

bool has(const bhttp::fields& f, std::string_view name) { return f.find(name) != f.end(); }

// ---- Transfer-Encoding -------------------------------------------------------------------

TEST(HeaderRules, IsPlainChunked) {
  for (const char* v : {"chunked", "Chunked", "CHUNKED", " chunked", "chunked ", "\tchunked\t"}) {
    EXPECT_TRUE(isPlainChunked(v)) << "'" << v << "'";
  }
  for (const char* v : {"", "gzip, chunked", "chunked, chunked", "identity", "chunkedx",
                        "chunked;q=1", "chunked,", "x chunked", "chun ked", "gzip"}) {
    EXPECT_FALSE(isPlainChunked(v)) << "'" << v << "'";
  }
}

// ---- Hop-by-hop ----------------------------------------------------------------------------

TEST(HeaderRules, RemoveHopByHopRemovesTheStandardSet) {
  bhttp::fields f;
  f.set("Connection", "keep-alive");
  f.set("Keep-Alive", "timeout=5");
  f.set("Proxy-Connection", "keep-alive");
  f.set("TE", "trailers");
  f.set("Trailer", "X-Checksum");
  f.set("Upgrade", "websocket");
  f.set("Proxy-Authorization", "Basic Zm9vOmJhcg==");
  f.set("Authorization", "Bearer t");
  f.set("Content-Type", "text/plain");
  f.set("Host", "example.com");
  removeHopByHop(f);
  for (const char* gone : {"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                           "Upgrade", "Proxy-Authorization"}) {
    EXPECT_FALSE(has(f, gone)) << gone;
  }
  EXPECT_EQ(f["Authorization"], "Bearer t");
  EXPECT_EQ(f["Content-Type"], "text/plain");
  EXPECT_EQ(f["Host"], "example.com");
}

TEST(HeaderRules, RemoveHopByHopRemovesHeadersListedInConnection) {
  bhttp::fields f;
  f.set("Connection", "close, X-Secret ,x-other");
  f.set("X-Secret", "s");
  f.set("X-Other", "o");
  f.set("X-Kept", "k");
  removeHopByHop(f);
  EXPECT_FALSE(has(f, "X-Secret"));
  EXPECT_FALSE(has(f, "X-Other"));
  EXPECT_EQ(f["X-Kept"], "k");
  EXPECT_FALSE(has(f, "Connection"));
}

TEST(HeaderRules, RemoveHopByHopReadsEveryConnectionHeader) {
  bhttp::fields f;
  f.insert("Connection", "keep-alive");
  f.insert("Connection", "X-Second");
  f.set("X-Second", "2");
  removeHopByHop(f);
  EXPECT_FALSE(has(f, "X-Second"));
  EXPECT_FALSE(has(f, "Connection"));
}

TEST(HeaderRules, ConnectionCannotRemoveMessageFraming) {
  // Dropping Content-Length or Transfer-Encoding while the body is still relayed would make the
  // next hop read the body as a new request (request smuggling on a pooled connection).
  bhttp::fields f;
  f.set("Connection", "Content-Length, Transfer-Encoding, Host, X-Gone");
  f.set("Content-Length", "5");
  f.set("Transfer-Encoding", "chunked");
  f.set("Host", "example.com");
  f.set("X-Gone", "1");
  removeHopByHop(f);
  EXPECT_EQ(f["Content-Length"], "5");
  EXPECT_EQ(f["Transfer-Encoding"], "chunked");
  EXPECT_EQ(f["Host"], "example.com");
  EXPECT_FALSE(has(f, "X-Gone"));
}

// ---- Upstream request --------------------------------------------------------------------

TEST(HeaderRules, PrepareUpstreamRequestSetsForwardingHeaders) {
  bhttp::fields f;
  f.set("Host", "Shop.Example.com:8080");
  f.set("X-Forwarded-Host", "spoofed.example");
  f.set("X-Forwarded-Proto", "https");
  prepareUpstreamRequest(f, "Shop.Example.com:8080", "10.1.2.3", 8080, "req-1");
  EXPECT_EQ(f["Host"], "Shop.Example.com:8080");  // passed unchanged
  EXPECT_EQ(f["X-Forwarded-For"], "10.1.2.3");
  EXPECT_EQ(f["X-Forwarded-Proto"], "http");
  EXPECT_EQ(f["X-Forwarded-Host"], "Shop.Example.com:8080");
  EXPECT_EQ(f["X-Forwarded-Port"], "8080");
  EXPECT_EQ(f["X-Request-Id"], "req-1");
  EXPECT_EQ(all(f, "X-Forwarded-Host").size(), 1u);
}

TEST(HeaderRules, PrepareUpstreamRequestHttpsScheme) {
  bhttp::fields f;
  prepareUpstreamRequest(f, "a.example", "::1", 8443, "id", "https");
  EXPECT_EQ(f["X-Forwarded-Proto"], "https");
  EXPECT_EQ(f["X-Forwarded-Port"], "8443");
  EXPECT_EQ(f["X-Forwarded-For"], "::1");
}

TEST(HeaderRules, XForwardedForIsAppended) {
  bhttp::fields f;
  f.set("X-Forwarded-For", "203.0.113.7, 198.51.100.2");
  prepareUpstreamRequest(f, "h", "10.0.0.9", 8080, "id");
  EXPECT_EQ(all(f, "X-Forwarded-For"),
            std::vector<std::string>{"203.0.113.7, 198.51.100.2, 10.0.0.9"});
}

TEST(HeaderRules, SeveralXForwardedForHeadersAreJoinedInOrder) {
  // Several field lines of one name are one comma-separated list (RFC 9110 §5.3).
  bhttp::fields f;
  f.insert("X-Forwarded-For", "203.0.113.7");
  f.insert("X-Forwarded-For", "198.51.100.2");
  prepareUpstreamRequest(f, "h", "10.0.0.9", 8080, "id");
  EXPECT_EQ(all(f, "X-Forwarded-For"),
            std::vector<std::string>{"203.0.113.7, 198.51.100.2, 10.0.0.9"});
}

TEST(HeaderRules, ClientSuppliedConsumerHeadersAreStripped) {
  bhttp::fields f;
  f.set("X-Consumer-Name", "admin");
  f.set("x-consumer-groups", "gold");
  f.set("X-CONSUMER-ANYTHING", "1");
  f.set("X-Consumerism", "kept");  // not the X-Consumer- prefix
  f.set("X-Custom", "kept");
  prepareUpstreamRequest(f, "h", "10.0.0.9", 8080, "id");
  EXPECT_FALSE(has(f, "X-Consumer-Name"));
  EXPECT_FALSE(has(f, "X-Consumer-Groups"));
  EXPECT_FALSE(has(f, "X-Consumer-Anything"));
  EXPECT_EQ(f["X-Consumerism"], "kept");
  EXPECT_EQ(f["X-Custom"], "kept");
}

TEST(HeaderRules, UpstreamRequestLosesHopByHopHeaders) {
  bhttp::fields f;
  f.set("Connection", "keep-alive, X-Hop");
  f.set("X-Hop", "1");
  f.set("Keep-Alive", "timeout=5");
  f.set("Proxy-Authorization", "Basic x");
  prepareUpstreamRequest(f, "h", "10.0.0.9", 8080, "id");
  EXPECT_FALSE(has(f, "Connection"));
  EXPECT_FALSE(has(f, "X-Hop"));
  EXPECT_FALSE(has(f, "Keep-Alive"));
  EXPECT_FALSE(has(f, "Proxy-Authorization"));
}

TEST(HeaderRules, TraceparentIsPropagatedWithANewSpan) {
  const std::string incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  bhttp::fields f;
  f.set("traceparent", incoming);
  prepareUpstreamRequest(f, "h", "10.0.0.9", 8080, "id");
  std::string out(f["traceparent"]);
  ASSERT_EQ(out.size(), 55u);
  EXPECT_EQ(out.substr(0, 36), incoming.substr(0, 36));    // version + trace id
  EXPECT_NE(out.substr(36, 16), incoming.substr(36, 16));  // new parent span
  EXPECT_EQ(out.substr(52), "-01");                        // flags kept
  EXPECT_EQ(all(f, "traceparent").size(), 1u);
}

TEST(HeaderRules, TraceparentIsCreatedWhenAbsent) {
  bhttp::fields f;
  prepareUpstreamRequest(f, "h", "10.0.0.9", 8080, "id");
  EXPECT_TRUE(RE2::FullMatch(std::string(f["traceparent"]), "00-[0-9a-f]{32}-[0-9a-f]{16}-01"))
      << f["traceparent"];
}

// ---- Downstream response -------------------------------------------------------------------

TEST(HeaderRules, PrepareDownstreamResponse) {
  bhttp::fields f;
  f.set("Server", "nginx/1.2");
  f.set("Connection", "close, X-Upstream-Hop");
  f.set("X-Upstream-Hop", "1");
  f.set("Keep-Alive", "timeout=5");
  f.set("Content-Type", "application/json");
  prepareDownstreamResponse(f, "req-9");
  EXPECT_EQ(f["Server"], "atrium");
  EXPECT_EQ(all(f, "Server").size(), 1u);
  EXPECT_TRUE(has(f, "Date"));
  EXPECT_EQ(f["X-Request-Id"], "req-9");
  EXPECT_FALSE(has(f, "Connection"));
  EXPECT_FALSE(has(f, "X-Upstream-Hop"));
  EXPECT_FALSE(has(f, "Keep-Alive"));
  EXPECT_EQ(f["Content-Type"], "application/json");
}

TEST(HeaderRules, UpstreamDateIsKept) {
  bhttp::fields f;
  f.set("Date", "Tue, 01 Jan 2030 00:00:00 GMT");
  prepareDownstreamResponse(f, "id");
  EXPECT_EQ(f["Date"], "Tue, 01 Jan 2030 00:00:00 GMT");
}

TEST(HeaderRules, HttpDateFormat) {
  std::string date(httpDate());
  EXPECT_TRUE(RE2::FullMatch(date,
                             "(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} "
                             "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} "
                             "[0-9]{2}:[0-9]{2}:[0-9]{2} GMT"))
      << date;
}

TEST(HeaderRules, TakeExpectContinue) {
  bhttp::fields f;
  f.set("Expect", "100-continue");
  EXPECT_TRUE(takeExpectContinue(f));
  EXPECT_FALSE(has(f, "Expect"));
  EXPECT_FALSE(takeExpectContinue(f));
  f.set("Expect", " 100-Continue ");
  EXPECT_TRUE(takeExpectContinue(f));
  f.set("Expect", "something-else");
  EXPECT_FALSE(takeExpectContinue(f));
  EXPECT_EQ(f["Expect"], "something-else");
}

// ---- Header modifier filter (Gateway API) ------------------------------------------------

TEST(HeaderModifier, SetReplaces) {
  bhttp::fields f;
  f.insert("X-A", "old1");
  f.insert("X-A", "old2");
  config::HeaderModifier mod;
  mod.set = {{"x-a", "new"}, {"X-New", "1"}};
  applyHeaderModifier(f, mod);
  EXPECT_EQ(all(f, "X-A"), std::vector<std::string>{"new"});
  EXPECT_EQ(f["X-New"], "1");
}

TEST(HeaderModifier, AddAppendsToAnExistingValue) {
  bhttp::fields f;
  f.set("X-B", "foo");
  config::HeaderModifier mod;
  mod.add = {{"x-b", "bar"}, {"X-Fresh", "1"}};
  applyHeaderModifier(f, mod);
  EXPECT_EQ(all(f, "X-B"), std::vector<std::string>{"foo,bar"});
  EXPECT_EQ(f["X-Fresh"], "1");
}

TEST(HeaderModifier, AddKeepsEveryExistingValue) {
  bhttp::fields f;
  f.insert("X-B", "one");
  f.insert("X-B", "two");
  config::HeaderModifier mod;
  mod.add = {{"X-B", "three"}};
  applyHeaderModifier(f, mod);
  EXPECT_EQ(all(f, "X-B"), std::vector<std::string>{"one,two,three"});
}

TEST(HeaderModifier, RemoveDeletesEveryValueAnyCase) {
  bhttp::fields f;
  f.insert("X-C", "1");
  f.insert("x-c", "2");
  f.set("X-D", "kept");
  config::HeaderModifier mod;
  mod.remove = {"X-c", "X-Absent"};
  applyHeaderModifier(f, mod);
  EXPECT_FALSE(has(f, "X-C"));
  EXPECT_EQ(f["X-D"], "kept");
}

TEST(HeaderModifier, SetThenAddThenRemove) {
  bhttp::fields f;
  config::HeaderModifier mod;
  mod.set = {{"X-A", "1"}};
  mod.add = {{"X-A", "2"}, {"X-Removed", "3"}};
  mod.remove = {"X-Removed"};
  applyHeaderModifier(f, mod);
  EXPECT_EQ(f["X-A"], "1,2");
  EXPECT_FALSE(has(f, "X-Removed"));
}

// ---- Path rewrite --------------------------------------------------------------------------

config::RouteMatch prefixMatch(std::string value) {
  config::RouteMatch m;
  m.path = {config::PathType::Prefix, std::move(value)};
  return m;
}

std::string rewrite(const std::string& matched_prefix, const std::string& replacement,
                    const std::string& path) {
  config::Route route;
  route.rewrite.path_prefix = replacement;
  return rewritePath(route, nullptr, prefixMatch(matched_prefix), path);
}

TEST(RewritePath, ReplacePrefixMatch) {
  // The Gateway API ReplacePrefixMatch table (HTTPPathModifier).
  struct Case {
    const char* prefix;
    const char* path;
    const char* replacement;
    const char* expected;
  };
  for (const Case& c : std::vector<Case>{
           {"/foo", "/foo/bar", "/xyz", "/xyz/bar"},
           {"/foo", "/foo/bar", "/xyz/", "/xyz/bar"},
           {"/foo/", "/foo/bar", "/xyz", "/xyz/bar"},
           {"/foo/", "/foo/bar", "/xyz/", "/xyz/bar"},
           {"/foo", "/foo", "/xyz", "/xyz"},
           {"/foo", "/foo/", "/xyz", "/xyz/"},
           {"/foo/", "/foo", "/xyz", "/xyz"},
           {"/foo/", "/foo/", "/xyz", "/xyz/"},
           {"/foo", "/foo/bar", "/", "/bar"},
           {"/foo", "/foo", "/", "/"},
           {"/foo", "/foo/", "/", "/"},
           {"/foo/", "/foo", "/", "/"},
           {"/", "/bar", "/xyz", "/xyz/bar"},
           {"/api/v1", "/api/v1/orders/7", "/orders", "/orders/orders/7"},
       }) {
    EXPECT_EQ(rewrite(c.prefix, c.replacement, c.path), c.expected)
        << c.prefix << " → " << c.replacement << " on " << c.path;
  }
}

TEST(RewritePath, FullPathReplacesEverything) {
  config::Route route;
  route.rewrite.full_path = "/fixed";
  EXPECT_EQ(rewritePath(route, nullptr, prefixMatch("/foo"), "/foo/bar/baz"), "/fixed");
}

TEST(RewritePath, PrefixRewriteNeedsAPrefixMatch) {
  config::Route route;
  route.rewrite.path_prefix = "/xyz";
  config::RouteMatch m;
  m.path = {config::PathType::Exact, "/foo"};
  EXPECT_EQ(rewritePath(route, nullptr, m, "/foo"), "/foo");
}

TEST(RewritePath, NoRewriteKeepsThePath) {
  config::Route route;
  EXPECT_EQ(rewritePath(route, nullptr, prefixMatch("/foo"), "/foo/bar"), "/foo/bar");
}

// The regex rewrite exactly as the Ingress translator produces it for ingress-nginx's
// `rewrite-target` (path "(?i)^(?:<path>)", "$n" turned into "\n"; see the "rewrite" entries of
// tests/testdata/translator/ingress_annotations.out.json). Like nginx's `rewrite`, the whole
// path becomes the substitution.
std::string regexRewrite(const std::string& ingress_path, const std::string& substitution,
                         const std::string& path) {
  config::Route route;
  route.rewrite.regex = "(?i)^(?:" + ingress_path + ")";
  route.rewrite.substitution = substitution;
  RE2 re(route.rewrite.regex);
  EXPECT_TRUE(re.ok()) << re.error();
  config::RouteMatch m;
  m.path = {config::PathType::RegularExpression, "(?i)(?:" + ingress_path + ").*"};
  return rewritePath(route, &re, m, path);
}

TEST(RewritePath, RegexWithCaptureReferences) {
  // ingress-nginx docs: path /something(/|$)(.*) with rewrite-target /$2.
  EXPECT_EQ(regexRewrite("/something(/|$)(.*)", "/\\2", "/something"), "/");
  EXPECT_EQ(regexRewrite("/something(/|$)(.*)", "/\\2", "/something/"), "/");
  EXPECT_EQ(regexRewrite("/something(/|$)(.*)", "/\\2", "/something/new"), "/new");
  EXPECT_EQ(regexRewrite("/something(/|$)(.*)", "/\\2", "/Something/new/x"), "/new/x");
  EXPECT_EQ(regexRewrite("/api/(v[0-9]+)/(.*)", "/\\2/\\1", "/api/v2/items"), "/items/v2");
}

TEST(RewritePath, RegexWithoutCapturesReplacesTheWholePath) {
  // rewrite-target "/" on path "/foo": nginx's `rewrite (?i)/foo / break;` sends "/" for
  // every request under /foo, not "//bar".
  EXPECT_EQ(regexRewrite("/foo", "/", "/foo/bar"), "/");
  EXPECT_EQ(regexRewrite("/foo", "/", "/foo"), "/");
  EXPECT_EQ(regexRewrite("/foo", "/new", "/foo/bar"), "/new");
}

TEST(RewritePath, RegexSubstitutionWithoutLeadingSlashGetsOne) {
  EXPECT_EQ(regexRewrite("/app/(.*)", "\\1", "/app/x/y"), "/x/y");
}

TEST(RewritePath, RegexThatDoesNotMatchKeepsThePath) {
  EXPECT_EQ(regexRewrite("/foo(/|$)(.*)", "/\\2", "/bar/x"), "/bar/x");
}

// ---- Redirect Location ---------------------------------------------------------------------

NormalizedTarget target(std::string path, std::string_view query = {}) {
  NormalizedTarget t;
  t.path = std::move(path);
  t.query = query;
  return t;
}

TEST(RedirectLocation, KeepsRequestSchemeHostAndPathByDefault) {
  config::Redirect r;
  EXPECT_EQ(
      redirectLocation(r, prefixMatch("/"), target("/a/b"), "shop.example.com:8080", "http", 8080),
      "http://shop.example.com/a/b");
}

TEST(RedirectLocation, SchemeChangeDropsTheRequestPort) {
  config::Redirect r;
  r.scheme = "https";
  EXPECT_EQ(redirectLocation(r, prefixMatch("/"), target("/login"), "shop.example.com:8080", "http",
                             8080),
            "https://shop.example.com/login");
}

TEST(RedirectLocation, DefaultPortsAreNotWritten) {
  config::Redirect r;
  r.scheme = "https";
  r.port = 443;
  EXPECT_EQ(redirectLocation(r, prefixMatch("/"), target("/"), "h.example", "http", 8080),
            "https://h.example/");
  r.scheme = "http";
  r.port = 80;
  EXPECT_EQ(redirectLocation(r, prefixMatch("/"), target("/"), "h.example", "https", 8443),
            "http://h.example/");
}

TEST(RedirectLocation, OtherPortsAreWritten) {
  config::Redirect r;
  r.scheme = "https";
  r.port = 8443;
  EXPECT_EQ(redirectLocation(r, prefixMatch("/"), target("/x"), "h.example", "http", 8080),
            "https://h.example:8443/x");
  r.scheme = "http";
  r.port = 443;
  EXPECT_EQ(redirectLocation(r, prefixMatch("/"), target("/x"), "h.example", "http", 8080),
            "http://h.example:443/x");
  // Port 80 is not the default of the request's https scheme.
  r.scheme.clear();
  r.port = 80;
  EXPECT_EQ(redirectLocation(r, prefixMatch("/"), target("/x"), "h.example", "https", 8443),
            "https://h.example:80/x");
}

TEST(RedirectLocation, Hostname) {
  config::Redirect r;
  r.hostname = "new.example.com";
  EXPECT_EQ(
      redirectLocation(r, prefixMatch("/"), target("/x"), "old.example.com:8080", "http", 8080),
      "http://new.example.com/x");
}

TEST(RedirectLocation, Ipv6RequestHostKeepsItsBrackets) {
  config::Redirect r;
  r.scheme = "https";
  EXPECT_EQ(redirectLocation(r, prefixMatch("/"), target("/x"), "[::1]:8080", "http", 8080),
            "https://[::1]/x");
  EXPECT_EQ(redirectLocation(r, prefixMatch("/"), target("/x"), "[::1]", "http", 8080),
            "https://[::1]/x");
}

TEST(RedirectLocation, FullPath) {
  config::Redirect r;
  r.full_path = "/moved";
  EXPECT_EQ(redirectLocation(r, prefixMatch("/old"), target("/old/x"), "h", "http", 8080),
            "http://h/moved");
}

TEST(RedirectLocation, PathPrefix) {
  config::Redirect r;
  r.path_prefix = "/y";
  EXPECT_EQ(redirectLocation(r, prefixMatch("/old"), target("/old/a/b"), "h", "http", 8080),
            "http://h/y/a/b");
  EXPECT_EQ(redirectLocation(r, prefixMatch("/old"), target("/old"), "h", "http", 8080),
            "http://h/y");
}

TEST(RedirectLocation, QueryIsKept) {
  config::Redirect r;
  r.scheme = "https";
  EXPECT_EQ(redirectLocation(r, prefixMatch("/"), target("/s", "q=a%20b&x=1"), "h", "http", 8080),
            "https://h/s?q=a%20b&x=1");
  r.full_path = "/t";
  EXPECT_EQ(redirectLocation(r, prefixMatch("/"), target("/s", "q=1"), "h", "http", 8080),
            "https://h/t?q=1");
}

TEST(RedirectLocation, Everything) {
  config::Redirect r;
  r.scheme = "https";
  r.hostname = "x";
  r.port = 8443;
  r.path_prefix = "/y";
  r.status_code = 301;
  EXPECT_EQ(redirectLocation(r, prefixMatch("/v1"), target("/v1/orders", "page=2"),
                             "api.example.com", "http", 8080),
            "https://x:8443/y/orders?page=2");
}

}  // namespace
}  // namespace atrium::proxy::http
