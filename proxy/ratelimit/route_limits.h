#pragma once
// A route's policy.rateLimit and a consumer's plan in the form a request is checked against:
// bucket-key prefixes and bucket parameters computed once per snapshot, and the per-request
// bucket keys built from them.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/ratelimit/token_bucket.h"
#include "src/config/snapshot.h"

namespace atrium::proxy::router {
class HeaderSource;
}

namespace atrium::proxy::ratelimit {

struct CompiledLimit {
  // "atrium:rl:<scope>|<index>|<requests>/<period ms>/<burst>|": a changed limit starts with
  // fresh buckets instead of inheriting state computed with other parameters.
  std::string prefix;
  config::RateLimitKey key = config::RateLimitKey::Consumer;
  std::string header;  // lower-case
  config::RateLimit spec;
  BucketParams params;
};

struct CompiledRateLimit {
  std::vector<CompiledLimit> limits;
  bool global = false;
};

std::shared_ptr<const CompiledRateLimit> compileRateLimit(const config::RateLimitPolicy& policy);

// The same limit enforced by each of `replicas` replicas on its own while Redis is unreachable:
// a 1/replicas share of the rate and of the burst (at least one token).
BucketParams degradedParams(const config::RateLimit& limit, unsigned replicas);

// The bucket key of `limit` for one request: the prefix plus what the limit counts by — the
// consumer ("c:ns/name"), the client IP ("ip:..."), nothing (Route), or a header value
// ("h:..."; hashed when long, so a client cannot make keys of any size). A Consumer limit on an
// anonymous request and a Header limit on a request without the header count by client IP.
void appendBucketKey(std::string& out, const CompiledLimit& limit,
                     const config::Consumer* consumer, std::string_view client_ip,
                     const router::HeaderSource* headers);

// "atrium:plan:ns/name|<requests>/<period>/<burst>" and "atrium:quota:ns/name:<period id>".
std::string planBucketKey(const config::Consumer& consumer);
std::string quotaKey(const config::Consumer& consumer, std::string_view period_id);
std::string qualifiedName(const config::Consumer& consumer);

}  // namespace atrium::proxy::ratelimit
