#include "controller/translator/resilience_reader.h"

#include <algorithm>
#include <cctype>

#include "controller/translator/unit_reader.h"
#include "controller/translator/validation.h"

namespace atrium::controller::translator {

namespace {

constexpr size_t kMaxHashName = 256;  // the CRD's 263 characters of "Header:<name>"

// parent[key] as an integer in [min, max], else an error naming the bounds.
std::optional<uint32_t> readBounded(FieldReader& r, const nlohmann::json& parent,
                                    const std::string& path, const char* key, int64_t min,
                                    int64_t max) {
  auto v = r.integer(parent, path, key);
  if (!v) return std::nullopt;
  if (*v < min || *v > max) {
    r.error(FieldReader::join(path, key),
            "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return static_cast<uint32_t>(*v);
}

std::optional<config::RetryOn> parseRetryOn(const nlohmann::json& v) {
  if (!v.is_string()) return std::nullopt;
  const auto& s = v.get_ref<const std::string&>();
  if (s == "connect-failure") return config::RetryOn::ConnectFailure;
  if (s == "reset") return config::RetryOn::Reset;
  if (s == "502") return config::RetryOn::Status502;
  if (s == "503") return config::RetryOn::Status503;
  if (s == "504") return config::RetryOn::Status504;
  return std::nullopt;
}

// retryOn: a set, stored in the enum's order so that equal sets make equal snapshots. An empty
// list is allowed (the CRD allows it): nothing is retried.
void readRetryOn(FieldReader& r, const nlohmann::json& retries, const std::string& path,
                 config::RetryPolicy& out) {
  const auto* list = r.array(retries, path, "retryOn");
  if (!list) return;
  const std::string lpath = FieldReader::join(path, "retryOn");
  std::vector<config::RetryOn> on;
  for (size_t i = 0; i < list->size(); ++i) {
    const auto& v = (*list)[i];
    auto value = parseRetryOn(v);
    if (!value) {
      // YAML reads an unquoted 503 as a number, which the CRD (a list of strings) refuses too.
      r.error(FieldReader::index(lpath, i),
              v.is_number() ? "must be a string: quote status codes (\"503\")"
                            : "must be connect-failure, reset, \"502\", \"503\" or \"504\"");
      continue;
    }
    on.push_back(*value);
  }
  std::sort(on.begin(), on.end());
  on.erase(std::unique(on.begin(), on.end()), on.end());
  out.retry_on = std::move(on);
}

}  // namespace

std::optional<config::RetryPolicy> readRetryPolicy(FieldReader& r, const nlohmann::json& retries,
                                                   const std::string& path,
                                                   config::RetryPolicy base) {
  const size_t errors_before = r.errorCount();
  r.unknownFields(retries, path,
                  {"attempts", "retryOn", "perTryTimeout", "backoff", "retryNonIdempotent"});
  config::RetryPolicy out = std::move(base);
  if (auto v = readBounded(r, retries, path, "attempts", 0, kMaxRetryAttempts)) out.attempts = *v;
  readRetryOn(r, retries, path, out);
  if (auto v = readDurationMs(r, retries, path, "perTryTimeout")) out.per_try_timeout_ms = *v;
  // backoff 0 is allowed: retries then follow each other at once.
  if (auto v = readDurationMs(r, retries, path, "backoff", ZeroDuration::Allowed)) {
    out.backoff_ms = *v;
  }
  // Off by default: a retried POST or PATCH may have taken effect upstream the first time.
  if (auto v = r.boolean(retries, path, "retryNonIdempotent")) out.retry_non_idempotent = *v;
  if (r.errorCount() != errors_before) return std::nullopt;
  return out;
}

std::optional<config::CircuitBreaker> readCircuitBreaker(FieldReader& r,
                                                         const nlohmann::json& breaker,
                                                         const std::string& path,
                                                         config::CircuitBreaker base) {
  const size_t errors_before = r.errorCount();
  r.unknownFields(breaker, path,
                  {"consecutiveFailures", "openFor", "maxConnections", "maxPendingRequests"});
  config::CircuitBreaker out = std::move(base);
  if (auto v = readBounded(r, breaker, path, "consecutiveFailures", 1, kMaxConsecutiveFailures)) {
    out.consecutive_failures = *v;
  }
  if (auto v = readDurationMs(r, breaker, path, "openFor")) out.open_for_ms = *v;
  if (auto v = readBounded(r, breaker, path, "maxConnections", 1, kMaxCircuitLimit)) {
    out.max_connections = *v;
  }
  if (auto v = readBounded(r, breaker, path, "maxPendingRequests", 0, kMaxCircuitLimit)) {
    out.max_pending_requests = *v;
  }
  if (r.errorCount() != errors_before) return std::nullopt;
  return out;
}

std::optional<config::HealthCheck> readHealthCheck(FieldReader& r, const nlohmann::json& check,
                                                   const std::string& path,
                                                   config::HealthCheck base) {
  const size_t errors_before = r.errorCount();
  r.unknownFields(check, path,
                  {"path", "interval", "timeout", "unhealthyThreshold", "healthyThreshold"});
  config::HealthCheck out = std::move(base);
  if (auto p = r.string(check, path, "path")) {
    // Requested as written: it must be a path the endpoints can be asked for as it is.
    if (auto err = normalizeMatchPath(*p); !err.empty()) {
      r.error(FieldReader::join(path, "path"), err);
    } else {
      out.path = *p;
    }
  }
  if (auto v = readDurationMs(r, check, path, "interval")) out.interval_ms = *v;
  if (auto v = readDurationMs(r, check, path, "timeout")) out.timeout_ms = *v;
  if (auto v = readBounded(r, check, path, "unhealthyThreshold", 1, kMaxHealthThreshold)) {
    out.unhealthy_threshold = *v;
  }
  if (auto v = readBounded(r, check, path, "healthyThreshold", 1, kMaxHealthThreshold)) {
    out.healthy_threshold = *v;
  }
  if (r.errorCount() != errors_before) return std::nullopt;
  if (out.timeout_ms >= out.interval_ms) {
    const bool wrote_timeout = !isAbsent(check, "timeout");
    r.error(FieldReader::join(path, wrote_timeout ? "timeout" : "interval"),
            "timeout (" + std::to_string(out.timeout_ms) + "ms) must be shorter than interval (" +
                std::to_string(out.interval_ms) + "ms)");
    return std::nullopt;
  }
  return out;
}

std::optional<config::LoadBalancer> parseLoadBalancer(FieldReader& r, const std::string& text,
                                                      const std::string& path) {
  if (text == "RoundRobin") return config::LoadBalancer::RoundRobin;
  if (text == "LeastRequest") return config::LoadBalancer::LeastRequest;
  if (text == "ConsistentHash") return config::LoadBalancer::ConsistentHash;
  r.error(path, "must be RoundRobin, LeastRequest or ConsistentHash");
  return std::nullopt;
}

std::optional<HashKey> parseHashOn(FieldReader& r, const std::string& text,
                                   const std::string& path) {
  HashKey key;
  std::string name;
  if (text == "ClientIP") return key;
  if (text.rfind("Header:", 0) == 0) {
    key.on = config::HashOn::Header;
    name = text.substr(7);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  } else if (text.rfind("Cookie:", 0) == 0) {
    key.on = config::HashOn::Cookie;
    name = text.substr(7);
  }
  if (key.on == config::HashOn::ClientIP || !isHeaderName(name) || name.size() > kMaxHashName) {
    r.error(path, "must be ClientIP, Header:<name> or Cookie:<name> with a token name");
    return std::nullopt;
  }
  key.name = std::move(name);
  return key;
}

}  // namespace atrium::controller::translator
