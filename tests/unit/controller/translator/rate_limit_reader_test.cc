// policy.rateLimit and plan.rateLimit as written in manifests → config::RateLimitPolicy /
// config::RateLimit: every field, its default, every duration form the SPEC names, the Header
// key's lower-casing, and each way of getting it wrong reported at its exact field path.
#include "controller/translator/rate_limit_reader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/unit/controller/translator/field_reports.h"

namespace atrium::controller::translator {
namespace {

using nlohmann::json;

const std::string kPath = "spec.policy.rateLimit";

using Outcome = field_reports::ReadOutcome<config::RateLimitPolicy>;

Outcome readPolicy(const json& rate_limit, const std::string& scope = "shop/orders") {
  return field_reports::readOutcome<config::RateLimitPolicy>(
      [&](FieldReader& r) { return readRateLimitPolicy(r, rate_limit, kPath, scope); });
}

// The single error of a policy with one limit {requests: 1, period: 1s} changed by `limit`.
std::string errorFor(const json& limit_changes) {
  json limit = {{"requests", 1}, {"period", "1s"}};
  limit.update(limit_changes);
  for (auto it = limit.begin(); it != limit.end();) {
    it = it->is_null() ? limit.erase(it) : std::next(it);
  }
  auto out = readPolicy({{"limits", {limit}}});
  EXPECT_FALSE(out.policy) << limit.dump();
  EXPECT_EQ(out.errors.size(), 1u) << limit.dump();
  return out.errors.empty() ? "" : out.errors.front();
}

TEST(RateLimitReader, EveryFieldAndKey) {
  auto out = readPolicy(json::parse(R"({
    "limits": [
      {"requests": 100, "period": "1m", "burst": 20, "key": "Consumer"},
      {"requests": 5, "period": "1s", "key": "ClientIP"},
      {"requests": 1000000000, "period": "1h", "burst": 1000000000, "key": "Route"},
      {"requests": 10, "period": "1d", "key": "Header:X-Tenant-ID"}
    ],
    "scope": "Global"
  })"));
  ASSERT_TRUE(out.policy);
  EXPECT_TRUE(out.errors.empty());
  EXPECT_TRUE(out.warnings.empty());
  const auto& p = *out.policy;
  EXPECT_TRUE(p.global);
  EXPECT_EQ(p.scope, "shop/orders");
  ASSERT_EQ(p.limits.size(), 4u);
  EXPECT_EQ(p.limits[0], (config::RateLimit{100, 60'000, 20, config::RateLimitKey::Consumer, ""}));
  EXPECT_EQ(p.limits[1], (config::RateLimit{5, 1'000, 0, config::RateLimitKey::ClientIP, ""}));
  EXPECT_EQ(p.limits[2], (config::RateLimit{1'000'000'000, 3'600'000, 1'000'000'000,
                                            config::RateLimitKey::Route, ""}));
  // Header names are stored lower-case, as the data plane compares them.
  EXPECT_EQ(p.limits[3],
            (config::RateLimit{10, 86'400'000, 0, config::RateLimitKey::Header, "x-tenant-id"}));
}

TEST(RateLimitReader, Defaults) {
  auto out = readPolicy(json::parse(R"({"limits": [{"requests": 1, "period": "1s"}]})"));
  ASSERT_TRUE(out.policy);
  EXPECT_FALSE(out.policy->global);  // scope Local
  ASSERT_EQ(out.policy->limits.size(), 1u);
  const auto& l = out.policy->limits[0];
  EXPECT_EQ(l.burst, 0u);
  EXPECT_EQ(l.key, config::RateLimitKey::Consumer);
  EXPECT_EQ(l.header, "");
  EXPECT_TRUE(readPolicy(json::parse(R"({"limits": [{"requests": 1, "period": "1s"}],
                                         "scope": "Local"})"))
                  .policy);
}

TEST(RateLimitReader, DurationForms) {
  const std::vector<std::pair<std::string, uint64_t>> cases = {
      {"1s", 1'000},           {"1m", 60'000},    {"1h", 3'600'000},   {"1d", 86'400'000},
      {"500ms", 500},          {"1m30s", 90'000}, {"1.5h", 5'400'000}, {"2d12h", 216'000'000},
      {"1h0m0.5s", 3'600'500}, {"1ms", 1},        {"1500us", 2},       {"30d", 2'592'000'000}};
  for (const auto& [text, ms] : cases) {
    auto out = readPolicy({{"limits", {{{"requests", 1}, {"period", text}}}}});
    ASSERT_TRUE(out.policy) << text;
    EXPECT_EQ(out.policy->limits[0].period_ms, ms) << text;
  }
}

TEST(RateLimitReader, InvalidPeriods) {
  const std::string field = kPath + ".limits[0].period: ";
  for (const char* text : {"60", "1x", "", "-1s", "soon", "1 s", "1s ", "s", "1..5s"}) {
    EXPECT_EQ(errorFor({{"period", text}}),
              field + "invalid duration \"" + text + "\" (e.g. 1s, 1m, 1h, 1d, 1m30s)");
  }
  // Zero, or less than the millisecond buckets count in, would never refill.
  for (const char* text : {"0", "0s", "100us", "0.4ms"}) {
    EXPECT_EQ(errorFor({{"period", text}}), field + "must be at least 1ms") << text;
  }
  EXPECT_EQ(errorFor({{"period", 60}}), field + "must be a string");
  EXPECT_EQ(errorFor({{"period", nullptr}}), field + "is required");
}

TEST(RateLimitReader, InvalidCounts) {
  const std::string requests = kPath + ".limits[0].requests: ";
  for (int64_t n : {int64_t{0}, int64_t{-1}, int64_t{1'000'000'001}}) {
    EXPECT_EQ(errorFor({{"requests", n}}), requests + "must be between 1 and 1000000000") << n;
  }
  EXPECT_EQ(errorFor({{"requests", "10"}}), requests + "must be an integer");
  EXPECT_EQ(errorFor({{"requests", 1.5}}), requests + "must be an integer");
  EXPECT_EQ(errorFor({{"requests", nullptr}}), requests + "is required");
  const std::string burst = kPath + ".limits[0].burst: ";
  for (int64_t n : {int64_t{-1}, int64_t{1'000'000'001}}) {
    EXPECT_EQ(errorFor({{"burst", n}}), burst + "must be between 0 and 1000000000") << n;
  }
  EXPECT_EQ(errorFor({{"burst", "5"}}), burst + "must be an integer");
}

TEST(RateLimitReader, InvalidKeys) {
  const std::string field = kPath + ".limits[0].key: ";
  const std::string message =
      "must be Consumer, ClientIP, Route or Header:<name> with an HTTP header name";
  const std::vector<std::string> keys = {
      "consumer",        "IP",         "Header",         "Header:",
      "Header:Bad Name", "Header:a:b", "Cookie:session", "Header:" + std::string(257, 'a')};
  for (const auto& key : keys) {
    EXPECT_EQ(errorFor({{"key", key}}), field + message) << key;
  }
  EXPECT_EQ(errorFor({{"key", 1}}), field + "must be a string");
  // The longest name the CRD allows.
  auto out = readPolicy(
      {{"limits",
        {{{"requests", 1}, {"period", "1s"}, {"key", "Header:" + std::string(256, 'A')}}}}});
  ASSERT_TRUE(out.policy);
  EXPECT_EQ(out.policy->limits[0].header, std::string(256, 'a'));
}

TEST(RateLimitReader, LimitCount) {
  const json one = {{"requests", 1}, {"period", "1s"}};
  auto eight = readPolicy({{"limits", json::array({one, one, one, one, one, one, one, one})}});
  ASSERT_TRUE(eight.policy);
  EXPECT_EQ(eight.policy->limits.size(), 8u);
  const std::string field = kPath + ".limits: ";
  for (const json& limits :
       {json::array({one, one, one, one, one, one, one, one, one}), json::array()}) {
    auto out = readPolicy({{"limits", limits}});
    EXPECT_FALSE(out.policy);
    EXPECT_EQ(out.errors, std::vector<std::string>{field + "needs 1 to 8 limits"});
  }
  auto missing = readPolicy({{"scope", "Local"}});
  EXPECT_FALSE(missing.policy);
  EXPECT_EQ(missing.errors, std::vector<std::string>{field + "needs 1 to 8 limits"});
  auto not_a_list = readPolicy({{"limits", one}});
  EXPECT_EQ(not_a_list.errors, std::vector<std::string>{field + "must be a list"});
  auto not_an_object = readPolicy({{"limits", json::array({one, "1/s"})}});
  EXPECT_FALSE(not_an_object.policy);
  EXPECT_EQ(not_an_object.errors,
            std::vector<std::string>{field.substr(0, field.size() - 2) + "[1]: must be an object"});
}

TEST(RateLimitReader, InvalidScope) {
  const json limits = json::array({{{"requests", 1}, {"period", "1s"}}});
  for (const char* scope : {"global", "Everywhere", ""}) {
    auto out = readPolicy({{"limits", limits}, {"scope", scope}});
    EXPECT_FALSE(out.policy) << scope;
    EXPECT_EQ(out.errors, std::vector<std::string>{kPath + ".scope: must be Local or Global"});
  }
  EXPECT_EQ(readPolicy({{"limits", limits}, {"scope", true}}).errors,
            std::vector<std::string>{kPath + ".scope: must be a string"});
}

TEST(RateLimitReader, EveryProblemIsReportedAtOnce) {
  auto out = readPolicy(json::parse(R"({
    "limits": [{"requests": 0, "period": "1x", "key": "Header:"}, {"requests": 1}],
    "scope": "Everywhere"
  })"));
  EXPECT_FALSE(out.policy);
  EXPECT_EQ(
      out.errors,
      (std::vector<std::string>{
          kPath + ".limits[0].requests: must be between 1 and 1000000000",
          kPath + ".limits[0].period: invalid duration \"1x\" (e.g. 1s, 1m, 1h, 1d, 1m30s)",
          kPath + ".limits[0].key: must be Consumer, ClientIP, Route or Header:<name> with "
                  "an HTTP header name",
          kPath + ".limits[1].period: is required", kPath + ".scope: must be Local or Global"}));
}

TEST(RateLimitReader, UnknownFieldsAreWarnings) {
  // A misspelt field would silently mean its default (no burst, per-replica counting).
  auto out = readPolicy(json::parse(R"({
    "limits": [{"requests": 1, "period": "1s", "brust": 5}], "scpoe": "Global"
  })"));
  ASSERT_TRUE(out.policy);
  EXPECT_TRUE(out.errors.empty());
  EXPECT_EQ(out.warnings,
            (std::vector<std::string>{kPath + ".scpoe: unknown field, ignored",
                                      kPath + ".limits[0].brust: unknown field, ignored"}));
}

TEST(RateLimitReader, BucketWithoutKey) {
  // plan.rateLimit: always per consumer, so a key is not a field there.
  const KubeObject object{"APIConsumer", "atrium.dev/v1alpha1", "shop", "acme", "", {}};
  Diagnostics diagnostics;
  FieldReader r(object, diagnostics);
  auto limit =
      readRateLimit(r, {{"requests", 50}, {"period", "1s"}, {"burst", 100}, {"key", "ClientIP"}},
                    "spec.plan.rateLimit", false);
  ASSERT_TRUE(limit);
  EXPECT_EQ(*limit, (config::RateLimit{50, 1'000, 100, config::RateLimitKey::Consumer, ""}));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_TRUE(diagnostics[0].warning);
  EXPECT_EQ(diagnostics[0].field, "spec.plan.rateLimit.key");
  EXPECT_EQ(diagnostics[0].message, "unknown field, ignored");
}

}  // namespace
}  // namespace atrium::controller::translator
