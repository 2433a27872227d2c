#include "proxy/upstream/retry.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace atrium::proxy::upstream {
namespace {

using config::RetryOn;

TEST(RetryTest, IdempotentMethods) {
  for (const char* m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    EXPECT_TRUE(isIdempotent(m)) << m;
  }
  for (const char* m : {"POST", "PATCH", "CONNECT", "get", "", "PROPFIND"}) {
    EXPECT_FALSE(isIdempotent(m)) << m;
  }
}

struct Case {
  std::string name;
  uint32_t attempts;
  std::vector<RetryOn> retry_on;
  bool non_idempotent;
  AttemptOutcome outcome;
  std::string method;
  BodyState body;
  uint32_t tries;
  bool expected;
};

const std::vector<RetryOn> kDefault = {RetryOn::ConnectFailure, RetryOn::Reset};
const std::vector<RetryOn> kAll = {RetryOn::ConnectFailure, RetryOn::Reset, RetryOn::Status502,
                                   RetryOn::Status503, RetryOn::Status504};
const auto kConnect = AttemptOutcome::connectFailure();
const auto kReset = AttemptOutcome::reset();
const auto kTimeout = AttemptOutcome::timeout();
AttemptOutcome status(int s) { return AttemptOutcome::response(s); }

TEST(RetryTest, DecisionTable) {
  const std::vector<Case> cases = {
      // Attempts: tries made (the failed one included) against the extra tries allowed.
      {"first failure", 2, kDefault, false, kReset, "GET", BodyState::None, 1, true},
      {"second failure", 2, kDefault, false, kReset, "GET", BodyState::None, 2, true},
      {"attempts exhausted", 2, kDefault, false, kReset, "GET", BodyState::None, 3, false},
      {"no retries configured", 0, kAll, false, kConnect, "GET", BodyState::None, 1, false},
      {"zero tries counts as one", 0, kAll, false, kConnect, "GET", BodyState::None, 0, false},
      // retryOn kinds.
      {"connect failure listed", 1, kDefault, false, kConnect, "GET", BodyState::None, 1, true},
      {"connect failure unlisted",
       1,
       {RetryOn::Reset},
       false,
       kConnect,
       "GET",
       BodyState::None,
       1,
       false},
      {"reset unlisted",
       1,
       {RetryOn::ConnectFailure},
       false,
       kReset,
       "GET",
       BodyState::None,
       1,
       false},
      {"502 not in default", 1, kDefault, false, status(502), "GET", BodyState::None, 1, false},
      {"502 listed", 1, {RetryOn::Status502}, false, status(502), "GET", BodyState::None, 1, true},
      {"503 listed", 1, {RetryOn::Status503}, false, status(503), "GET", BodyState::None, 1, true},
      {"504 listed", 1, {RetryOn::Status504}, false, status(504), "GET", BodyState::None, 1, true},
      {"503 under 502 only",
       1,
       {RetryOn::Status502},
       false,
       status(503),
       "GET",
       BodyState::None,
       1,
       false},
      {"500 never", 3, kAll, true, status(500), "GET", BodyState::None, 1, false},
      {"429 never", 3, kAll, true, status(429), "GET", BodyState::None, 1, false},
      {"200 never", 3, kAll, true, status(200), "GET", BodyState::None, 1, false},
      // Timeouts retry under 504 only.
      {"timeout under default", 1, kDefault, false, kTimeout, "GET", BodyState::None, 1, false},
      {"timeout under reset",
       1,
       {RetryOn::Reset},
       false,
       kTimeout,
       "GET",
       BodyState::None,
       1,
       false},
      {"timeout under 504",
       1,
       {RetryOn::Status504},
       false,
       kTimeout,
       "GET",
       BodyState::None,
       1,
       true},
      // Bodies.
      {"buffered body", 1, kDefault, false, kReset, "PUT", BodyState::Buffered, 1, true},
      {"streamed body", 1, kAll, true, kReset, "PUT", BodyState::Streamed, 1, false},
      {"streamed body, connect failure", 1, kAll, true, kConnect, "GET", BodyState::Streamed, 1,
       false},
      // Non-idempotent methods.
      {"POST reset", 1, kDefault, false, kReset, "POST", BodyState::Buffered, 1, false},
      {"POST reset, allowed", 1, kDefault, true, kReset, "POST", BodyState::Buffered, 1, true},
      {"POST no body, allowed", 1, kDefault, true, kReset, "POST", BodyState::None, 1, true},
      {"POST streamed, allowed", 1, kDefault, true, kReset, "POST", BodyState::Streamed, 1, false},
      {"POST 503", 1, kAll, false, status(503), "POST", BodyState::Buffered, 1, false},
      {"PATCH 503, allowed", 1, kAll, true, status(503), "PATCH", BodyState::None, 1, true},
      {"POST timeout", 1, kAll, false, kTimeout, "POST", BodyState::Buffered, 1, false},
      // A connect failure never reached the upstream: safe for any method.
      {"POST connect failure", 1, kDefault, false, kConnect, "POST", BodyState::Buffered, 1, true},
      {"POST connect failure, no body", 1, kDefault, false, kConnect, "POST", BodyState::None, 1,
       true},
      {"DELETE reset", 1, kDefault, false, kReset, "DELETE", BodyState::None, 1, true},
      {"HEAD 502", 1, kAll, false, status(502), "HEAD", BodyState::None, 1, true},
  };
  for (const auto& c : cases) {
    config::RetryPolicy p;
    p.attempts = c.attempts;
    p.retry_on = c.retry_on;
    p.retry_non_idempotent = c.non_idempotent;
    EXPECT_EQ(shouldRetry(p, c.outcome, c.method, c.body, c.tries), c.expected) << c.name;
  }
}

TEST(RetryTest, DefaultPolicyRetriesNothingUntilAttemptsAreSet) {
  config::RetryPolicy p;  // attempts 0
  EXPECT_FALSE(shouldRetry(p, AttemptOutcome::reset(), "GET", BodyState::None, 1));
  p.attempts = 1;
  EXPECT_TRUE(shouldRetry(p, AttemptOutcome::reset(), "GET", BodyState::None, 1));
  EXPECT_TRUE(shouldRetry(p, AttemptOutcome::connectFailure(), "GET", BodyState::None, 1));
  EXPECT_FALSE(shouldRetry(p, AttemptOutcome::timeout(), "GET", BodyState::None, 1));
}

}  // namespace
}  // namespace atrium::proxy::upstream
