#pragma once
// Token-bucket rate limits as manifests write them: an APIRoute's policy.rateLimit (SPEC §3.2)
// and an APIConsumer's plan.rateLimit (SPEC §3.3) share the bucket fields {requests, period,
// burst}. Every problem is an error at its exact field path, and nothing is returned for it:
// the callers then leave the route or consumer out, because serving it without the limit it
// asks for would expose the service (or sell unlimited access).
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "controller/translator/field_reader.h"
#include "src/config/snapshot.h"

namespace atrium::controller::translator {

// The CRDs' bounds, so an object means the same in a cluster and in manifests mode.
inline constexpr int64_t kMaxRateLimitCount = 1'000'000'000;  // requests and burst
inline constexpr size_t kMaxRateLimits = 8;                   // limits per policy

// One bucket, the object at `path`. With `with_key`, its `key` is read too (Consumer when
// absent); without, the key is Consumer and a `key` field is reported as unknown.
std::optional<config::RateLimit> readRateLimit(FieldReader& r, const nlohmann::json& limit,
                                               const std::string& path, bool with_key);

// policy.rateLimit, the object at `path`: {limits: [..1-8], scope: Local|Global (Local)}.
// `scope` names the buckets (config::RateLimitPolicy::scope): routes given the same name share
// them.
std::optional<config::RateLimitPolicy> readRateLimitPolicy(FieldReader& r,
                                                           const nlohmann::json& rate_limit,
                                                           const std::string& path,
                                                           std::string scope);

}  // namespace atrium::controller::translator
