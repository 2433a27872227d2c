#include "proxy/aggregate/bundle_body.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace atrium::proxy::aggregate {
namespace {

CallOutcome answer(int status, std::string type, std::string body) {
  CallOutcome o;
  o.answered = true;
  o.status = status;
  o.content_type = std::move(type);
  o.body = std::move(body);
  return o;
}

CallOutcome gatewayError(int status, std::string code) {
  CallOutcome o;
  o.status = status;
  o.code = std::move(code);
  o.message = "m";
  return o;
}

TEST(BundleBody, JsonPartsAreEmbeddedAndOthersAreStrings) {
  const std::string body = bundleBody(
      {"user", "orders", "note", "problem", "broken"},
      {answer(200, "application/json; charset=utf-8", R"({"id":42,"name":"Ada"})"),
       answer(200, "application/vnd.api+json", R"([1,2])"), answer(200, "text/plain", "hello"),
       answer(404, "application/problem+json", R"({"title":"not found"})"),
       answer(200, "application/json", "{not json")});
  const auto doc = nlohmann::json::parse(body);
  EXPECT_EQ(doc["user"]["name"], "Ada");
  EXPECT_EQ(doc["orders"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(doc["note"], "hello");
  EXPECT_EQ(doc["problem"]["title"], "not found");  // a 4xx is the service's own answer
  EXPECT_EQ(doc["broken"], "{not json");             // mislabelled JSON stays a string
  EXPECT_EQ(doc["_status"]["user"], 200);
  EXPECT_EQ(doc["_status"]["problem"], 404);
}

TEST(BundleBody, KeepsTheDeclaredOrder) {
  const std::string body = bundleBody({"zeta", "alpha"}, {answer(200, "text/plain", "z"),
                                                          answer(200, "text/plain", "a")});
  EXPECT_LT(body.find("zeta"), body.find("alpha"));
  EXPECT_LT(body.find("alpha"), body.find("_status"));
}

TEST(BundleBody, FailedCallsBecomeErrorEntries) {
  const std::string body = bundleBody(
      {"slow", "down", "boom"},
      {gatewayError(504, "upstream_timeout"), gatewayError(502, "bad_gateway"),
       answer(500, "application/json", R"({"secret":"stack trace"})")});
  const auto doc = nlohmann::json::parse(body);
  EXPECT_EQ(doc["slow"]["error"]["status"], 504);
  EXPECT_EQ(doc["slow"]["error"]["code"], "upstream_timeout");
  EXPECT_EQ(doc["down"]["error"]["code"], "bad_gateway");
  EXPECT_EQ(doc["boom"]["error"]["status"], 500);
  EXPECT_EQ(doc["boom"]["error"]["code"], "upstream_error");
  EXPECT_FALSE(doc["boom"].contains("secret"));
  EXPECT_EQ(doc["_status"]["slow"], 504);
  EXPECT_EQ(doc["_status"]["boom"], 500);
}

TEST(BundleBody, InvalidUtf8IsReplacedNotFatal) {
  const std::string body = bundleBody({"bin"}, {answer(200, "application/octet-stream",
                                                       std::string("\xff\xfe\x00ok", 5))});
  const auto doc = nlohmann::json::parse(body);
  ASSERT_TRUE(doc["bin"].is_string());
  EXPECT_NE(doc["bin"].get<std::string>().find("ok"), std::string::npos);
}

TEST(BundleBody, WhatCountsAsFailed) {
  EXPECT_TRUE(callFailed(gatewayError(504, "upstream_timeout")));
  EXPECT_TRUE(callFailed(answer(503, "text/plain", "")));
  EXPECT_FALSE(callFailed(answer(404, "text/plain", "")));
  EXPECT_FALSE(callFailed(answer(200, "text/plain", "")));
}

}  // namespace
}  // namespace atrium::proxy::aggregate
