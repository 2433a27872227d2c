#include "proxy/upstream/retry.h"

#include <algorithm>

namespace atrium::proxy::upstream {

bool isIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

bool retryOnMatches(const config::RetryPolicy& policy, const AttemptOutcome& outcome) {
  auto listed = [&](config::RetryOn kind) {
    return std::find(policy.retry_on.begin(), policy.retry_on.end(), kind) != policy.retry_on.end();
  };
  using Kind = AttemptOutcome::Kind;
  switch (outcome.kind) {
    case Kind::ConnectFailure:
      return listed(config::RetryOn::ConnectFailure);
    case Kind::Reset:
      return listed(config::RetryOn::Reset);
    case Kind::Timeout:
      return listed(config::RetryOn::Status504);
    case Kind::Response:
      switch (outcome.status) {
        case 502:
          return listed(config::RetryOn::Status502);
        case 503:
          return listed(config::RetryOn::Status503);
        case 504:
          return listed(config::RetryOn::Status504);
        default:
          return false;
      }
  }
  return false;
}

bool shouldRetry(const config::RetryPolicy& policy, const AttemptOutcome& outcome,
                 std::string_view method, BodyState body, uint32_t tries) {
  if (std::max<uint32_t>(tries, 1) > policy.attempts) return false;
  if (body == BodyState::Streamed) return false;
  if (!retryOnMatches(policy, outcome)) return false;
  if (outcome.kind == AttemptOutcome::Kind::ConnectFailure) return true;
  return isIdempotent(method) || policy.retry_non_idempotent;
}

}  // namespace atrium::proxy::upstream
