#include "proxy/router/route_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace atrium::proxy::router {
namespace {

using config::PathType;
using config::StringMatchType;

// ---- Snapshot builders -------------------------------------------------------------------

config::PathMatch exact(std::string v) { return {PathType::Exact, std::move(v)}; }
config::PathMatch prefix(std::string v) { return {PathType::Prefix, std::move(v)}; }
config::PathMatch regex(std::string v) { return {PathType::RegularExpression, std::move(v)}; }

config::RouteMatch on(config::PathMatch path) {
  config::RouteMatch m;
  m.path = std::move(path);
  return m;
}

config::StringMatch is(std::string name, std::string value) {
  return {std::move(name), StringMatchType::Exact, std::move(value)};
}
config::StringMatch like(std::string name, std::string pattern) {
  return {std::move(name), StringMatchType::RegularExpression, std::move(pattern)};
}

config::RouteMatch with(config::RouteMatch m, std::string method,
                        std::vector<config::StringMatch> headers = {},
                        std::vector<config::StringMatch> query = {}) {
  m.method = std::move(method);
  m.headers = std::move(headers);
  m.query_params = std::move(query);
  return m;
}

config::Route route(std::string name, std::vector<config::RouteMatch> matches,
                    uint32_t object_rank = 0, uint32_t rule_index = 0) {
  config::Route r;
  r.name = std::move(name);
  r.source = "test";
  r.object_rank = object_rank;
  r.rule_index = rule_index;
  r.matches = std::move(matches);
  r.backends.push_back({"default/svc:80", 1, ""});
  return r;
}

config::Route defaultBackend(std::string name, uint32_t object_rank = 0) {
  config::Route r = route(std::move(name), {}, object_rank);
  r.is_default_backend = true;
  return r;
}

// A request's headers as a client sent them. Like a real source it relies on the contract that
// lookups come with lower-case names: it lower-cases what the client sent and compares exactly.
class Headers : public HeaderSource {
 public:
  Headers() = default;
  Headers(std::initializer_list<std::pair<std::string, std::string>> list) {
    for (auto [name, value] : list) {
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      list_.emplace_back(std::move(name), std::move(value));
    }
  }
  std::optional<std::string_view> find(std::string_view lower_name) const override {
    for (const auto& [name, value] : list_) {
      if (name == lower_name) return std::string_view(value);
    }
    return std::nullopt;
  }

 private:
  std::vector<std::pair<std::string, std::string>> list_;
};

struct Request {
  std::string host = "example.com";
  std::string path = "/";
  std::string method = "GET";
  std::string query;
  Headers headers;
};

// Owns the snapshot (the table points into it) and answers "which route name served this".
class Table {
 public:
  explicit Table(config::ConfigSnapshot snapshot) : snapshot_(std::move(snapshot)) {
    table_ = RouteTable::build(snapshot_, &errors_);
  }
  static Table hosts(std::vector<config::VirtualHost> hosts) {
    config::ConfigSnapshot s;
    s.virtual_hosts = std::move(hosts);
    return Table(std::move(s));
  }
  // One host ("" = hostless) with these routes.
  static Table of(std::vector<config::Route> routes, std::string host = "") {
    return hosts({{std::move(host), std::move(routes)}});
  }

  RouteHit hit(const Request& r) const {
    RequestView view{r.host, r.path, r.query, r.method, &r.headers};
    return table_->match(view);
  }
  // The name of the route that serves the request, "404" when none does.
  std::string serve(const Request& r) const {
    RouteHit h = hit(r);
    return h ? h.route->name : "404";
  }
  std::string path(std::string p, std::string host = "example.com") const {
    Request r;
    r.path = std::move(p);
    r.host = std::move(host);
    return serve(r);
  }
  std::string host(std::string h, std::string p = "/") const {
    return path(std::move(p), std::move(h));
  }

  const RouteTable& table() const { return *table_; }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  config::ConfigSnapshot snapshot_;
  std::vector<std::string> errors_;
  std::shared_ptr<const RouteTable> table_;
};

// ---- Ingress path semantics (Kubernetes Ingress docs, "Examples" table) -----------------

TEST(RouteTableIngressPaths, PrefixRootMatchesEveryPath) {
  Table t = Table::of({route("root", {on(prefix("/"))})});
  for (const char* p : {"/", "/a", "/a/", "/aaa/bbb/ccc", "/.well-known/x"}) {
    EXPECT_EQ(t.path(p), "root") << p;
  }
}

TEST(RouteTableIngressPaths, ExactIsLiteral) {
  Table t = Table::of({route("foo", {on(exact("/foo"))})});
  EXPECT_EQ(t.path("/foo"), "foo");
  EXPECT_EQ(t.path("/bar"), "404");
  EXPECT_EQ(t.path("/foo/"), "404");  // Exact /foo does not match /foo/
  EXPECT_EQ(t.path("/foo/bar"), "404");
  EXPECT_EQ(t.path("/fo"), "404");
}

TEST(RouteTableIngressPaths, ExactWithTrailingSlashDoesNotMatchWithout) {
  Table t = Table::of({route("foo/", {on(exact("/foo/"))})});
  EXPECT_EQ(t.path("/foo/"), "foo/");
  EXPECT_EQ(t.path("/foo"), "404");
}

TEST(RouteTableIngressPaths, ExactIsCaseSensitive) {
  Table t = Table::of({route("foo", {on(exact("/foo"))}), route("Foo", {on(exact("/Foo"))})});
  EXPECT_EQ(t.path("/foo"), "foo");
  EXPECT_EQ(t.path("/Foo"), "Foo");
  EXPECT_EQ(t.path("/FOO"), "404");
}

TEST(RouteTableIngressPaths, PrefixIsCaseSensitive) {
  Table t = Table::of({route("api", {on(prefix("/api"))})});
  EXPECT_EQ(t.path("/api/x"), "api");
  EXPECT_EQ(t.path("/API/x"), "404");
}

TEST(RouteTableIngressPaths, PrefixIsElementWise) {
  Table t = Table::of({route("aaa", {on(prefix("/aaa"))})});
  EXPECT_EQ(t.path("/aaa"), "aaa");
  EXPECT_EQ(t.path("/aaa/"), "aaa");
  EXPECT_EQ(t.path("/aaa/x"), "aaa");
  EXPECT_EQ(t.path("/aaa/x/y/"), "aaa");
  EXPECT_EQ(t.path("/aaaccc"), "404");  // never a string prefix
  EXPECT_EQ(t.path("/aa"), "404");
  EXPECT_EQ(t.path("/"), "404");
  EXPECT_EQ(t.path("/ccc"), "404");
}

TEST(RouteTableIngressPaths, PrefixWithTrailingSlashIgnoresIt) {
  // Docs: Prefix /foo/ matches /foo and /foo/; Prefix /aaa/bbb/ matches /aaa/bbb.
  Table t = Table::of(
      {route("foo/", {on(prefix("/foo/"))}), route("aaa/bbb/", {on(prefix("/aaa/bbb/"))})});
  EXPECT_EQ(t.path("/foo"), "foo/");
  EXPECT_EQ(t.path("/foo/"), "foo/");
  EXPECT_EQ(t.path("/foo/x"), "foo/");
  EXPECT_EQ(t.path("/aaa/bbb"), "aaa/bbb/");
  EXPECT_EQ(t.path("/aaa/bbb/"), "aaa/bbb/");
  EXPECT_EQ(t.path("/aaa/bbbxyz"), "404");
}

TEST(RouteTableIngressPaths, PrefixMatchesTrailingSlashAndSubpaths) {
  Table t = Table::of({route("aaa/bbb", {on(prefix("/aaa/bbb"))})});
  EXPECT_EQ(t.path("/aaa/bbb"), "aaa/bbb");
  EXPECT_EQ(t.path("/aaa/bbb/"), "aaa/bbb");
  EXPECT_EQ(t.path("/aaa/bbb/ccc"), "aaa/bbb");
  EXPECT_EQ(t.path("/aaa/bbbxyz"), "404");
}

TEST(RouteTableIngressPaths, PrefixDoesNotMatchPartialLastSegment) {
  Table t = Table::of({route("aaa/bb", {on(prefix("/aaa/bb"))})});
  EXPECT_EQ(t.path("/aaa/bbb"), "404");
  EXPECT_EQ(t.path("/aaa/bb"), "aaa/bb");
}

TEST(RouteTableIngressPaths, LongestPrefixWinsRegardlessOfOrder) {
  // Docs: Prefix /, /aaa → /aaa/ccc matches /aaa; /, /aaa, /aaa/bbb → /aaa/bbb and /ccc → /.
  std::vector<config::Route> ordered = {route("root", {on(prefix("/"))}, 0, 0),
                                        route("aaa", {on(prefix("/aaa"))}, 0, 1),
                                        route("aaa/bbb", {on(prefix("/aaa/bbb"))}, 0, 2)};
  std::vector<config::Route> reversed(ordered.rbegin(), ordered.rend());
  for (auto routes : {ordered, reversed}) {
    Table t = Table::of(routes);
    EXPECT_EQ(t.path("/aaa/ccc"), "aaa");
    EXPECT_EQ(t.path("/aaa/bbb"), "aaa/bbb");
    EXPECT_EQ(t.path("/aaa/bbb/ccc"), "aaa/bbb");
    EXPECT_EQ(t.path("/aaa"), "aaa");
    EXPECT_EQ(t.path("/ccc"), "root");
    EXPECT_EQ(t.path("/"), "root");
  }
}

TEST(RouteTableIngressPaths, LongestPrefixBeatsOlderObjectAndListOrder) {
  Table t = Table::of({route("old-root", {on(prefix("/"))}, /*object_rank=*/0, 0),
                       route("new-api", {on(prefix("/api"))}, /*object_rank=*/5, 9)});
  EXPECT_EQ(t.path("/api/v1"), "new-api");
  EXPECT_EQ(t.path("/other"), "old-root");
}

TEST(RouteTableIngressPaths, UnmatchedPathWithoutDefaultIs404) {
  Table t = Table::of({route("aaa", {on(prefix("/aaa"))})});
  EXPECT_EQ(t.path("/ccc"), "404");
}

TEST(RouteTableIngressPaths, ExactBeatsPrefix) {
  // Docs: /foo (Prefix) and /foo (Exact), request /foo → the Exact one.
  for (bool exact_first : {true, false}) {
    std::vector<config::Route> routes = {route("prefix", {on(prefix("/foo"))}, 0, 0),
                                         route("exact", {on(exact("/foo"))}, 1, 1)};
    if (exact_first) std::swap(routes[0], routes[1]);
    Table t = Table::of(routes);
    EXPECT_EQ(t.path("/foo"), "exact");
    EXPECT_EQ(t.path("/foo/"), "prefix");
    EXPECT_EQ(t.path("/foo/x"), "prefix");
  }
}

TEST(RouteTableIngressPaths, DefaultBackendCatchesUnmatchedOnly) {
  Table t = Table::of({defaultBackend("default", /*object_rank=*/0),
                       route("aaa", {on(prefix("/aaa"))}, /*object_rank=*/3)},
                      "foo.com");
  EXPECT_EQ(t.path("/aaa/x", "foo.com"), "aaa");
  EXPECT_EQ(t.path("/ccc", "foo.com"), "default");
  EXPECT_EQ(t.path("/", "foo.com"), "default");
}

TEST(RouteTableIngressPaths, DefaultBackendIsBelowEveryOtherKindOfRoute) {
  Table t = Table::of({defaultBackend("default"), route("rx", {on(regex("/r[0-9]+"))}, 9),
                       route("exact", {on(exact("/e"))}, 9)});
  EXPECT_EQ(t.path("/r1"), "rx");
  EXPECT_EQ(t.path("/e"), "exact");
  EXPECT_EQ(t.path("/rx"), "default");
}

// ---- Hosts -------------------------------------------------------------------------------

TEST(RouteTableHosts, ExactHost) {
  Table t = Table::of({route("foo", {on(prefix("/"))})}, "foo.com");
  EXPECT_EQ(t.host("foo.com"), "foo");
  EXPECT_EQ(t.host("bar.com"), "404");
  EXPECT_EQ(t.host("www.foo.com"), "404");
  EXPECT_EQ(t.host("oo.com"), "404");
}

TEST(RouteTableHosts, HostIsCaseInsensitive) {
  Table t = Table::of({route("foo", {on(prefix("/"))})}, "foo.com");
  EXPECT_EQ(t.host("FOO.com"), "foo");
  EXPECT_EQ(t.host("Foo.Com"), "foo");
}

TEST(RouteTableHosts, PortInHostIsIgnored) {
  Table t = Table::of({route("foo", {on(prefix("/"))})}, "foo.com");
  EXPECT_EQ(t.host("foo.com:8080"), "foo");
  EXPECT_EQ(t.host("foo.com:80"), "foo");
  EXPECT_EQ(t.host("FOO.COM:443"), "foo");
}

TEST(RouteTableHosts, TrailingDotNamesTheSameHost) {
  Table t = Table::of({route("foo", {on(prefix("/"))})}, "foo.com");
  EXPECT_EQ(t.host("foo.com."), "foo");
  EXPECT_EQ(t.host("foo.com.:8080"), "foo");
}

TEST(RouteTableHosts, WildcardMatchesExactlyOneLabel) {
  Table t = Table::of({route("wild", {on(prefix("/"))})}, "*.foo.com");
  EXPECT_EQ(t.host("bar.foo.com"), "wild");
  EXPECT_EQ(t.host("BAR.foo.com:8080"), "wild");
  EXPECT_EQ(t.host("foo.com"), "404");
  EXPECT_EQ(t.host("a.b.foo.com"), "404");
  EXPECT_EQ(t.host("barfoo.com"), "404");
  EXPECT_EQ(t.host(".foo.com"), "404");
}

TEST(RouteTableHosts, ExactHostBeatsWildcard) {
  Table t = Table::hosts({{"*.foo.com", {route("wild", {on(prefix("/"))})}},
                          {"bar.foo.com", {route("bar", {on(prefix("/"))})}}});
  EXPECT_EQ(t.host("bar.foo.com"), "bar");
  EXPECT_EQ(t.host("baz.foo.com"), "wild");
}

TEST(RouteTableHosts, HostlessTableIsTheFallback) {
  Table t = Table::hosts({{"", {route("any", {on(prefix("/"))})}},
                          {"foo.com", {route("foo", {on(prefix("/"))})}},
                          {"*.bar.com", {route("bar", {on(prefix("/"))})}}});
  EXPECT_EQ(t.host("foo.com"), "foo");
  EXPECT_EQ(t.host("x.bar.com"), "bar");
  EXPECT_EQ(t.host("other.com"), "any");
  EXPECT_EQ(t.host("bar.com"), "any");
  EXPECT_EQ(t.host(""), "any");  // HTTP/1.0 without Host
  EXPECT_EQ(t.host("10.0.0.1:8080"), "any");
}

TEST(RouteTableHosts, NoFallThroughOnceAHostTableMatched) {
  Table t = Table::hosts({{"", {route("any", {on(prefix("/"))})}},
                          {"foo.com", {route("foo-api", {on(prefix("/api"))})}},
                          {"*.bar.com", {route("bar-api", {on(exact("/api"))})}}});
  EXPECT_EQ(t.path("/api", "foo.com"), "foo-api");
  EXPECT_EQ(t.path("/other", "foo.com"), "404");
  EXPECT_EQ(t.path("/api", "x.bar.com"), "bar-api");
  EXPECT_EQ(t.path("/other", "x.bar.com"), "404");
  EXPECT_EQ(t.path("/other", "elsewhere.com"), "any");
}

TEST(RouteTableHosts, Ipv6LiteralHost) {
  Table hostless = Table::of({route("any", {on(prefix("/"))})});
  EXPECT_EQ(hostless.host("[::1]:8080"), "any");
  EXPECT_EQ(hostless.host("[2001:db8::1]"), "any");

  Table t = Table::hosts(
      {{"[::1]", {route("v6", {on(prefix("/"))})}}, {"", {route("any", {on(prefix("/"))})}}});
  EXPECT_EQ(t.host("[::1]:8080"), "v6");
  EXPECT_EQ(t.host("[::1]"), "v6");
  EXPECT_EQ(t.host("[::2]:8080"), "any");
}

TEST(RouteTableHosts, NoTableAtAllIs404) {
  Table t = Table::hosts({});
  EXPECT_EQ(t.host("foo.com"), "404");
  Table only_host = Table::of({route("foo", {on(prefix("/"))})}, "foo.com");
  EXPECT_EQ(only_host.host("bar.com"), "404");
}

TEST(RouteTableHosts, CanonicalHost) {
  char buf[64];
  EXPECT_EQ(RouteTable::canonicalHost("Foo.COM:8080", buf, sizeof(buf)), "foo.com");
  EXPECT_EQ(RouteTable::canonicalHost("[::1]:8443", buf, sizeof(buf)), "[::1]");
  EXPECT_EQ(RouteTable::canonicalHost("[2001:DB8::1]", buf, sizeof(buf)), "[2001:db8::1]");
  EXPECT_EQ(RouteTable::canonicalHost("a.com.", buf, sizeof(buf)), "a.com");
  EXPECT_EQ(RouteTable::canonicalHost("", buf, sizeof(buf)), "");
}

// ---- APIRoute precedence (Gateway API) -----------------------------------------------------

TEST(RouteTablePrecedence, ExactBeatsPrefixWithMoreConditions) {
  Table t = Table::of(
      {route("prefix", {with(on(prefix("/v1/orders")), "GET", {is("x-a", "1")}, {is("q", "1")})},
             0),
       route("exact", {on(exact("/v1/orders"))}, 5)});
  Request r;
  r.path = "/v1/orders";
  r.query = "q=1";
  r.headers = Headers({{"X-A", "1"}});
  EXPECT_EQ(t.serve(r), "exact");
}

TEST(RouteTablePrecedence, LongestPrefixBeatsMethodAndHeaders) {
  Table t = Table::of({route("short", {with(on(prefix("/v1")), "GET", {is("x-a", "1")})}, 0),
                       route("long", {on(prefix("/v1/orders"))}, 5)});
  Request r;
  r.path = "/v1/orders/7";
  r.headers = Headers({{"x-a", "1"}});
  EXPECT_EQ(t.serve(r), "long");
  r.path = "/v1/users";
  EXPECT_EQ(t.serve(r), "short");
}

TEST(RouteTablePrecedence, PrefixBeatsRegularExpression) {
  Table t = Table::of({route("regex", {with(on(regex("/v1/.*")), "GET", {is("x-a", "1")})}, 0),
                       route("prefix", {on(prefix("/"))}, 5)});
  Request r;
  r.path = "/v1/x";
  r.headers = Headers({{"x-a", "1"}});
  EXPECT_EQ(t.serve(r), "prefix");
}

TEST(RouteTablePrecedence, RegularExpressionMustMatchTheWholePath) {
  Table t = Table::of({route("regex", {on(regex("/v[0-9]+/items"))})});
  EXPECT_EQ(t.path("/v2/items"), "regex");
  EXPECT_EQ(t.path("/v2/items/3"), "404");
  EXPECT_EQ(t.path("/x/v2/items"), "404");
}

TEST(RouteTablePrecedence, RegularExpressionBeatsDefaultBackendOnly) {
  Table t = Table::of({defaultBackend("default"), route("regex", {on(regex("/v[0-9]+/.*"))}, 3)});
  EXPECT_EQ(t.path("/v2/x"), "regex");
  EXPECT_EQ(t.path("/w/x"), "default");
}

TEST(RouteTablePrecedence, MethodMatchBeatsNoMethod) {
  Table t = Table::of(
      {route("any", {on(prefix("/x"))}, 0), route("get", {with(on(prefix("/x")), "GET")}, 5)});
  Request r;
  r.path = "/x";
  EXPECT_EQ(t.serve(r), "get");
  r.method = "POST";
  EXPECT_EQ(t.serve(r), "any");
}

TEST(RouteTablePrecedence, MethodBeatsMoreHeaders) {
  Table t =
      Table::of({route("headers", {with(on(prefix("/x")), "", {is("a", "1"), is("b", "2")})}, 0),
                 route("method", {with(on(prefix("/x")), "GET")}, 5)});
  Request r;
  r.path = "/x";
  r.headers = Headers({{"a", "1"}, {"b", "2"}});
  EXPECT_EQ(t.serve(r), "method");
}

TEST(RouteTablePrecedence, MoreHeadersBeatFewer) {
  Table t =
      Table::of({route("one", {with(on(prefix("/x")), "", {is("a", "1")})}, 0, 0),
                 route("two", {with(on(prefix("/x")), "", {is("a", "1"), is("b", "2")})}, 5, 1)});
  Request r;
  r.path = "/x";
  r.headers = Headers({{"a", "1"}, {"b", "2"}});
  EXPECT_EQ(t.serve(r), "two");
  r.headers = Headers({{"a", "1"}});
  EXPECT_EQ(t.serve(r), "one");
}

TEST(RouteTablePrecedence, MoreHeadersBeatMoreQueryParams) {
  Table t =
      Table::of({route("query", {with(on(prefix("/x")), "", {}, {is("p", "1"), is("q", "2")})}, 0),
                 route("header", {with(on(prefix("/x")), "", {is("a", "1")})}, 5)});
  Request r;
  r.path = "/x";
  r.query = "p=1&q=2";
  r.headers = Headers({{"a", "1"}});
  EXPECT_EQ(t.serve(r), "header");
}

TEST(RouteTablePrecedence, MoreQueryParamsBeatFewer) {
  Table t =
      Table::of({route("one", {with(on(prefix("/x")), "", {}, {is("p", "1")})}, 0),
                 route("two", {with(on(prefix("/x")), "", {}, {is("p", "1"), is("q", "2")})}, 5)});
  Request r;
  r.path = "/x";
  r.query = "p=1&q=2";
  EXPECT_EQ(t.serve(r), "two");
  r.query = "p=1";
  EXPECT_EQ(t.serve(r), "one");
}

TEST(RouteTablePrecedence, OlderObjectBeatsNewer) {
  Table t = Table::of(
      {route("newer", {on(prefix("/x"))}, 7, 0), route("older", {on(prefix("/x"))}, 2, 4)});
  EXPECT_EQ(t.path("/x"), "older");
}

TEST(RouteTablePrecedence, ThenRuleOrderThenMatchOrder) {
  Table t = Table::of({route("rule-1", {on(prefix("/x"))}, 3, 1),
                       route("rule-0", {on(prefix("/y")), on(prefix("/x"))}, 3, 0)});
  RouteHit h = t.hit(Request{"example.com", "/x"});
  ASSERT_TRUE(h);
  EXPECT_EQ(h.route->name, "rule-0");
  EXPECT_EQ(h.match->path.value, "/x");  // the match that selected it
  EXPECT_EQ(t.table().routes()[h.route_id], h.route);
}

TEST(RouteTablePrecedence, FirstMatchOfARouteWinsWhenSeveralHold) {
  config::RouteMatch a = with(on(prefix("/x")), "", {is("h", "1")});
  config::RouteMatch b = with(on(prefix("/x")), "", {is("g", "1")});
  Table t = Table::of({route("r", {a, b})});
  Request r;
  r.path = "/x";
  r.headers = Headers({{"g", "1"}, {"h", "1"}});
  RouteHit h = t.hit(r);
  ASSERT_TRUE(h);
  EXPECT_EQ(h.match->headers.front().name, "h");
}

TEST(RouteTablePrecedence, FailedConditionsFallBackToShorterPrefix) {
  Table t = Table::of({route("root", {on(prefix("/"))}, 9),
                       route("v2", {with(on(prefix("/api")), "", {is("x-version", "2")})}, 0)});
  Request r;
  r.path = "/api/a";
  EXPECT_EQ(t.serve(r), "root");
  r.headers = Headers({{"X-Version", "2"}});
  EXPECT_EQ(t.serve(r), "v2");
}

TEST(RouteTablePrecedence, FailedExactConditionsFallBackToPrefix) {
  Table t = Table::of({route("prefix", {on(prefix("/a"))}, 9),
                       route("exact-post", {with(on(exact("/a")), "POST")}, 0)});
  Request r;
  r.path = "/a";
  EXPECT_EQ(t.serve(r), "prefix");
  r.method = "POST";
  EXPECT_EQ(t.serve(r), "exact-post");
}

TEST(RouteTablePrecedence, ListOrderOfSnapshotDoesNotMatter) {
  std::vector<config::Route> routes = {
      route("plain", {on(prefix("/x"))}, 0, 0),
      route("method", {with(on(prefix("/x")), "GET")}, 4, 0),
      route("method-header", {with(on(prefix("/x")), "GET", {is("a", "1")})}, 8, 0),
  };
  for (int rotation = 0; rotation < 3; ++rotation) {
    Table t = Table::of(routes);
    Request r;
    r.path = "/x";
    r.headers = Headers({{"a", "1"}});
    EXPECT_EQ(t.serve(r), "method-header");
    r.headers = Headers();
    EXPECT_EQ(t.serve(r), "method");
    r.method = "PUT";
    EXPECT_EQ(t.serve(r), "plain");
    std::rotate(routes.begin(), routes.begin() + 1, routes.end());
  }
}

// ---- Conditions ------------------------------------------------------------------------------

TEST(RouteTableConditions, HeaderNamesAreCaseInsensitiveValuesAreNot) {
  Table t = Table::of({route("v2", {with(on(prefix("/")), "", {is("x-api-version", "2")})})});
  for (const char* name : {"X-Api-Version", "x-api-version", "X-API-VERSION"}) {
    Request r;
    r.headers = Headers({{name, "2"}});
    EXPECT_EQ(t.serve(r), "v2") << name;
  }
  Request r;
  r.headers = Headers({{"X-Api-Version", "2 "}});
  EXPECT_EQ(t.serve(r), "404");
  r.headers = Headers({{"X-Api-Version", "v2"}});
  EXPECT_EQ(t.serve(r), "404");
  r.headers = Headers();
  EXPECT_EQ(t.serve(r), "404");
}

TEST(RouteTableConditions, MixedCaseHeaderNameInSnapshotStillMatches) {
  // The translator stores header names lower-case, but a snapshot decoded from JSON may not.
  Table t = Table::of({route("v2", {with(on(prefix("/")), "", {is("X-Api-Version", "2")})})});
  Request r;
  r.headers = Headers({{"x-api-version", "2"}});
  EXPECT_EQ(t.serve(r), "v2");
}

TEST(RouteTableConditions, HeaderMatchesAllMustHold) {
  Table t = Table::of({route("both", {with(on(prefix("/")), "", {is("a", "1"), is("b", "2")})})});
  Request r;
  r.headers = Headers({{"a", "1"}});
  EXPECT_EQ(t.serve(r), "404");
  r.headers = Headers({{"a", "1"}, {"b", "2"}});
  EXPECT_EQ(t.serve(r), "both");
}

TEST(RouteTableConditions, MatchesOfOneRouteAreOred) {
  Table t = Table::of({route("r", {with(on(prefix("/a")), "GET"), with(on(exact("/b")), "POST")})});
  Request r;
  r.path = "/a/x";
  EXPECT_EQ(t.serve(r), "r");
  r.path = "/b";
  EXPECT_EQ(t.serve(r), "404");  // /b needs POST
  r.method = "POST";
  EXPECT_EQ(t.serve(r), "r");
  r.path = "/a";
  EXPECT_EQ(t.serve(r), "404");  // /a needs GET
}

TEST(RouteTableConditions, RegexHeaderMatchIsWholeValue) {
  Table t = Table::of({route("rx", {with(on(prefix("/")), "", {like("x-version", "v[0-9]+")})})});
  Request r;
  r.headers = Headers({{"X-Version", "v12"}});
  EXPECT_EQ(t.serve(r), "rx");
  r.headers = Headers({{"X-Version", "xv12"}});
  EXPECT_EQ(t.serve(r), "404");
  r.headers = Headers({{"X-Version", "v12x"}});
  EXPECT_EQ(t.serve(r), "404");
}

TEST(RouteTableConditions, QueryNamesAndValuesAreCaseSensitive) {
  Table t = Table::of({route("beta", {with(on(prefix("/")), "", {}, {is("beta", "on")})})});
  Request r;
  r.query = "beta=on";
  EXPECT_EQ(t.serve(r), "beta");
  r.query = "a=1&beta=on&z=2";
  EXPECT_EQ(t.serve(r), "beta");
  r.query = "Beta=on";
  EXPECT_EQ(t.serve(r), "404");
  r.query = "beta=ON";
  EXPECT_EQ(t.serve(r), "404");
  r.query = "";
  EXPECT_EQ(t.serve(r), "404");
  r.query = "betaX=on";
  EXPECT_EQ(t.serve(r), "404");
}

TEST(RouteTableConditions, QueryValuesArePercentDecoded) {
  Table t = Table::of({route("q", {with(on(prefix("/")), "", {}, {is("name", "a b/c")})})});
  Request r;
  r.query = "name=a%20b%2Fc";
  EXPECT_EQ(t.serve(r), "q");
}

TEST(RouteTableConditions, OnlyTheFirstQueryValueCounts) {
  // Gateway API: with several entries of one name, only the first is used.
  Table t = Table::of({route("q", {with(on(prefix("/")), "", {}, {is("v", "2")})})});
  Request r;
  r.query = "v=1&v=2";
  EXPECT_EQ(t.serve(r), "404");
  r.query = "v=2&v=1";
  EXPECT_EQ(t.serve(r), "q");
}

TEST(RouteTableConditions, RegexQueryMatch) {
  Table t = Table::of({route("q", {with(on(prefix("/")), "", {}, {like("id", "[0-9]{3}")})})});
  Request r;
  r.query = "id=123";
  EXPECT_EQ(t.serve(r), "q");
  r.query = "id=1234";
  EXPECT_EQ(t.serve(r), "404");
  r.query = "id=12a";
  EXPECT_EQ(t.serve(r), "404");
}

TEST(RouteTableConditions, GetDoesNotMatchHead) {
  Table t = Table::of({route("get", {with(on(prefix("/")), "GET")})});
  Request r;
  EXPECT_EQ(t.serve(r), "get");
  r.method = "HEAD";
  EXPECT_EQ(t.serve(r), "404");
  r.method = "get";  // methods are case-sensitive tokens
  EXPECT_EQ(t.serve(r), "404");
}

TEST(RouteTableConditions, RouteWithoutMatchesMatchesEverything) {
  Table t = Table::of({route("all", {})}, "api.example.com");
  for (const char* method : {"GET", "HEAD", "POST", "DELETE"}) {
    for (const char* path : {"/", "/x", "/a/b/c/"}) {
      Request r;
      r.host = "api.example.com";
      r.method = method;
      r.path = path;
      r.query = "a=b";
      EXPECT_EQ(t.serve(r), "all") << method << " " << path;
    }
  }
}

TEST(RouteTableConditions, RouteWithoutMatchesRanksAsPrefixRoot) {
  Table t = Table::of({route("all", {}, 0), route("api", {on(prefix("/api"))}, 5)});
  EXPECT_EQ(t.path("/api/x"), "api");
  EXPECT_EQ(t.path("/x"), "all");
}

TEST(RouteTableConditions, DefaultBackendsOfSeveralObjectsOldestFirst) {
  Table t = Table::of({defaultBackend("newer", 5), defaultBackend("older", 1)});
  EXPECT_EQ(t.path("/anything"), "older");
}

TEST(RouteTableBuild, InvalidRegexesAreReportedAndSkipped) {
  Table t = Table::of({route("bad-path", {on(regex("(unclosed"))}),
                       route("bad-header", {with(on(prefix("/h")), "", {like("x", "[z-a]")})}),
                       route("good", {on(prefix("/"))})});
  EXPECT_EQ(t.errors().size(), 2u);
  EXPECT_EQ(t.path("/h"), "good");
  EXPECT_EQ(t.path("/(unclosed"), "good");
  // Every route is still indexed so per-route state lines up with the snapshot.
  EXPECT_EQ(t.table().routes().size(), 3u);
}

TEST(RouteTableBuild, DeepPathsDoNotOverflowTheTrieWalk) {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "/s";
  Table t = Table::of({route("root", {on(prefix("/"))}), route("s", {on(prefix("/s/s"))})});
  EXPECT_EQ(t.path(deep), "s");
}

}  // namespace
}  // namespace atrium::proxy::router
