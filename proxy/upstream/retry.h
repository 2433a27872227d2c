#pragma once
// Whether a failed try may be tried again (SPEC §3.2 policy.retries): a pure function of the
// route's RetryPolicy, how the try ended, the method and what became of the request body. The
// caller then asks the RetryBudget (retry_budget.h), waits backoffDelay() (backoff.h) and picks an
// endpoint again (preferably another one).
//
// Rules, in order:
// 1. Tries exhausted: `tries` (tries made, the failed one included) > policy.attempts → no.
// 2. The body: Streamed (bytes read from the client were forwarded and not kept) → never; it
//    cannot be sent again. None (no body, or none of it read yet) and Buffered (kept whole) can.
// 3. The outcome must be listed in retry_on:
//    - ConnectFailure → connect-failure; Reset → reset; a 502/503/504 response → that status.
//    - Timeout (the per-try timeout fired before a response head) → only `504`. The gateway itself
//      answers an upstream timeout with 504, so "retry on 504" reads as "retry when the upstream
//      is too slow" for both. It is deliberately not under `reset`: the default retry_on is
//      [connect-failure, reset], and retrying slow upstreams by default would multiply the load
//      exactly when an upstream is overloaded. The overall request timeout is the caller's: once
//      it has passed, there is no retry whatever this says.
//    - Any other response (a 500 included) → no.
// 4. The method: idempotent ones (GET HEAD OPTIONS TRACE PUT DELETE) may be retried. Others
//    (POST, PATCH, …) only with retry_non_idempotent — except after a ConnectFailure, which is
//    always safe for any method: the connection never existed, so the upstream never saw the
//    request.
#include <cstdint>
#include <string_view>

#include "proxy/upstream/endpoint_health.h"
#include "src/config/snapshot.h"

namespace atrium::proxy::upstream {

enum class BodyState : uint8_t {
  None,      // no request body, or nothing of it read from the client yet
  Buffered,  // read and kept whole: can be sent again
  Streamed,  // partly or wholly forwarded and not kept
};

// RFC 9110 §9.2.2. Methods are case-sensitive: "get" is not GET.
bool isIdempotent(std::string_view method);

bool retryOnMatches(const config::RetryPolicy& policy, const AttemptOutcome& outcome);

bool shouldRetry(const config::RetryPolicy& policy, const AttemptOutcome& outcome,
                 std::string_view method, BodyState body, uint32_t tries);

}  // namespace atrium::proxy::upstream
