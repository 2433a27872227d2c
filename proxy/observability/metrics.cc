#include "proxy/observability/metrics.h"

#include <fmt/format.h>

#include <map>

#include "proxy/cache/cache_counters.h"
#include "proxy/observability/prometheus_label.h"

namespace atrium::proxy::observability {

namespace {

constexpr std::array<std::string_view, 10> kMethods = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "other"};

uint32_t methodIndex(std::string_view method) {
  for (uint32_t i = 0; i + 1 < kMethods.size(); ++i) {
    if (kMethods[i] == method) return i;
  }
  return kMethods.size() - 1;  // bounded cardinality for unknown methods
}


std::string renderCacheCounters(const cache::CacheCounters& c) {
  std::string out;
  auto family = [&out](const char* name, const char* type, const char* help, const auto& value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name,
                       value.load(std::memory_order_relaxed));
  };
  family("atrium_cache_bytes", "gauge", "Bytes held by the response cache.", c.bytes);
  family("atrium_cache_entries", "gauge", "Responses held by the response cache.", c.entries);
  family("atrium_cache_evictions_total", "counter", "Responses evicted to make room.", c.evictions);
  family("atrium_cache_insertions_total", "counter", "Responses stored.", c.insertions);
  family("atrium_cache_purged_total", "counter", "Responses dropped by purges and policy changes.",
         c.purged);
  family("atrium_cache_collapsed_requests_total", "counter",
         "Requests that waited for another request's upstream fetch of the same key.",
         c.collapsed_followers);
  family("atrium_cache_stale_served_total", "counter",
         "Stale responses served in place of a failed upstream.", c.stale_served);
  return out;
}

}  // namespace

const char* toString(UpstreamErrorReason reason) {
  switch (reason) {
    case UpstreamErrorReason::kConnectFailure: return "connect_failure";
    case UpstreamErrorReason::kTimeout: return "timeout";
    case UpstreamErrorReason::kReset: return "reset";
    case UpstreamErrorReason::kProtocol: return "protocol_error";
    case UpstreamErrorReason::kCount: break;
  }
  return "other";
}

namespace {
thread_local size_t t_shard = 0;
}

RouteMetrics::RouteMetrics(size_t shards)
    : shard_count_(shards == 0 ? 1 : shards), shards_(new Shard[shard_count_]) {}

void RouteMetrics::setThreadShard(size_t index) { t_shard = index; }

RouteMetrics::Shard& RouteMetrics::shard() { return shards_[t_shard % shard_count_]; }

void RouteMetrics::recordRequest(std::string_view method, int status, double seconds) {
  Shard& sh = shard();
  const uint32_t key = (methodIndex(method) + 1) << 16 | static_cast<uint32_t>(status & 0xFFFF);
  size_t i = key * 2654435761u % kSlots;
  bool counted = false;
  for (size_t probe = 0; probe < kSlots; ++probe, i = (i + 1) % kSlots) {
    uint32_t current = sh.slots[i].key.load(std::memory_order_acquire);
    if (current == 0) {
      uint32_t expected = 0;
      if (sh.slots[i].key.compare_exchange_strong(expected, key, std::memory_order_acq_rel)) {
        current = key;
      } else {
        current = expected;
      }
    }
    if (current == key) {
      sh.slots[i].count.fetch_add(1, std::memory_order_relaxed);
      counted = true;
      break;
    }
  }
  if (!counted) sh.overflow.fetch_add(1, std::memory_order_relaxed);

  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  sh.buckets[b].fetch_add(1, std::memory_order_relaxed);
  sh.duration_sum_us.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  sh.duration_count.fetch_add(1, std::memory_order_relaxed);
}

void RouteMetrics::recordUpstreamError(UpstreamErrorReason reason) {
  shard().upstream[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
}

void RouteMetrics::recordAuthFailure(AuthFailureReason reason) {
  shard().auth[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
}

const char* toString(AuthFailureReason reason) {
  switch (reason) {
    case AuthFailureReason::kMissing: return "missing";
    case AuthFailureReason::kInvalid: return "invalid";
    case AuthFailureReason::kForbidden: return "forbidden";
    case AuthFailureReason::kCount: break;
  }
  return "other";
}

void Metrics::countConsumerRequest(std::string_view consumer, std::string_view route, int status) {
  ConsumerShard& shard = consumer_shards_[t_shard % shards_];
  std::string key;
  key.reserve(consumer.size() + route.size() + 6);
  key.append(consumer).push_back('\0');
  key.append(route).push_back('\0');
  key += std::to_string(status);
  std::lock_guard lock(shard.mu);
  ++shard.counts[key];
}

void RouteMetrics::recordLimitRejection(LimitRejection reason) {
  shard().limits[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
}

const char* toString(CacheResult result) {
  switch (result) {
    case CacheResult::kHit: return "hit";
    case CacheResult::kMiss: return "miss";
    case CacheResult::kStale: return "stale";
    case CacheResult::kBypass: return "bypass";
    case CacheResult::kCount: break;
  }
  return "other";
}

void RouteMetrics::recordRetry(RetryEvent event) {
  shard().retries[static_cast<size_t>(event)].fetch_add(1, std::memory_order_relaxed);
}

void RouteMetrics::recordCircuitRejection() {
  shard().circuit_rejections.fetch_add(1, std::memory_order_relaxed);
}

void RouteMetrics::recordWebSocket() {
  shard().websockets.fetch_add(1, std::memory_order_relaxed);
}

void RouteMetrics::recordCacheResult(CacheResult result) {
  shard().cache[static_cast<size_t>(result)].fetch_add(1, std::memory_order_relaxed);
}

void RouteMetrics::render(const std::string& route, RouteSeriesText& out) const {
  std::string& requests = out.requests;
  std::string& durations = out.durations;
  std::string& upstream_errors = out.upstream_errors;
  std::string& auth_failures = out.auth_failures;
  const std::string r = escapeLabel(route);
  std::map<uint32_t, uint64_t> by_key;
  uint64_t overflow = 0, sum_us = 0, count = 0;
  std::array<uint64_t, kBuckets.size() + 1> buckets{};
  std::array<uint64_t, static_cast<size_t>(UpstreamErrorReason::kCount)> upstream{};
  std::array<uint64_t, static_cast<size_t>(AuthFailureReason::kCount)> auth{};
  std::array<uint64_t, static_cast<size_t>(LimitRejection::kCount)> limits{};
  std::array<uint64_t, static_cast<size_t>(CacheResult::kCount)> cache{};
  std::array<uint64_t, static_cast<size_t>(RetryEvent::kCount)> retries{};
  uint64_t circuit_rejections = 0;
  uint64_t websockets = 0;
  for (size_t s = 0; s < shard_count_; ++s) {
    const Shard& sh = shards_[s];
    for (const auto& slot : sh.slots) {
      uint32_t key = slot.key.load(std::memory_order_acquire);
      if (key != 0) by_key[key] += slot.count.load(std::memory_order_relaxed);
    }
    overflow += sh.overflow.load(std::memory_order_relaxed);
    for (size_t b = 0; b < buckets.size(); ++b) buckets[b] += sh.buckets[b].load(std::memory_order_relaxed);
    sum_us += sh.duration_sum_us.load(std::memory_order_relaxed);
    count += sh.duration_count.load(std::memory_order_relaxed);
    for (size_t i = 0; i < upstream.size(); ++i) upstream[i] += sh.upstream[i].load(std::memory_order_relaxed);
    for (size_t i = 0; i < auth.size(); ++i) auth[i] += sh.auth[i].load(std::memory_order_relaxed);
    for (size_t i = 0; i < limits.size(); ++i) limits[i] += sh.limits[i].load(std::memory_order_relaxed);
    for (size_t i = 0; i < cache.size(); ++i) cache[i] += sh.cache[i].load(std::memory_order_relaxed);
    for (size_t i = 0; i < retries.size(); ++i) retries[i] += sh.retries[i].load(std::memory_order_relaxed);
    circuit_rejections += sh.circuit_rejections.load(std::memory_order_relaxed);
    websockets += sh.websockets.load(std::memory_order_relaxed);
  }
  if (websockets) {
    out.websockets +=
        fmt::format("atrium_websocket_connections_total{{route=\"{}\"}} {}\n", r, websockets);
  }
  static constexpr const char* kRetryEvents[] = {"retried", "budget_exhausted"};
  for (size_t i = 0; i < retries.size(); ++i) {
    if (retries[i]) {
      out.retries += fmt::format("atrium_retries_total{{route=\"{}\",result=\"{}\"}} {}\n", r,
                                 kRetryEvents[i], retries[i]);
    }
  }
  if (circuit_rejections) {
    out.circuit_rejections += fmt::format(
        "atrium_circuit_rejections_total{{route=\"{}\"}} {}\n", r, circuit_rejections);
  }
  for (size_t i = 0; i < cache.size(); ++i) {
    if (cache[i]) {
      out.cache_requests += fmt::format("atrium_cache_requests_total{{route=\"{}\",result=\"{}\"}} {}\n",
                                        r, toString(static_cast<CacheResult>(i)), cache[i]);
    }
  }
  if (auto n = limits[static_cast<size_t>(LimitRejection::kRateLimited)]) {
    out.ratelimit_rejections +=
        fmt::format("atrium_ratelimit_rejections_total{{route=\"{}\"}} {}\n", r, n);
  }
  if (auto n = limits[static_cast<size_t>(LimitRejection::kQuotaExceeded)]) {
    out.quota_rejections += fmt::format("atrium_quota_rejections_total{{route=\"{}\"}} {}\n", r, n);
  }
  for (const auto& [key, n] : by_key) {
    requests += fmt::format("atrium_requests_total{{route=\"{}\",method=\"{}\",code=\"{}\"}} {}\n", r,
                            kMethods[(key >> 16) - 1], key & 0xFFFF, n);
  }
  if (overflow) {
    requests += fmt::format("atrium_requests_total{{route=\"{}\",method=\"other\",code=\"other\"}} {}\n", r,
                            overflow);
  }
  uint64_t cumulative = 0;
  for (size_t b = 0; b < buckets.size(); ++b) {
    cumulative += buckets[b];
    std::string le = b < kBuckets.size() ? fmt::format("{}", kBuckets[b]) : "+Inf";
    durations += fmt::format("atrium_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                             r, le, cumulative);
  }
  durations += fmt::format("atrium_request_duration_seconds_sum{{route=\"{}\"}} {:.6f}\n", r, sum_us / 1e6);
  durations += fmt::format("atrium_request_duration_seconds_count{{route=\"{}\"}} {}\n", r, count);
  for (size_t i = 0; i < upstream.size(); ++i) {
    if (upstream[i]) {
      upstream_errors += fmt::format("atrium_upstream_errors_total{{route=\"{}\",reason=\"{}\"}} {}\n",
                                     r, toString(static_cast<UpstreamErrorReason>(i)), upstream[i]);
    }
  }
  for (size_t i = 0; i < auth.size(); ++i) {
    if (auth[i]) {
      auth_failures += fmt::format("atrium_auth_failures_total{{route=\"{}\",reason=\"{}\"}} {}\n",
                                   r, toString(static_cast<AuthFailureReason>(i)), auth[i]);
    }
  }
}

std::shared_ptr<RouteMetrics> Metrics::route(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto& slot = routes_[name];
  if (!slot) slot = std::make_shared<RouteMetrics>(shards_);
  return slot;
}

void Metrics::setExtraRenderer(std::function<std::string()> renderer) {
  std::lock_guard lock(mutex_);
  extra_ = std::move(renderer);
}

std::string Metrics::renderPrometheus() const {
  RouteSeriesText series;
  std::function<std::string()> extra;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, m] : routes_) m->render(name, series);
    extra = extra_;
  }
  std::map<std::string, uint64_t> consumer_counts;
  for (size_t s = 0; s < shards_; ++s) {
    std::lock_guard lock(consumer_shards_[s].mu);
    for (const auto& [key, n] : consumer_shards_[s].counts) consumer_counts[key] += n;
  }
  std::string consumers;
  for (const auto& [key, n] : consumer_counts) {
    const auto a = key.find('\0');
    const auto b = key.find('\0', a + 1);
    consumers += fmt::format(
        "atrium_consumer_requests_total{{consumer=\"{}\",route=\"{}\",code=\"{}\"}} {}\n",
        escapeLabel(key.substr(0, a)), escapeLabel(key.substr(a + 1, b - a - 1)),
        key.substr(b + 1), n);
  }
  std::string out;
  out += "# HELP atrium_requests_total Requests answered, by route, method and status code.\n";
  out += "# TYPE atrium_requests_total counter\n" + series.requests;
  out += "# HELP atrium_request_duration_seconds Time from request start to response end.\n";
  out += "# TYPE atrium_request_duration_seconds histogram\n" + series.durations;
  out += "# HELP atrium_upstream_errors_total Failed upstream attempts, by route and reason.\n";
  out += "# TYPE atrium_upstream_errors_total counter\n" + series.upstream_errors;
  out += "# HELP atrium_auth_failures_total Requests refused by authentication, by route and reason.\n";
  out += "# TYPE atrium_auth_failures_total counter\n" + series.auth_failures;
  out += "# HELP atrium_ratelimit_rejections_total Requests answered 429 by a rate limit, by route.\n";
  out += "# TYPE atrium_ratelimit_rejections_total counter\n" + series.ratelimit_rejections;
  out += "# HELP atrium_cache_requests_total Requests of routes with a cache policy, by result.\n";
  out += "# TYPE atrium_cache_requests_total counter\n" + series.cache_requests;
  if (cache_counters) out += renderCacheCounters(*cache_counters);
  out += "# HELP atrium_retries_total Tries repeated under a route's retries policy, or refused by "
         "the retry budget.\n";
  out += "# TYPE atrium_retries_total counter\n" + series.retries;
  out += "# HELP atrium_circuit_rejections_total Requests refused because a circuit breaker was "
         "open or full.\n";
  out += "# TYPE atrium_circuit_rejections_total counter\n" + series.circuit_rejections;
  if (runtime_renderer) out += runtime_renderer();
  out += "# HELP atrium_quota_rejections_total Requests answered 429 by a used-up quota, by route.\n";
  out += "# TYPE atrium_quota_rejections_total counter\n" + series.quota_rejections;
  out += "# HELP atrium_consumer_requests_total Authenticated requests by consumer, route and code.\n";
  out += "# TYPE atrium_consumer_requests_total counter\n" + consumers;
  out += "# HELP atrium_websocket_connections_total WebSocket upgrades relayed (101), by route.\n";
  out += "# TYPE atrium_websocket_connections_total counter\n" + series.websockets;
  out += "# HELP atrium_active_connections Open client connections.\n";
  out += "# TYPE atrium_active_connections gauge\n";
  out += fmt::format("atrium_active_connections {}\n", active_connections.load());
  out += "# HELP atrium_websocket_connections_active Upgraded connections relaying WebSocket frames.\n";
  out += "# TYPE atrium_websocket_connections_active gauge\n";
  out += fmt::format("atrium_websocket_connections_active {}\n",
                     websocket_connections_active.load());
  out += "# HELP atrium_config_generation Generation of the configuration being served.\n";
  out += "# TYPE atrium_config_generation gauge\n";
  out += fmt::format("atrium_config_generation {}\n", config_generation.load());
  out += "# HELP atrium_config_reloads_total Configuration rebuilds, by result.\n";
  out += "# TYPE atrium_config_reloads_total counter\n";
  out += fmt::format("atrium_config_reloads_total{{result=\"success\"}} {}\n", reloads_success.load());
  out += fmt::format("atrium_config_reloads_total{{result=\"failure\"}} {}\n", reloads_failure.load());
  out += "# HELP atrium_tls_handshakes_total TLS handshakes on the HTTPS listener, by result.\n";
  out += "# TYPE atrium_tls_handshakes_total counter\n";
  out += fmt::format("atrium_tls_handshakes_total{{result=\"ok\"}} {}\n", tls_handshakes_ok.load());
  out += fmt::format("atrium_tls_handshakes_total{{result=\"error\"}} {}\n",
                     tls_handshakes_failed.load());
  out += "# HELP atrium_tls_invalid_secrets Secrets referenced for TLS that cannot be used now.\n";
  out += "# TYPE atrium_tls_invalid_secrets gauge\n";
  out += fmt::format("atrium_tls_invalid_secrets {}\n", tls_invalid_secrets.load());
  out += limits.render();
  if (extra) out += extra();
  return out;
}

}  // namespace atrium::proxy::observability
