// APIConsumer spec.displayName and spec.plan through the translator: a full plan, its defaults,
// every invalid field reported at its path, and an invalid plan leaving the whole consumer out
// (never served without the limits it was given) while the other consumers stay.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "controller/manifests/manifest_loader.h"
#include "controller/translator/plan_reader.h"
#include "controller/translator/translator.h"

namespace atrium::controller::translator {
namespace {

TranslationResult translateYaml(const std::string& yaml) {
  manifests::LoadResult loaded;
  manifests::parseManifestText(yaml, "test.yaml", loaded);
  for (const auto& d : loaded.diagnostics) ADD_FAILURE() << "loader: " << d.format();
  TranslatorOptions options;
  options.watch_without_class = true;
  return translate(loaded.objects, options);
}

std::string consumer(const std::string& name, const std::string& spec) {
  return "---\napiVersion: atrium.dev/v1alpha1\nkind: APIConsumer\nmetadata: {name: " + name +
         ", namespace: shop}\nspec:\n" + spec;
}

const config::Consumer* findConsumer(const TranslationResult& result, const std::string& name) {
  for (const auto& c : result.snapshot.consumers) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::vector<std::string> reports(const TranslationResult& result, bool warnings) {
  std::vector<std::string> out;
  for (const auto& d : result.diagnostics) {
    if (d.warning == warnings) out.push_back(d.object + ": " + d.field + ": " + d.message);
  }
  return out;
}

TEST(ConsumerPlan, FullPlanAndDisplayName) {
  auto result = translateYaml(consumer("acme", R"(
  displayName: ACME Corp
  groups: [gold]
  plan:
    rateLimit: {requests: 50, period: 1s, burst: 100}
    quota: {requests: 1000000, period: month}
    pricing: {currency: USD, perThousandRequests: "0.40"}
)"));
  EXPECT_TRUE(result.diagnostics.empty()) << result.diagnostics.front().format();
  const auto* c = findConsumer(result, "acme");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->display_name, "ACME Corp");
  config::Plan expected;
  expected.rate_limit = config::RateLimit{50, 1'000, 100, config::RateLimitKey::Consumer, ""};
  expected.quota_requests = 1'000'000;
  expected.quota_period = config::QuotaPeriod::Month;
  expected.currency = "USD";
  expected.per_thousand_requests = "0.40";
  EXPECT_EQ(c->plan, expected);
}

TEST(ConsumerPlan, PartsAndDefaults) {
  auto result = translateYaml(consumer("daily", R"(
  plan:
    rateLimit: {requests: 10, period: 1d}
    quota: {requests: 5000, period: day}
)") + consumer("priced", R"(
  plan:
    pricing: {currency: EUR, perThousandRequests: "12"}
)") + consumer("plain", R"(
  groups: [free]
)"));
  EXPECT_TRUE(result.diagnostics.empty()) << result.diagnostics.front().format();
  const auto* daily = findConsumer(result, "daily");
  ASSERT_NE(daily, nullptr);
  ASSERT_TRUE(daily->plan.rate_limit);
  EXPECT_EQ(*daily->plan.rate_limit,
            (config::RateLimit{10, 86'400'000, 0, config::RateLimitKey::Consumer, ""}));
  EXPECT_EQ(daily->plan.quota_requests, 5000u);
  EXPECT_EQ(daily->plan.quota_period, config::QuotaPeriod::Day);
  EXPECT_EQ(daily->plan.currency, "");
  const auto* priced = findConsumer(result, "priced");
  ASSERT_NE(priced, nullptr);
  EXPECT_FALSE(priced->plan.rate_limit);
  EXPECT_EQ(priced->plan.quota_requests, 0u);  // no quota
  EXPECT_EQ(priced->plan.currency, "EUR");
  EXPECT_EQ(priced->plan.per_thousand_requests, "12");
  const auto* plain = findConsumer(result, "plain");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(plain->plan, config::Plan{});
  EXPECT_EQ(plain->display_name, "");
}

TEST(ConsumerPlan, EveryInvalidFieldIsAnErrorAtItsPathAndDropsTheConsumer) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rateLimit: {requests: 0, period: 1s}",
       "spec.plan.rateLimit.requests: must be between 1 and 1000000000"},
      {"rateLimit: {period: 1s}", "spec.plan.rateLimit.requests: is required"},
      {"rateLimit: {requests: 5, period: 1 second}",
       "spec.plan.rateLimit.period: invalid duration \"1 second\" (e.g. 1s, 1m, 1h, 1d, 1m30s)"},
      {"rateLimit: {requests: 5}", "spec.plan.rateLimit.period: is required"},
      {"rateLimit: {requests: 5, period: 1s, burst: -1}",
       "spec.plan.rateLimit.burst: must be between 0 and 1000000000"},
      {"rateLimit: 50/s", "spec.plan.rateLimit: must be an object"},
      {"quota: {requests: 0, period: day}", "spec.plan.quota.requests: must be at least 1"},
      {"quota: {period: day}", "spec.plan.quota.requests: is required"},
      {"quota: {requests: 10, period: week}", "spec.plan.quota.period: must be day or month"},
      {"quota: {requests: 10, period: Month}", "spec.plan.quota.period: must be day or month"},
      {"quota: {requests: 10}", "spec.plan.quota.period: is required"},
      {"pricing: {currency: usd, perThousandRequests: \"1\"}",
       "spec.plan.pricing.currency: must be an ISO 4217 code: three upper-case letters (e.g. USD)"},
      {"pricing: {currency: EURO, perThousandRequests: \"1\"}",
       "spec.plan.pricing.currency: must be an ISO 4217 code: three upper-case letters (e.g. USD)"},
      {"pricing: {perThousandRequests: \"1\"}", "spec.plan.pricing.currency: is required"},
      {"pricing: {currency: USD}", "spec.plan.pricing.perThousandRequests: is required"},
      {"pricing: {currency: USD, perThousandRequests: 0.40}",
       "spec.plan.pricing.perThousandRequests: must be a quoted decimal string such as \"0.40\", "
       "not a number"},
      {"pricing: {currency: USD, perThousandRequests: \"0.1234567\"}",
       "spec.plan.pricing.perThousandRequests: must be a decimal such as \"0.40\": 1 to 12 digits, "
       "then optionally '.' and 1 to 6 digits"},
      {"pricing: {currency: USD, perThousandRequests: \"1e3\"}",
       "spec.plan.pricing.perThousandRequests: must be a decimal such as \"0.40\": 1 to 12 digits, "
       "then optionally '.' and 1 to 6 digits"},
      {"pricing: {currency: USD, perThousandRequests: \"-1\"}",
       "spec.plan.pricing.perThousandRequests: must be a decimal such as \"0.40\": 1 to 12 digits, "
       "then optionally '.' and 1 to 6 digits"},
      {"pricing: {currency: USD, perThousandRequests: [1]}",
       "spec.plan.pricing.perThousandRequests: must be a string"},
  };
  for (const auto& [plan, error] : cases) {
    auto result =
        translateYaml(consumer("broken", "  plan:\n    " + plan + "\n") +
                      consumer("fine", "  plan:\n    quota: {requests: 1, period: day}\n"));
    EXPECT_EQ(reports(result, false), std::vector<std::string>{"APIConsumer shop/broken: " + error})
        << plan;
    EXPECT_EQ(findConsumer(result, "broken"), nullptr) << plan;
    EXPECT_NE(findConsumer(result, "fine"), nullptr) << plan;  // one bad object blocks nothing
  }
  auto not_an_object = translateYaml(consumer("broken", "  plan: gold\n"));
  EXPECT_EQ(reports(not_an_object, false),
            std::vector<std::string>{"APIConsumer shop/broken: spec.plan: must be an object"});
  EXPECT_TRUE(not_an_object.snapshot.consumers.empty());
}

TEST(ConsumerPlan, UnknownFieldsAreWarnings) {
  auto result = translateYaml(consumer("acme", R"(
  plan:
    rateLimit: {requests: 5, period: 1s, key: ClientIP}
    quota: {requests: 5, period: day, resetAt: midnight}
    tier: gold
)"));
  EXPECT_EQ(reports(result, false), std::vector<std::string>{});
  EXPECT_EQ(reports(result, true),
            (std::vector<std::string>{
                "APIConsumer shop/acme: spec.plan.tier: unknown field, ignored",
                "APIConsumer shop/acme: spec.plan.rateLimit.key: unknown field, ignored",
                "APIConsumer shop/acme: spec.plan.quota.resetAt: unknown field, ignored"}));
  const auto* c = findConsumer(result, "acme");
  ASSERT_TRUE(c && c->plan.rate_limit);
  EXPECT_EQ(c->plan.rate_limit->key, config::RateLimitKey::Consumer);  // always per consumer
}

TEST(ConsumerPlan, ADroppedConsumerKeepsItsKeyFromOthers) {
  // Its key does not move to another consumer that shares it while the plan is broken: the key
  // authenticates nobody rather than someone else.
  const std::string secret =
      "---\napiVersion: v1\nkind: Secret\nmetadata: {name: k, namespace: shop}\n"
      "stringData: {key: shared-key}\n";
  auto result = translateYaml(consumer("a-broken", R"(
  credentials: {apiKeys: [{secretRef: {name: k, key: key}}]}
  plan: {quota: {requests: 0, period: day}}
)") + consumer("b-other", R"(
  credentials: {apiKeys: [{secretRef: {name: k, key: key}}]}
)") + secret);
  EXPECT_EQ(findConsumer(result, "a-broken"), nullptr);
  const auto* other = findConsumer(result, "b-other");
  ASSERT_NE(other, nullptr);
  EXPECT_TRUE(other->api_key_sha256.empty());
}

TEST(ConsumerPlan, DisplayNameOfTheWrongTypeIsReportedNotFatal) {
  auto result = translateYaml(consumer("acme", "  displayName: [ACME]\n"));
  EXPECT_EQ(reports(result, false),
            std::vector<std::string>{"APIConsumer shop/acme: spec.displayName: must be a string"});
  ASSERT_NE(findConsumer(result, "acme"), nullptr);  // cosmetic: the consumer is still served
}

TEST(PriceDecimal, Forms) {
  for (const char* ok :
       {"0", "0.40", "12", "0.000125", "999999.999999", "007.5", "999999999999.999999"}) {
    EXPECT_TRUE(isPriceDecimal(ok)) << ok;
  }
  for (const char* bad : {"", ".5", "1.", "1.2345678", "1e3", "-1", "+1", "1,5", " 1", "1 ", "0x10",
                          "1.2.3", "NaN", "inf", "1234567890123", "1234567890123.5"}) {
    EXPECT_FALSE(isPriceDecimal(bad)) << bad;
  }
}

}  // namespace
}  // namespace atrium::controller::translator
