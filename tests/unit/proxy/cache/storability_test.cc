#include "proxy/cache/storability.h"

#include <gtest/gtest.h>

namespace atrium::proxy::cache {
namespace {

struct Case {
  Exchange exchange{.status = 200, .request_method = "GET"};
  RequestDirectives request;
  ResponseDirectives response;
  config::CachePolicy policy;

  bool storable() const { return cache::storable(exchange, request, response, policy); }
};

TEST(CacheStorabilityTest, StatusesCacheableByDefault) {
  for (int status : {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}) {
    Case c;
    c.exchange.status = status;
    EXPECT_TRUE(c.storable()) << status;
  }
  for (int status :
       {100, 201, 202, 206, 302, 303, 304, 307, 400, 401, 403, 429, 500, 502, 503, 504, 600}) {
    Case c;
    c.exchange.status = status;
    EXPECT_FALSE(c.storable()) << status;
  }
}

TEST(CacheStorabilityTest, OtherStatusesNeedExplicitFreshness) {
  Case max_age;
  max_age.exchange.status = 302;
  max_age.response.max_age_s = 60;
  EXPECT_TRUE(max_age.storable());

  Case s_maxage;
  s_maxage.exchange.status = 500;
  s_maxage.response.s_maxage_s = 5;
  EXPECT_TRUE(s_maxage.storable());

  Case expires;
  expires.exchange.status = 307;
  expires.exchange.response_has_expires = true;
  EXPECT_TRUE(expires.storable());

  Case is_public;
  is_public.exchange.status = 401;
  is_public.response.is_public = true;
  EXPECT_TRUE(is_public.storable());

  // Never 206 or 304, whatever they say.
  for (int status : {206, 304}) {
    Case c;
    c.exchange.status = status;
    c.response.max_age_s = 60;
    EXPECT_FALSE(c.storable()) << status;
  }
}

TEST(CacheStorabilityTest, OnlyGetResponsesAreStored) {
  for (const char* method : {"HEAD", "POST", "PUT", "DELETE", "OPTIONS", "get"}) {
    Case c;
    c.exchange.request_method = method;
    c.policy.methods = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};
    EXPECT_FALSE(c.storable()) << method;
  }
  Case not_listed;
  not_listed.policy.methods = {"HEAD"};
  EXPECT_FALSE(not_listed.storable());
}

TEST(CacheStorabilityTest, NoStoreOnEitherSide) {
  Case response;
  response.response.no_store = true;
  EXPECT_FALSE(response.storable());
  Case request;
  request.request.no_store = true;
  EXPECT_FALSE(request.storable());
}

TEST(CacheStorabilityTest, PrivateAndNoCacheResponses) {
  Case priv;
  priv.response.is_private = true;
  priv.response.max_age_s = 60;
  EXPECT_FALSE(priv.storable());
  Case no_cache;
  no_cache.response.no_cache = true;
  EXPECT_FALSE(no_cache.storable());
}

TEST(CacheStorabilityTest, RequestNoCacheStillStoresTheNewResponse) {
  Case c;
  c.request.no_cache = true;
  EXPECT_TRUE(c.storable());
}

TEST(CacheStorabilityTest, AuthorizationNeedsPerConsumerKeyOrShareableResponse) {
  Case plain;
  plain.exchange.request_has_authorization = true;
  EXPECT_FALSE(plain.storable());

  Case per_consumer = plain;
  per_consumer.exchange.key_includes_consumer = true;
  EXPECT_TRUE(per_consumer.storable());

  Case is_public = plain;
  is_public.response.is_public = true;
  EXPECT_TRUE(is_public.storable());

  Case s_maxage = plain;
  s_maxage.response.s_maxage_s = 10;
  EXPECT_TRUE(s_maxage.storable());

  Case must_revalidate = plain;
  must_revalidate.response.must_revalidate = true;
  EXPECT_TRUE(must_revalidate.storable());

  Case max_age_only = plain;
  max_age_only.response.max_age_s = 10;
  EXPECT_FALSE(max_age_only.storable());
}

TEST(CacheStorabilityTest, SetCookieOnlyWhenThePolicyAllows) {
  Case c;
  c.exchange.response_has_set_cookie = true;
  c.response.is_public = true;
  EXPECT_FALSE(c.storable());
  c.policy.cache_set_cookie = true;
  EXPECT_TRUE(c.storable());
}

TEST(CacheStorabilityTest, IgnoringCacheControlKeepsTheDataProtections) {
  Case c;
  c.policy.respect_cache_control = false;
  c.request.no_store = true;
  c.request.no_cache = true;
  c.response.no_cache = true;
  EXPECT_TRUE(c.storable());  // the route's ttl decides

  Case no_store = c;
  no_store.response.no_store = true;
  EXPECT_FALSE(no_store.storable());

  Case priv = c;
  priv.response.is_private = true;
  EXPECT_FALSE(priv.storable());

  // Directives that would grant storage are ignored too.
  Case auth = c;
  auth.exchange.request_has_authorization = true;
  auth.response.is_public = true;
  EXPECT_FALSE(auth.storable());
  auth.exchange.key_includes_consumer = true;
  EXPECT_TRUE(auth.storable());

  Case odd_status = c;
  odd_status.exchange.status = 302;
  odd_status.response.max_age_s = 60;
  EXPECT_FALSE(odd_status.storable());
}

}  // namespace
}  // namespace atrium::proxy::cache
