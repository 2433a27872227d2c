#pragma once
// GET /usage (SPEC §5.6): usage rows of one period summed per consumer and route, with the
// billable amount from each consumer's plan.pricing, as JSON or CSV. Pure functions over the
// rows, so the admin server's two sources (Redis, the in-memory store) share them.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "proxy/metering/calendar.h"
#include "proxy/metering/usage_store.h"
#include "src/config/snapshot.h"

namespace atrium::proxy::metering {

struct UsageQuery {
  ReportPeriod period;
  std::string ns;        // empty: every namespace
  std::string consumer;  // "name" (with ns) or "ns/name"; empty: every consumer
  bool csv = false;
};

// Parses /usage's query string (period, namespace, consumer, format). On a bad parameter
// returns nullopt and a one-line reason in `error`.
std::optional<UsageQuery> parseUsageQuery(std::string_view query, int64_t now_unix,
                                          std::string& error);

// Price per thousand requests ("0.40") × requests, exactly: prices have at most 6 decimals, so
// the amount has at most 9 and is computed in integers. Written with at least 2 decimals.
// nullopt when `price` is not such a decimal.
std::optional<std::string> billableAmount(std::string_view price_per_thousand, uint64_t requests);
// Requests that are billed: answered by the service, not refused by the gateway's limits and
// not failed on the server side (5xx).
uint64_t billableRequests(const UsageCounters& c);

std::string usageJson(const UsageQuery& query, const std::vector<UsageRow>& rows,
                      const std::vector<config::Consumer>& consumers, std::string_view source);
std::string usageCsv(const UsageQuery& query, const std::vector<UsageRow>& rows,
                     const std::vector<config::Consumer>& consumers);

}  // namespace atrium::proxy::metering
