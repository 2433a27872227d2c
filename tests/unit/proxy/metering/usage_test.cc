#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "proxy/metering/usage_report.h"
#include "proxy/metering/usage_store.h"

namespace atrium::proxy::metering {
namespace {

TEST(UsageStoreTest, RecordsAddUpPerDayConsumerAndRoute) {
  UsageStore store;
  store.record("2026-11-26", "shop/acme", "shop/orders/list", usageOf(200, 10, 100, false));
  store.record("2026-11-26", "shop/acme", "shop/orders/list", usageOf(404, 0, 50, false));
  store.record("2026-11-26", "shop/acme", "shop/orders/list", usageOf(429, 0, 80, true));
  store.record("2026-11-27", "shop/acme", "shop/orders/list", usageOf(503, 5, 0, false));
  auto rows = store.rows("2026-11-26", "2026-11-27");
  ASSERT_EQ(rows.size(), 1u);
  const auto& c = rows[0].counters;
  EXPECT_EQ(c.requests, 3u);
  EXPECT_EQ(c.request_bytes, 10u);
  EXPECT_EQ(c.response_bytes, 230u);
  EXPECT_EQ(c.status[1], 1u);
  EXPECT_EQ(c.status[3], 2u);
  EXPECT_EQ(c.rejected, 1u);
  EXPECT_EQ(store.rows("2026-11-01", "2026-12-01").size(), 2u);
}

TEST(UsageStoreTest, QuotaStopsAtTheLimitAndReleases) {
  UsageStore store;
  EXPECT_TRUE(store.takeQuota("shop/acme", "2026-11", 2));
  EXPECT_TRUE(store.takeQuota("shop/acme", "2026-11", 2));
  EXPECT_FALSE(store.takeQuota("shop/acme", "2026-11", 2));
  EXPECT_EQ(store.quotaUsed("shop/acme", "2026-11"), 2u);
  EXPECT_TRUE(store.takeQuota("shop/acme", "2026-12", 2));  // a new period starts at zero
  store.releaseQuota("shop/acme", "2026-11");
  EXPECT_TRUE(store.takeQuota("shop/acme", "2026-11", 2));
}

TEST(UsageStoreTest, JsonRoundTripAndDirtyFlag) {
  UsageStore store;
  EXPECT_FALSE(store.takeDirty());
  store.record("2026-11-26", "shop/acme", "shop/orders/list", usageOf(200, 1, 2, false));
  store.takeQuota("shop/acme", "2026-11", 10);
  EXPECT_TRUE(store.takeDirty());
  EXPECT_FALSE(store.takeDirty());
  UsageStore copy;
  copy.load(nlohmann::json::parse(store.toJson().dump()));
  EXPECT_EQ(copy.rows("2026-11-26", "2026-11-27")[0].counters,
            store.rows("2026-11-26", "2026-11-27")[0].counters);
  EXPECT_EQ(copy.quotaUsed("shop/acme", "2026-11"), 1u);
  EXPECT_THROW(copy.load(nlohmann::json::parse(R"({"version":9})")), std::exception);
  EXPECT_THROW(copy.load(nlohmann::json::parse(R"({"version":1})")), std::exception);
}

TEST(UsageStoreTest, PruneDropsOldDaysAndPeriods) {
  UsageStore store;
  store.record("2025-01-01", "a/b", "a/r", usageOf(200, 0, 0, false));
  store.record("2026-11-26", "a/b", "a/r", usageOf(200, 0, 0, false));
  store.takeQuota("a/b", "2025-01", 5);
  store.takeQuota("a/b", "2026-11-26", 5);
  store.prune("2025-11-01");
  EXPECT_EQ(store.rows("2000-01-01", "2100-01-01").size(), 1u);
  EXPECT_EQ(store.quotaUsed("a/b", "2025-01"), 0u);
  EXPECT_EQ(store.quotaUsed("a/b", "2026-11-26"), 1u);
}

TEST(UsageReportTest, AmountsAreExactDecimals) {
  EXPECT_EQ(billableAmount("0.40", 1000).value(), "0.40");
  EXPECT_EQ(billableAmount("0.40", 5).value(), "0.002");
  EXPECT_EQ(billableAmount("0.40", 0).value(), "0.00");
  EXPECT_EQ(billableAmount("1", 2500).value(), "2.50");
  EXPECT_EQ(billableAmount("0.000001", 1).value(), "0.000000001");
  EXPECT_EQ(billableAmount("12.345678", 1'000'000'000).value(), "12345678.00");
  EXPECT_EQ(billableAmount("0.40", 18'446'744'073'709'551'615ull).value(), "7378697629483820.646");
  for (const char* bad : {"", ".5", "1.", "-1", "1e3", "0.1234567", "1,5", " 1"}) {
    EXPECT_FALSE(billableAmount(bad, 1)) << bad;
  }
}

TEST(UsageReportTest, BillableExcludesRejectionsAndServerErrors) {
  UsageCounters c;
  c.add(usageOf(200, 0, 0, false));
  c.add(usageOf(404, 0, 0, false));
  c.add(usageOf(429, 0, 0, true));
  c.add(usageOf(502, 0, 0, false));
  EXPECT_EQ(c.requests, 4u);
  EXPECT_EQ(billableRequests(c), 2u);
}

TEST(UsageReportTest, QueryParsing) {
  std::string error;
  const int64_t now = 1795651200;  // 2026-11-26
  auto q = parseUsageQuery("", now, error);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->period.id, "2026-11");
  EXPECT_FALSE(q->csv);
  q = parseUsageQuery("period=2026-10-03&namespace=shop&consumer=acme&format=csv", now, error);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->period.id, "2026-10-03");
  EXPECT_EQ(q->ns, "shop");
  EXPECT_EQ(q->consumer, "acme");
  EXPECT_TRUE(q->csv);
  q = parseUsageQuery("consumer=shop%2Facme", now, error);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->consumer, "shop/acme");
  for (const char* bad : {"period=2026-13", "format=xml", "namespace=Shop", "consumer=a/b/c",
                          "colour=blue", "consumer=%0d%0a"}) {
    error.clear();
    EXPECT_FALSE(parseUsageQuery(bad, now, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

std::vector<config::Consumer> consumers() {
  config::Consumer acme;
  acme.ns = "shop";
  acme.name = "acme";
  acme.display_name = "ACME Corp";
  acme.plan.currency = "USD";
  acme.plan.per_thousand_requests = "0.40";
  acme.plan.quota_requests = 1000;
  config::Consumer other;
  other.ns = "lab";
  other.name = "acme";
  return {acme, other};
}

std::vector<UsageRow> rows() {
  UsageCounters two_ok;
  two_ok.add(usageOf(200, 3, 30, false));
  two_ok.add(usageOf(201, 4, 40, false));
  return {{"2026-11-01", "shop/acme", "shop/orders/list", two_ok},
          {"2026-11-30", "shop/acme", "shop/orders/get", usageOf(429, 0, 9, true)},
          {"2026-11-30", "lab/acme", "lab/api/x", usageOf(200, 0, 1, false)},
          {"2026-12-01", "shop/acme", "shop/orders/list", two_ok}};
}

TEST(UsageReportTest, JsonSumsThePeriodPerConsumerAndRoute) {
  std::string error;
  auto q = parseUsageQuery("period=2026-11&namespace=shop", 0, error);
  ASSERT_TRUE(q);
  auto doc = nlohmann::json::parse(usageJson(*q, rows(), consumers(), "memory"));
  EXPECT_EQ(doc["period"], "2026-11");
  EXPECT_EQ(doc["from"], "2026-11-01T00:00:00Z");
  EXPECT_EQ(doc["to"], "2026-12-01T00:00:00Z");
  ASSERT_EQ(doc["consumers"].size(), 1u);
  const auto& c = doc["consumers"][0];
  EXPECT_EQ(c["namespace"], "shop");
  EXPECT_EQ(c["name"], "acme");
  EXPECT_EQ(c["displayName"], "ACME Corp");
  EXPECT_EQ(c["requests"], 3);
  EXPECT_EQ(c["rejected"], 1);
  EXPECT_EQ(c["billableRequests"], 2);
  EXPECT_EQ(c["requestBytes"], 7);
  EXPECT_EQ(c["responseBytes"], 79);
  EXPECT_EQ(c["status"]["2xx"], 2);
  EXPECT_EQ(c["status"]["4xx"], 1);
  EXPECT_EQ(c["billing"]["currency"], "USD");
  EXPECT_EQ(c["billing"]["amount"], "0.0008");
  EXPECT_EQ(c["quota"]["requests"], 1000);
  ASSERT_EQ(c["routes"].size(), 2u);
  EXPECT_EQ(c["routes"][0]["route"], "shop/orders/get");
  EXPECT_EQ(c["routes"][1]["requests"], 2);
}

TEST(UsageReportTest, ConsumerFilterByNameMatchesEveryNamespace) {
  std::string error;
  auto q = parseUsageQuery("period=2026-11&consumer=acme", 0, error);
  auto doc = nlohmann::json::parse(usageJson(*q, rows(), consumers(), "memory"));
  EXPECT_EQ(doc["consumers"].size(), 2u);
  q = parseUsageQuery("period=2026-11&consumer=lab/acme", 0, error);
  doc = nlohmann::json::parse(usageJson(*q, rows(), consumers(), "memory"));
  ASSERT_EQ(doc["consumers"].size(), 1u);
  EXPECT_FALSE(doc["consumers"][0].contains("billing"));  // no pricing in its plan
}

TEST(UsageReportTest, CsvHasOneRowPerConsumerAndRoute) {
  std::string error;
  auto q = parseUsageQuery("period=2026-11-30&format=csv", 0, error);
  const std::string csv = usageCsv(*q, rows(), consumers());
  EXPECT_EQ(csv,
            "period,namespace,consumer,route,requests,request_bytes,response_bytes,status_1xx,"
            "status_2xx,status_3xx,status_4xx,status_5xx,rejected,billable_requests,currency,"
            "amount\r\n"
            "2026-11-30,lab,acme,lab/api/x,1,0,1,0,1,0,0,0,0,1,,\r\n"
            "2026-11-30,shop,acme,shop/orders/get,1,0,9,0,0,0,1,0,1,0,USD,0.00\r\n");
}

}  // namespace
}  // namespace atrium::proxy::metering
