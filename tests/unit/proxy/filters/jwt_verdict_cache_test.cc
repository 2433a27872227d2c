// The per-worker cache of verified tokens must never accept what verification would refuse:
// an expired token, another route's token, or a token after its keys changed.
#include <gtest/gtest.h>

#include "proxy/filters/authenticator.h"

namespace atrium::proxy::filters {
namespace {

JwtVerdictCache::Entry entry(uint64_t runtime, std::shared_ptr<const JwtKeySet> keys,
                             double not_after, double not_before = -1e300) {
  JwtVerdictCache::Entry e;
  e.runtime_id = runtime;
  e.remote_keys = std::move(keys);
  e.claims = {{"sub", "alice"}};
  e.not_after = not_after;
  e.not_before = not_before;
  return e;
}

TEST(JwtVerdictCache, HitOnlyForTheSameRuntimeKeysAndValidity) {
  JwtVerdictCache cache;
  auto keys = JwtKeySet::hmac("secret");
  auto other_keys = JwtKeySet::hmac("secret");
  cache.put("t", entry(7, keys, 1000, 100));
  ASSERT_NE(cache.find("t", 7, keys.get(), 500), nullptr);
  EXPECT_EQ(cache.find("t", 7, keys.get(), 500)->claims["sub"], "alice");
  EXPECT_EQ(cache.find("t", 8, keys.get(), 500), nullptr);          // another route/config
  EXPECT_EQ(cache.find("t", 7, other_keys.get(), 500), nullptr);    // keys were refetched
  EXPECT_EQ(cache.find("t", 7, keys.get(), 1000), nullptr);         // expired (exp + skew)
  EXPECT_EQ(cache.find("t", 7, keys.get(), 99), nullptr);           // not yet valid
  EXPECT_EQ(cache.find("u", 7, keys.get(), 500), nullptr);          // another token
}

TEST(JwtVerdictCache, IsBounded) {
  JwtVerdictCache cache;
  for (int i = 0; i < 10000; ++i) cache.put(std::to_string(i), entry(1, nullptr, 1e9));
  size_t present = 0;
  for (int i = 0; i < 10000; ++i) present += cache.find(std::to_string(i), 1, nullptr, 0) != nullptr;
  EXPECT_LE(present, 4096u);
  EXPECT_NE(cache.find("9999", 1, nullptr, 0), nullptr);
}

TEST(JwtVerdictCache, RuntimeIdsAreNeverReused) {
  JwtRuntime a, b;
  EXPECT_NE(a.id, b.id);
}

}  // namespace
}  // namespace atrium::proxy::filters
