// policy.retries, circuitBreaker, healthCheck, loadBalancer and hashOn as written in manifests →
// the IR: every field and its default, the CRD's bounds, duration forms, fields applied on top
// of an inherited policy, and each way of getting it wrong reported at its exact field path.
#include "controller/translator/resilience_reader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/unit/controller/translator/field_reports.h"

namespace atrium::controller::translator {
namespace {

using nlohmann::json;

const std::string kPolicy = "spec.policy";

using Reports = field_reports::FieldReports;

template <typename Read>
auto run(Read&& read, Reports& reports) {
  return field_reports::readReporting(read, reports);
}

const std::string kRetries = kPolicy + ".retries";
const std::string kBreaker = kPolicy + ".circuitBreaker";
const std::string kCheck = kPolicy + ".healthCheck";

std::optional<config::RetryPolicy> retries(const json& j, Reports& reports,
                                           const config::RetryPolicy& base = {}) {
  return run([&](FieldReader& r) { return readRetryPolicy(r, j, kRetries, base); }, reports);
}

std::optional<config::CircuitBreaker> breaker(const json& j, Reports& reports,
                                              const config::CircuitBreaker& base = {}) {
  return run([&](FieldReader& r) { return readCircuitBreaker(r, j, kBreaker, base); }, reports);
}

std::optional<config::HealthCheck> check(const json& j, Reports& reports,
                                         const config::HealthCheck& base = {}) {
  return run([&](FieldReader& r) { return readHealthCheck(r, j, kCheck, base); }, reports);
}

// The single error of reading `j` with `reader` (retries / breaker / check).
template <typename Reader>
std::string errorOf(Reader reader, const json& j) {
  Reports reports;
  auto out = reader(j, reports, {});
  EXPECT_FALSE(out) << j.dump();
  EXPECT_EQ(reports.errors.size(), 1u) << j.dump();
  return reports.errors.empty() ? "" : reports.errors.front();
}

// ---- retries ---------------------------------------------------------------------------------

TEST(RetryReader, Defaults) {
  Reports reports;
  auto out = retries(json::object(), reports);
  ASSERT_TRUE(out);
  EXPECT_TRUE(reports.errors.empty() && reports.warnings.empty());
  EXPECT_EQ(*out, config::RetryPolicy{});
  EXPECT_EQ(out->attempts, 0u);
  EXPECT_EQ(out->retry_on, (std::vector<config::RetryOn>{config::RetryOn::ConnectFailure,
                                                         config::RetryOn::Reset}));
  EXPECT_EQ(out->per_try_timeout_ms, 0u);
  EXPECT_EQ(out->backoff_ms, 25u);
  EXPECT_FALSE(out->retry_non_idempotent);
}

TEST(RetryReader, EveryField) {
  Reports reports;
  auto out = retries(json::parse(R"({
    "attempts": 10, "retryOn": ["504", "reset", "502", "connect-failure", "503", "reset"],
    "perTryTimeout": "1.5s", "backoff": "100ms", "retryNonIdempotent": true
  })"),
                     reports);
  ASSERT_TRUE(out);
  EXPECT_TRUE(reports.errors.empty() && reports.warnings.empty());
  // retryOn: the enum's order, each once.
  EXPECT_EQ(*out, (config::RetryPolicy{10,
                                       {config::RetryOn::ConnectFailure, config::RetryOn::Reset,
                                        config::RetryOn::Status502, config::RetryOn::Status503,
                                        config::RetryOn::Status504},
                                       1'500,
                                       100,
                                       true}));
  // An empty list retries nothing; backoff 0 retries at once.
  auto none = retries({{"attempts", 0}, {"retryOn", json::array()}, {"backoff", "0s"}}, reports);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->retry_on.empty());
  EXPECT_EQ(none->backoff_ms, 0u);
}

TEST(RetryReader, Errors) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"attempts", -1}}, kRetries + ".attempts: must be between 0 and 10"},
      {{{"attempts", 11}}, kRetries + ".attempts: must be between 0 and 10"},
      {{{"attempts", "2"}}, kRetries + ".attempts: must be an integer"},
      {{{"retryOn", {"timeout"}}},
       kRetries + ".retryOn[0]: must be connect-failure, reset, \"502\", \"503\" or \"504\""},
      {{{"retryOn", {"reset", "500"}}},
       kRetries + ".retryOn[1]: must be connect-failure, reset, \"502\", \"503\" or \"504\""},
      // YAML's unquoted 503 is a number; the CRD wants strings.
      {{{"retryOn", {503}}},
       kRetries + ".retryOn[0]: must be a string: quote status codes (\"503\")"},
      {{{"retryOn", "reset"}}, kRetries + ".retryOn: must be a list"},
      {{{"perTryTimeout", "0s"}}, kRetries + ".perTryTimeout: must be greater than zero"},
      {{{"perTryTimeout", "2"}},
       kRetries + ".perTryTimeout: invalid duration \"2\" (e.g. 500ms, 5s, 1m)"},
      {{{"backoff", "fast"}},
       kRetries + ".backoff: invalid duration \"fast\" (e.g. 500ms, 5s, 1m)"},
      {{{"backoff", "50d"}}, kRetries + ".backoff: must be at most 1193h"},
      {{{"retryNonIdempotent", "yes"}}, kRetries + ".retryNonIdempotent: must be true or false"},
  };
  for (const auto& [j, error] : cases) EXPECT_EQ(errorOf(retries, j), error) << j.dump();
}

TEST(RetryReader, DurationForms) {
  const std::vector<std::pair<std::string, uint32_t>> cases = {{"1ms", 1},    {"250ms", 250},
                                                               {"2s", 2'000}, {"1m30s", 90'000},
                                                               {"100us", 1},  {"1h", 3'600'000}};
  for (const auto& [text, ms] : cases) {
    Reports reports;
    auto out = retries({{"perTryTimeout", text}, {"backoff", text}}, reports);
    ASSERT_TRUE(out) << text;
    EXPECT_EQ(out->per_try_timeout_ms, ms) << text;
    EXPECT_EQ(out->backoff_ms, ms) << text;
  }
}

TEST(RetryReader, FieldsApplyOnTopOfTheInheritedPolicy) {
  const config::RetryPolicy base{3, {config::RetryOn::Status503}, 500, 50, true};
  Reports reports;
  auto out = retries({{"attempts", 1}}, reports, base);
  ASSERT_TRUE(out);
  config::RetryPolicy expected = base;
  expected.attempts = 1;
  EXPECT_EQ(*out, expected);
  auto on = retries({{"retryOn", {"reset"}}, {"retryNonIdempotent", false}}, reports, base);
  ASSERT_TRUE(on);
  EXPECT_EQ(on->retry_on, std::vector<config::RetryOn>{config::RetryOn::Reset});
  EXPECT_FALSE(on->retry_non_idempotent);
  EXPECT_EQ(on->attempts, 3u);
}

TEST(RetryReader, UnknownFieldsAreWarnings) {
  Reports reports;
  auto out = retries({{"attempts", 2}, {"retryOnStatus", {"503"}}}, reports);
  ASSERT_TRUE(out);
  EXPECT_EQ(reports.warnings,
            std::vector<std::string>{kRetries + ".retryOnStatus: unknown field, ignored"});
}

// ---- circuitBreaker --------------------------------------------------------------------------

TEST(CircuitBreakerReader, DefaultsAndEveryField) {
  Reports reports;
  auto defaults = breaker(json::object(), reports);
  ASSERT_TRUE(defaults);
  EXPECT_EQ(*defaults, (config::CircuitBreaker{5, 30'000, 0, 0}));
  auto out = breaker(json::parse(R"({"consecutiveFailures": 1000, "openFor": "1m",
                                     "maxConnections": 1000000, "maxPendingRequests": 0})"),
                     reports);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, (config::CircuitBreaker{1000, 60'000, 1'000'000, 0}));
  auto low = breaker(json::parse(R"({"consecutiveFailures": 1, "openFor": "500ms",
                                     "maxConnections": 1, "maxPendingRequests": 1000000})"),
                     reports);
  ASSERT_TRUE(low);
  EXPECT_EQ(*low, (config::CircuitBreaker{1, 500, 1, 1'000'000}));
  EXPECT_TRUE(reports.errors.empty() && reports.warnings.empty());
}

TEST(CircuitBreakerReader, Errors) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"consecutiveFailures", 0}}, kBreaker + ".consecutiveFailures: must be between 1 and 1000"},
      {{{"consecutiveFailures", 1001}},
       kBreaker + ".consecutiveFailures: must be between 1 and 1000"},
      {{{"openFor", "0s"}}, kBreaker + ".openFor: must be greater than zero"},
      {{{"openFor", "30"}}, kBreaker + ".openFor: invalid duration \"30\" (e.g. 500ms, 5s, 1m)"},
      {{{"maxConnections", 0}}, kBreaker + ".maxConnections: must be between 1 and 1000000"},
      {{{"maxConnections", 1000001}}, kBreaker + ".maxConnections: must be between 1 and 1000000"},
      {{{"maxPendingRequests", -1}},
       kBreaker + ".maxPendingRequests: must be between 0 and 1000000"},
      {{{"maxPendingRequests", 1.5}}, kBreaker + ".maxPendingRequests: must be an integer"},
  };
  for (const auto& [j, error] : cases) EXPECT_EQ(errorOf(breaker, j), error) << j.dump();
}

TEST(CircuitBreakerReader, FieldsApplyOnTopOfTheInheritedPolicy) {
  Reports reports;
  auto out = breaker({{"openFor", "10s"}}, reports, config::CircuitBreaker{3, 1'000, 64, 8});
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, (config::CircuitBreaker{3, 10'000, 64, 8}));
}

// ---- healthCheck -----------------------------------------------------------------------------

TEST(HealthCheckReader, DefaultsAndEveryField) {
  Reports reports;
  auto defaults = check(json::object(), reports);
  ASSERT_TRUE(defaults);
  EXPECT_EQ(*defaults, (config::HealthCheck{"/healthz", 5'000, 1'000, 3, 2}));
  auto out = check(json::parse(R"({"path": "/status/ready", "interval": "10s", "timeout": "2s",
                                   "unhealthyThreshold": 100, "healthyThreshold": 1})"),
                   reports);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, (config::HealthCheck{"/status/ready", 10'000, 2'000, 100, 1}));
  EXPECT_TRUE(reports.errors.empty() && reports.warnings.empty());
}

TEST(HealthCheckReader, PathIsNormalised) {
  Reports reports;
  auto out = check({{"path", "/%7Eops/health%2a"}}, reports);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->path, "/~ops/health%2A");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"healthz", "must be an absolute path starting with '/'"},
      {"", "must be an absolute path starting with '/'"},
      {"/a//b", "must not contain '//'"},
      {"/a/../b", "must not contain '/../'"},
      {"/x?probe=1", "must not contain '?' or '#'"},
      {"/a b", "must not contain spaces or control characters"},
      {"/%zz", "has a malformed percent-escape"},
  };
  for (const auto& [path, message] : bad) {
    EXPECT_EQ(errorOf(check, {{"path", path}}), kCheck + ".path: " + message) << path;
  }
}

TEST(HealthCheckReader, Errors) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"interval", "0s"}}, kCheck + ".interval: must be greater than zero"},
      {{{"timeout", "never"}},
       kCheck + ".timeout: invalid duration \"never\" (e.g. 500ms, 5s, 1m)"},
      {{{"unhealthyThreshold", 0}}, kCheck + ".unhealthyThreshold: must be between 1 and 100"},
      {{{"healthyThreshold", 101}}, kCheck + ".healthyThreshold: must be between 1 and 100"},
      {{{"path", 7}}, kCheck + ".path: must be a string"},
      // The timeout must be shorter than the interval; reported where it was written.
      {{{"interval", "1s"}, {"timeout", "1s"}},
       kCheck + ".timeout: timeout (1000ms) must be shorter than interval (1000ms)"},
      {{{"timeout", "6s"}},
       kCheck + ".timeout: timeout (6000ms) must be shorter than interval (5000ms)"},
      {{{"interval", "500ms"}},
       kCheck + ".interval: timeout (1000ms) must be shorter than interval (500ms)"},
  };
  for (const auto& [j, error] : cases) EXPECT_EQ(errorOf(check, j), error) << j.dump();
}

TEST(HealthCheckReader, TimeoutIsComparedWithTheMergedInterval) {
  const config::HealthCheck base{"/ready", 10'000, 5'000, 3, 2};
  Reports reports;
  auto shorter = check({{"interval", "2s"}}, reports, base);  // inherits timeout 5s
  EXPECT_FALSE(shorter);
  EXPECT_EQ(reports.errors,
            std::vector<std::string>{kCheck + ".interval: timeout (5000ms) must be shorter than "
                                              "interval (2000ms)"});
  Reports ok_reports;
  auto ok = check({{"interval", "2s"}, {"timeout", "500ms"}}, ok_reports, base);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, (config::HealthCheck{"/ready", 2'000, 500, 3, 2}));
}

// ---- loadBalancer / hashOn -------------------------------------------------------------------

TEST(BalancingReader, LoadBalancer) {
  const std::vector<std::pair<std::string, config::LoadBalancer>> good = {
      {"RoundRobin", config::LoadBalancer::RoundRobin},
      {"LeastRequest", config::LoadBalancer::LeastRequest},
      {"ConsistentHash", config::LoadBalancer::ConsistentHash}};
  for (const auto& [text, value] : good) {
    Reports reports;
    auto out = run([&](FieldReader& r) { return parseLoadBalancer(r, text, "x"); }, reports);
    EXPECT_EQ(out, value) << text;
    EXPECT_TRUE(reports.errors.empty());
  }
  for (const char* text : {"roundrobin", "Random", "", "Maglev"}) {
    Reports reports;
    auto out =
        run([&](FieldReader& r) { return parseLoadBalancer(r, text, kPolicy + ".loadBalancer"); },
            reports);
    EXPECT_FALSE(out) << text;
    EXPECT_EQ(reports.errors, std::vector<std::string>{
                                  kPolicy + ".loadBalancer: must be RoundRobin, LeastRequest or "
                                            "ConsistentHash"});
  }
}

TEST(BalancingReader, HashOn) {
  const std::vector<std::pair<std::string, HashKey>> good = {
      {"ClientIP", {config::HashOn::ClientIP, ""}},
      {"Header:X-User-ID", {config::HashOn::Header, "x-user-id"}},    // lower-case
      {"Cookie:Session_ID", {config::HashOn::Cookie, "Session_ID"}},  // as written
      {"Header:" + std::string(256, 'A'), {config::HashOn::Header, std::string(256, 'a')}},
  };
  for (const auto& [text, key] : good) {
    Reports reports;
    auto out = run([&](FieldReader& r) { return parseHashOn(r, text, "x"); }, reports);
    ASSERT_TRUE(out) << text;
    EXPECT_EQ(*out, key) << text;
  }
  const std::vector<std::string> bad = {
      "clientip", "Header",     "Header:",
      "Cookie:",  "Header:a b", "Cookie:a;b",
      "Query:x",  "Path",       "Header:" + std::string(257, 'a')};
  for (const auto& text : bad) {
    Reports reports;
    auto out =
        run([&](FieldReader& r) { return parseHashOn(r, text, kPolicy + ".hashOn"); }, reports);
    EXPECT_FALSE(out) << text;
    EXPECT_EQ(reports.errors,
              std::vector<std::string>{
                  kPolicy +
                  ".hashOn: must be ClientIP, Header:<name> or Cookie:<name> with a token name"})
        << text;
  }
}

}  // namespace
}  // namespace atrium::controller::translator
