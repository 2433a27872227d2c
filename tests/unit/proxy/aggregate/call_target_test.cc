#include "proxy/aggregate/call_target.h"

#include <gtest/gtest.h>

#include <map>

namespace atrium::proxy::aggregate {
namespace {

struct Request {
  std::string path = "/bundle";
  std::string query;
  std::map<std::string, std::string> headers;

  RequestValues values() const {
    RequestValues v;
    v.path = path;
    v.query = query;
    v.header = [this](std::string_view name) -> std::optional<std::string_view> {
      auto it = headers.find(std::string(name));
      if (it == headers.end()) return std::nullopt;
      return std::string_view(it->second);
    };
    return v;
  }
};

std::string fill(const std::string& tmpl, const Request& request) {
  std::vector<config::TemplatePart> parts;
  auto problem = config::parseCallTemplate(tmpl, parts);
  EXPECT_FALSE(problem) << tmpl << ": " << problem.value_or("");
  return fillCallTarget(parts, request.values()).value_or("<too long>");
}

TEST(CallTarget, QueryAndHeaderValuesFillPathAndQuery) {
  Request r;
  r.query = "id=42&expand=orders";
  r.headers["x-tenant"] = "acme";
  EXPECT_EQ(fill("/users/{query.id}", r), "/users/42");
  EXPECT_EQ(fill("/orders?user={query.id}&tenant={header.x-tenant}", r),
            "/orders?user=42&tenant=acme");
  EXPECT_EQ(fill("/static", r), "/static");
}

TEST(CallTarget, QueryValuesAreDecodedThenEncodedOnce) {
  Request r;
  r.query = "q=caf%C3%A9+au+lait&name=a%20b";
  EXPECT_EQ(fill("/search?q={query.q}", r), "/search?q=caf%C3%A9%20au%20lait");
  EXPECT_EQ(fill("/people/{query.name}", r), "/people/a%20b");
}

TEST(CallTarget, MissingValuesAreEmpty) {
  Request r;
  EXPECT_EQ(fill("/users/{query.id}", r), "/users/");
  EXPECT_EQ(fill("/x?h={header.x-missing}", r), "/x?h=");
}

TEST(CallTarget, DotSegmentsCannotClimb) {
  Request r;
  r.query = "id=..&other=.&deep=../../admin";
  EXPECT_EQ(fill("/users/{query.id}", r), "/users/%2E%2E");
  EXPECT_EQ(fill("/users/{query.other}", r), "/users/%2E");
  EXPECT_EQ(fill("/users/{query.deep}", r), "/users/..%2F..%2Fadmin");
}

TEST(CallTarget, EncodedSlashStaysEncoded) {
  Request r;
  r.query = "id=a%2Fb";  // decodes to "a/b": one segment, so the '/' is encoded again
  EXPECT_EQ(fill("/users/{query.id}", r), "/users/a%2Fb");
  r.query = "id=%252F";  // a literal "%2F" in the value: its '%' is encoded
  EXPECT_EQ(fill("/users/{query.id}", r), "/users/%252F");
}

TEST(CallTarget, CrLfAndControlsAreEncoded) {
  Request r;
  r.query = "id=1%0D%0AHost:%20evil";
  r.headers["x-v"] = std::string("a\tb");
  EXPECT_EQ(fill("/users/{query.id}", r), "/users/1%0D%0AHost%3A%20evil");
  EXPECT_EQ(fill("/users/{header.x-v}", r), "/users/a%09b");
}

TEST(CallTarget, AuthorityAndAbsoluteUrlsCannotChangeTheTarget) {
  Request r;
  r.query = "id=user@evil.com&u=http://evil.com/x&q=a?b#c&amp=x&y=1";
  EXPECT_EQ(fill("/users/{query.id}", r), "/users/user%40evil.com");
  EXPECT_EQ(fill("/proxy/{query.u}", r), "/proxy/http%3A%2F%2Fevil.com%2Fx");
  // '&', '=', '?' and '#' never start another parameter or a fragment.
  EXPECT_EQ(fill("/s?q={query.q}&z=1", r), "/s?q=a%3Fb%23c&z=1");
  r.query = "q=a%26admin%3Dtrue";
  EXPECT_EQ(fill("/s?q={query.q}", r), "/s?q=a%26admin%3Dtrue");
}

TEST(CallTarget, PathPlaceholder) {
  Request r;
  r.path = "/shop/items/7";
  EXPECT_EQ(fill("/v2{path}", r), "/v2/shop/items/7");
  EXPECT_EQ(fill("/v2/{path}", r), "/v2/shop/items/7");  // never "//"
  EXPECT_EQ(fill("/log?from={path}", r), "/log?from=%2Fshop%2Fitems%2F7");
  r.path = "/a%20b/c@d";
  EXPECT_EQ(fill("/x{path}", r), "/x/a%20b/c%40d");
}

TEST(CallTarget, TooLongIsRefused) {
  Request r;
  r.query = "id=" + std::string(9000, 'a');
  std::vector<config::TemplatePart> parts;
  ASSERT_FALSE(config::parseCallTemplate("/users/{query.id}", parts));
  EXPECT_FALSE(fillCallTarget(parts, r.values()));
}

TEST(CallTemplate, InvalidTemplatesAreRefused) {
  std::vector<config::TemplatePart> parts;
  EXPECT_TRUE(config::parseCallTemplate("users/{query.id}", parts));    // no leading '/'
  EXPECT_TRUE(config::parseCallTemplate("//evil.com/x", parts));        // authority-like
  EXPECT_TRUE(config::parseCallTemplate("{path}", parts));              // starts with a placeholder
  EXPECT_TRUE(config::parseCallTemplate("/x/{query.}", parts));
  EXPECT_TRUE(config::parseCallTemplate("/x/{query.a b}", parts));
  EXPECT_TRUE(config::parseCallTemplate("/x/{header.a:b}", parts));
  EXPECT_TRUE(config::parseCallTemplate("/x/{cookie.a}", parts));
  EXPECT_TRUE(config::parseCallTemplate("/x/{query.id", parts));
  EXPECT_TRUE(config::parseCallTemplate("/x/}", parts));
  EXPECT_TRUE(config::parseCallTemplate("/x y", parts));
  EXPECT_TRUE(config::parseCallTemplate("/x#frag", parts));
  EXPECT_TRUE(config::parseCallTemplate("/x\r\nHost: evil", parts));
  EXPECT_FALSE(config::parseCallTemplate("/x/{query.id}/{header.X-Tenant}?p={path}", parts));
  ASSERT_EQ(parts.size(), 6u);
  EXPECT_EQ(parts[3].text, "x-tenant");  // header names are compared lower-case
  EXPECT_FALSE(parts[1].in_query);
  EXPECT_TRUE(parts[5].in_query);
}

}  // namespace
}  // namespace atrium::proxy::aggregate
