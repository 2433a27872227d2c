#include "proxy/cache/conditional_request.h"

#include <gtest/gtest.h>

namespace atrium::proxy::cache {
namespace {

constexpr std::string_view kLastModified = "Sun, 06 Nov 1994 08:49:37 GMT";

TEST(CacheConditionalTest, StrongAndWeakEtagsCompareWeakly) {
  EXPECT_TRUE(notModified("\"v1\"", std::nullopt, "\"v1\"", ""));
  EXPECT_TRUE(notModified("W/\"v1\"", std::nullopt, "\"v1\"", ""));
  EXPECT_TRUE(notModified("\"v1\"", std::nullopt, "W/\"v1\"", ""));
  EXPECT_TRUE(notModified("W/\"v1\"", std::nullopt, "W/\"v1\"", ""));
  EXPECT_FALSE(notModified("\"v2\"", std::nullopt, "\"v1\"", ""));
  EXPECT_FALSE(notModified("\"V1\"", std::nullopt, "\"v1\"", ""));
}

TEST(CacheConditionalTest, EtagLists) {
  EXPECT_TRUE(notModified("\"a\", W/\"b\" ,\"v1\"", std::nullopt, "\"v1\"", ""));
  EXPECT_FALSE(notModified("\"a\", \"b\"", std::nullopt, "\"v1\"", ""));
  // A comma inside a tag does not split it.
  EXPECT_TRUE(notModified("\"x\", \"a,b\"", std::nullopt, "\"a,b\"", ""));
  EXPECT_FALSE(notModified("\"a\"", std::nullopt, "\"a,b\"", ""));
}

TEST(CacheConditionalTest, StarMatchesAnyStoredEntry) {
  EXPECT_TRUE(notModified("*", std::nullopt, "\"v1\"", ""));
  EXPECT_TRUE(notModified("*", std::nullopt, "", ""));
}

TEST(CacheConditionalTest, MalformedOrMissingTagsNeverMatch) {
  EXPECT_FALSE(notModified("v1", std::nullopt, "v1", ""));
  EXPECT_FALSE(notModified("\"v1\"", std::nullopt, "", ""));
  EXPECT_FALSE(notModified("", std::nullopt, "\"v1\"", ""));
}

TEST(CacheConditionalTest, IfNoneMatchTakesPrecedence) {
  // The tag differs: not "not modified", even though the date would say so.
  EXPECT_FALSE(notModified("\"v2\"", kLastModified, "\"v1\"", kLastModified));
  EXPECT_TRUE(notModified("\"v1\"", "Thu, 01 Jan 1970 00:00:00 GMT", "\"v1\"", kLastModified));
}

TEST(CacheConditionalTest, IfModifiedSince) {
  EXPECT_TRUE(notModified(std::nullopt, kLastModified, "", kLastModified));
  EXPECT_TRUE(notModified(std::nullopt, "Mon, 07 Nov 1994 00:00:00 GMT", "", kLastModified));
  EXPECT_FALSE(notModified(std::nullopt, "Sun, 06 Nov 1994 08:49:36 GMT", "", kLastModified));
  // Other accepted date formats.
  EXPECT_TRUE(notModified(std::nullopt, "Sunday, 06-Nov-94 08:49:37 GMT", "", kLastModified));
  // Invalid dates, or no Last-Modified: modified.
  EXPECT_FALSE(notModified(std::nullopt, "yesterday", "", kLastModified));
  EXPECT_FALSE(notModified(std::nullopt, kLastModified, "", ""));
  EXPECT_FALSE(notModified(std::nullopt, kLastModified, "", "garbage"));
  EXPECT_FALSE(notModified(std::nullopt, std::nullopt, "\"v1\"", kLastModified));
}

TEST(CacheConditionalTest, OpaqueTag) {
  EXPECT_EQ(opaqueTag("W/\"x\""), "\"x\"");
  EXPECT_EQ(opaqueTag(" \"x\" "), "\"x\"");
  EXPECT_EQ(opaqueTag("\"\""), "\"\"");
  EXPECT_FALSE(opaqueTag("x"));
  EXPECT_FALSE(opaqueTag("\"x"));
  EXPECT_FALSE(opaqueTag("\"a\"b\""));
}

}  // namespace
}  // namespace atrium::proxy::cache
