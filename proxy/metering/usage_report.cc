#include "proxy/metering/usage_report.h"

#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>

#include "proxy/http/query_pairs.h"

namespace atrium::proxy::metering {

namespace {

constexpr const char* kStatusNames[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

bool isName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
          c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

// Price in millionths.
std::optional<uint64_t> parsePrice(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  uint64_t whole = 0, frac = 0;
  size_t i = 0, digits = 0, frac_digits = 0;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++digits) {
    if (whole > 1'000'000'000'000ull) return std::nullopt;
    whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  if (i < s.size()) {
    if (s[i] != '.') return std::nullopt;
    for (++i; i < s.size(); ++i, ++frac_digits) {
      if (!std::isdigit(static_cast<unsigned char>(s[i])) || frac_digits >= 6) return std::nullopt;
      frac = frac * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    if (frac_digits == 0) return std::nullopt;
  }
  if (digits == 0) return std::nullopt;
  for (size_t k = frac_digits; k < 6; ++k) frac *= 10;
  return whole * 1'000'000 + frac;
}

const config::Consumer* findConsumer(const std::vector<config::Consumer>& consumers,
                                     std::string_view qualified) {
  for (const auto& c : consumers) {
    if (qualified.size() == c.ns.size() + 1 + c.name.size() && qualified.starts_with(c.ns) &&
        qualified[c.ns.size()] == '/' && qualified.ends_with(c.name)) {
      return &c;
    }
  }
  return nullptr;
}

bool selected(const UsageQuery& q, std::string_view qualified) {
  const auto slash = qualified.find('/');
  const std::string_view ns = qualified.substr(0, slash);
  const std::string_view name = slash == std::string_view::npos ? "" : qualified.substr(slash + 1);
  if (!q.ns.empty() && ns != q.ns) return false;
  if (q.consumer.empty()) return true;
  return q.consumer.find('/') == std::string::npos ? name == q.consumer : qualified == q.consumer;
}

// consumer → route → counters, over the query's period and filters.
using Totals = std::map<std::string, std::map<std::string, UsageCounters>>;
Totals sum(const UsageQuery& q, const std::vector<UsageRow>& rows) {
  Totals totals;
  const std::string from = dayId(q.period.start), to = dayId(q.period.end);
  for (const auto& r : rows) {
    if (r.day < from || r.day >= to || !selected(q, r.consumer)) continue;
    totals[r.consumer][r.route].add(r.counters);
  }
  return totals;
}

nlohmann::json countersJson(const UsageCounters& c) {
  nlohmann::json status = nlohmann::json::object();
  for (size_t i = 0; i < 5; ++i) status[kStatusNames[i]] = c.status[i];
  return {{"requests", c.requests},       {"requestBytes", c.request_bytes},
          {"responseBytes", c.response_bytes}, {"status", std::move(status)},
          {"rejected", c.rejected},       {"billableRequests", billableRequests(c)}};
}

std::string isoDate(int64_t unix_seconds) { return dayId(unix_seconds) + "T00:00:00Z"; }

std::string csvField(std::string_view s) {
  // Names are DNS labels, but a field is quoted whenever it could break the row.
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace

std::optional<UsageQuery> parseUsageQuery(std::string_view query, int64_t now_unix,
                                          std::string& error) {
  UsageQuery q;
  q.period = currentMonth(now_unix);
  for (const auto& [key, value] : http::parseQueryPairs(query)) {
    if (key == "period") {
      auto p = parseReportPeriod(value);
      if (!p) {
        error = "period must be a month (2026-11) or a day (2026-11-26)";
        return std::nullopt;
      }
      q.period = *p;
    } else if (key == "namespace") {
      if (!isName(value)) {
        error = "namespace must be a Kubernetes namespace name";
        return std::nullopt;
      }
      q.ns = value;
    } else if (key == "consumer") {
      const size_t slash = value.find('/');
      const bool ok = slash == std::string::npos
                          ? isName(value)
                          : isName(value.substr(0, slash)) && isName(value.substr(slash + 1));
      if (!ok) {
        error = "consumer must be NAME or NAMESPACE/NAME";
        return std::nullopt;
      }
      q.consumer = value;
    } else if (key == "format") {
      if (value != "csv" && value != "json") {
        error = "format must be json or csv";
        return std::nullopt;
      }
      q.csv = value == "csv";
    } else {
      error = "unknown parameter \"" + key + "\" (use period, namespace, consumer, format)";
      return std::nullopt;
    }
  }
  return q;
}

uint64_t billableRequests(const UsageCounters& c) {
  const uint64_t not_billed = c.status[4] + c.rejected;
  return c.requests > not_billed ? c.requests - not_billed : 0;
}

std::optional<std::string> billableAmount(std::string_view price_per_thousand, uint64_t requests) {
  auto micro = parsePrice(price_per_thousand);
  if (!micro) return std::nullopt;
  // amount = requests × price / 1000; in billionths that is exactly requests × price-in-millionths.
  const unsigned __int128 nano = static_cast<unsigned __int128>(requests) * *micro;
  const unsigned __int128 whole = nano / 1'000'000'000u;
  uint64_t frac = static_cast<uint64_t>(nano % 1'000'000'000u);
  std::string whole_text;
  unsigned __int128 w = whole;
  do {
    whole_text.insert(whole_text.begin(), static_cast<char>('0' + static_cast<int>(w % 10)));
    w /= 10;
  } while (w > 0);
  std::string frac_text = fmt::format("{:09}", frac);
  while (frac_text.size() > 2 && frac_text.back() == '0') frac_text.pop_back();
  return whole_text + "." + frac_text;
}

std::string usageJson(const UsageQuery& query, const std::vector<UsageRow>& rows,
                      const std::vector<config::Consumer>& consumers, std::string_view source) {
  nlohmann::json out = {{"period", query.period.id},
                        {"from", isoDate(query.period.start)},
                        {"to", isoDate(query.period.end)},
                        {"source", source},
                        {"consumers", nlohmann::json::array()}};
  for (const auto& [qualified, routes] : sum(query, rows)) {
    UsageCounters total;
    nlohmann::json route_list = nlohmann::json::array();
    for (const auto& [route, counters] : routes) {
      total.add(counters);
      nlohmann::json r = countersJson(counters);
      r["route"] = route;
      route_list.push_back(std::move(r));
    }
    const auto slash = qualified.find('/');
    nlohmann::json entry = countersJson(total);
    entry["namespace"] = qualified.substr(0, slash);
    entry["name"] = slash == std::string::npos ? "" : qualified.substr(slash + 1);
    entry["routes"] = std::move(route_list);
    if (const auto* c = findConsumer(consumers, qualified)) {
      if (!c->display_name.empty()) entry["displayName"] = c->display_name;
      const auto& plan = c->plan;
      if (plan.quota_requests) {
        entry["quota"] = {{"requests", plan.quota_requests},
                          {"period", plan.quota_period == config::QuotaPeriod::Day ? "day" : "month"}};
      }
      if (!plan.currency.empty()) {
        entry["billing"] = {{"currency", plan.currency},
                            {"perThousandRequests", plan.per_thousand_requests},
                            {"amount", billableAmount(plan.per_thousand_requests,
                                                      billableRequests(total))
                                           .value_or("")}};
      }
    }
    out["consumers"].push_back(std::move(entry));
  }
  return out.dump(2) + "\n";
}

std::string usageCsv(const UsageQuery& query, const std::vector<UsageRow>& rows,
                     const std::vector<config::Consumer>& consumers) {
  std::string out =
      "period,namespace,consumer,route,requests,request_bytes,response_bytes,status_1xx,"
      "status_2xx,status_3xx,status_4xx,status_5xx,rejected,billable_requests,currency,amount\r\n";
  for (const auto& [qualified, routes] : sum(query, rows)) {
    const auto slash = qualified.find('/');
    const std::string ns = qualified.substr(0, slash);
    const std::string name = slash == std::string::npos ? "" : qualified.substr(slash + 1);
    const auto* c = findConsumer(consumers, qualified);
    for (const auto& [route, k] : routes) {
      std::string currency, amount;
      if (c && !c->plan.currency.empty()) {
        currency = c->plan.currency;
        amount = billableAmount(c->plan.per_thousand_requests, billableRequests(k)).value_or("");
      }
      out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n", query.period.id,
                         csvField(ns), csvField(name), csvField(route), k.requests,
                         k.request_bytes, k.response_bytes, k.status[0], k.status[1], k.status[2],
                         k.status[3], k.status[4], k.rejected, billableRequests(k), currency,
                         amount);
    }
  }
  return out;
}

}  // namespace atrium::proxy::metering
