#include "proxy/ratelimit/route_limits.h"

#include <fmt/format.h>
#include <openssl/sha.h>

#include "proxy/router/route_table.h"

namespace atrium::proxy::ratelimit {

namespace {

std::string parameters(const config::RateLimit& l) {
  return fmt::format("{}/{}/{}", l.requests, l.period_ms, l.burst);
}

// Header values are client input: long ones become their digest.
constexpr size_t kMaxRawKeyValue = 96;

void appendHashed(std::string& out, std::string_view value) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(value.data()), value.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  out += "sha256:";
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
}

}  // namespace

std::shared_ptr<const CompiledRateLimit> compileRateLimit(const config::RateLimitPolicy& policy) {
  auto out = std::make_shared<CompiledRateLimit>();
  out->global = policy.global;
  for (size_t i = 0; i < policy.limits.size(); ++i) {
    const auto& l = policy.limits[i];
    CompiledLimit c;
    c.prefix = fmt::format("atrium:rl:{}|{}|{}|", policy.scope, i, parameters(l));
    c.key = l.key;
    c.header = l.header;
    c.spec = l;
    c.params = bucketParams(l.requests, l.period_ms, l.burst);
    out->limits.push_back(std::move(c));
  }
  return out;
}

BucketParams degradedParams(const config::RateLimit& limit, unsigned replicas) {
  const uint64_t n = std::max(1u, replicas);
  const uint64_t requests = std::max<uint64_t>(1, limit.requests / n);
  // The share keeps the period: requests/n per period is the rate/n.
  BucketParams p = bucketParams(requests, limit.period_ms, limit.burst / n);
  return p;
}

void appendBucketKey(std::string& out, const CompiledLimit& limit,
                     const config::Consumer* consumer, std::string_view client_ip,
                     const router::HeaderSource* headers) {
  out += limit.prefix;
  switch (limit.key) {
    case config::RateLimitKey::Route:
      return;
    case config::RateLimitKey::Consumer:
      if (consumer) {
        out += "c:";
        out += consumer->ns;
        out.push_back('/');
        out += consumer->name;
        return;
      }
      break;
    case config::RateLimitKey::Header:
      if (headers) {
        if (auto v = headers->find(limit.header)) {
          out += "h:";
          if (v->size() > kMaxRawKeyValue) {
            appendHashed(out, *v);
          } else {
            out += *v;
          }
          return;
        }
      }
      break;
    case config::RateLimitKey::ClientIP:
      break;
  }
  out += "ip:";
  out += client_ip;
}

std::string qualifiedName(const config::Consumer& consumer) {
  return consumer.ns + "/" + consumer.name;
}

std::string planBucketKey(const config::Consumer& consumer) {
  return fmt::format("atrium:plan:{}/{}|{}", consumer.ns, consumer.name,
                     parameters(*consumer.plan.rate_limit));
}

std::string quotaKey(const config::Consumer& consumer, std::string_view period_id) {
  return fmt::format("atrium:quota:{}/{}:{}", consumer.ns, consumer.name, period_id);
}

}  // namespace atrium::proxy::ratelimit
