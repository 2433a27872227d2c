#include "proxy/admin/admin_access.h"

#include <gtest/gtest.h>

namespace atrium::proxy::admin {
namespace {

TEST(AdminAccessTest, LoopbackClientsNeedNoToken) {
  EXPECT_TRUE(adminAuthorized("127.0.0.1", std::nullopt, ""));
  EXPECT_TRUE(adminAuthorized("127.3.4.5", std::nullopt, "secret"));
  EXPECT_TRUE(adminAuthorized("::1", std::nullopt, ""));
  EXPECT_TRUE(adminAuthorized("::ffff:127.0.0.1", std::nullopt, ""));
}

TEST(AdminAccessTest, OtherClientsNeedTheExactBearerToken) {
  EXPECT_FALSE(adminAuthorized("10.0.0.5", std::nullopt, "secret"));
  EXPECT_FALSE(adminAuthorized("10.0.0.5", "Bearer secret", ""));  // no token configured
  EXPECT_FALSE(adminAuthorized("10.0.0.5", "Bearer secreT", "secret"));
  EXPECT_FALSE(adminAuthorized("10.0.0.5", "Bearer secret2", "secret"));
  EXPECT_FALSE(adminAuthorized("10.0.0.5", "Basic secret", "secret"));
  EXPECT_FALSE(adminAuthorized("::ffff:10.0.0.5", "secret", "secret"));
  EXPECT_FALSE(adminAuthorized("2001:db8::1", std::nullopt, "secret"));
  EXPECT_TRUE(adminAuthorized("10.0.0.5", "Bearer secret", "secret"));
  EXPECT_TRUE(adminAuthorized("2001:db8::1", "Bearer secret", "secret"));
  EXPECT_FALSE(adminAuthorized("not an address", std::nullopt, "secret"));
}

}  // namespace
}  // namespace atrium::proxy::admin
