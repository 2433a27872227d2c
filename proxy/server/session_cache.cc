// The response-cache side of a session (SPEC §5.4): serveCached() decides between HIT, MISS,
// STALE and BYPASS for routes with policy.cache; sendCached() writes a stored response.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>

#include "proxy/cache/cache_control.h"
#include "proxy/cache/cache_key.h"
#include "proxy/cache/conditional_request.h"
#include "proxy/cache/freshness.h"
#include "proxy/cache/request_collapser.h"
#include "proxy/cache/response_cache.h"
#include "proxy/cache/storability.h"
#include "proxy/http/header_rules.h"
#include "proxy/http/wire_format.h"
#include "proxy/server/session.h"
#include "proxy/server/session_exchange.h"
#include "proxy/server/worker.h"

namespace atrium::proxy::server {

namespace {

// Every line of a header, as views into the message.
template <class Fields>
std::vector<std::string_view> lines(const Fields& fields, std::string_view name) {
  std::vector<std::string_view> out;
  auto [first, last] = fields.equal_range(name);
  for (auto it = first; it != last; ++it) out.emplace_back(it->value().data(), it->value().size());
  return out;
}

std::vector<std::string_view> capturedLines(const ResponseCapture& c, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& [n, v] : c.headers) {
    if (beast::iequals(n, name)) out.emplace_back(v);
  }
  return out;
}

std::optional<std::string_view> capturedValue(const ResponseCapture& c, std::string_view name) {
  for (const auto& [n, v] : c.headers) {
    if (beast::iequals(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

bool listed(const std::vector<std::string>& methods, std::string_view method) {
  return std::find(methods.begin(), methods.end(), method) != methods.end();
}

// The cache entry for a response that was relayed and copied, or null when it may not be
// stored (RFC 9111 §3 as storability.h applies it).
std::shared_ptr<cache::CachedResponse> entryFor(const ResponseCapture& c,
                                                const config::CachePolicy& policy,
                                                const cache::RequestDirectives& request,
                                                std::string_view method, bool has_authorization,
                                                bool keyed_per_consumer,
                                                const std::string& scope, std::string_view path) {
  const auto response = cache::parseResponseDirectives(capturedLines(c, "Cache-Control"));
  cache::Exchange exchange;
  exchange.status = c.status;
  exchange.request_method = method;
  exchange.request_has_authorization = has_authorization;
  exchange.key_includes_consumer = keyed_per_consumer;
  exchange.response_has_set_cookie = capturedValue(c, "Set-Cookie").has_value();
  exchange.response_has_expires = capturedValue(c, "Expires").has_value();
  if (!cache::storable(exchange, request, response, policy)) return nullptr;
  auto vary = cache::parseVaryHeader(capturedLines(c, "Vary"));
  if (!vary) return nullptr;  // Vary: *
  auto entry = std::make_shared<cache::CachedResponse>();
  entry->status = c.status;
  entry->reason = c.reason;
  entry->headers = c.headers;
  entry->body = c.body;
  entry->stored_at = std::chrono::steady_clock::now();
  entry->stored_at_system = std::chrono::system_clock::now();
  entry->initial_age_ms = cache::initialAgeMs(capturedValue(c, "Age"));
  const int64_t lifetime = cache::freshnessLifetimeMs(response, capturedValue(c, "Expires"),
                                                      capturedValue(c, "Date"),
                                                      entry->stored_at_system, policy);
  const auto times = cache::entryTimes(entry->stored_at, lifetime, entry->initial_age_ms,
                                       cache::staleIfErrorMs(response, policy));
  entry->fresh_until = times.fresh_until;
  entry->stale_if_error_until = times.stale_if_error_until;
  entry->must_revalidate = cache::mustRevalidate(response, policy);
  entry->vary = std::move(*vary);
  entry->etag = std::string(capturedValue(c, "ETag").value_or(""));
  entry->last_modified = std::string(capturedValue(c, "Last-Modified").value_or(""));
  entry->route_scope = scope;
  entry->path = std::string(path);
  return entry;
}

}  // namespace

Task<bool> Session::serveCached(Exchange& x, const RouteRuntime& route,
                                std::optional<UpstreamFailure>& failure) {
  const config::Route& spec = *route.route;
  const config::CachePolicy& policy = *spec.cache;
  auto& req = parser_->get();
  cache::ResponseCache& store = worker_.cache();
  const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;
  // HEAD is answered from GET's entry; other methods only when the route lists them.
  const bool cacheable_method =
      !has_body && (listed(policy.methods, x.method) || (x.head && listed(policy.methods, "GET")));
  cache::RequestDirectives request;
  if (policy.respect_cache_control) {
    request = cache::parseRequestDirectives(lines(req, "Cache-Control"), lines(req, "Pragma"));
  }
  // Range requests go around the cache: the key does not hold the range, and a stored full
  // response would answer a request that asked for part of it.
  const bool range = req.find(bhttp::field::range) != req.end();
  if (!cacheable_method || request.no_store || range) {
    x.cache_result = "BYPASS";
    route.metrics->recordCacheResult(observability::CacheResult::kBypass);
    co_return co_await fetchUpstream(x, route, failure, nullptr);
  }

  const cache::HeaderLookup headers = [&req](std::string_view name) -> std::optional<std::string> {
    auto [first, last] = req.equal_range(name);
    if (first == last) return std::nullopt;
    std::string joined;
    for (auto it = first; it != last; ++it) {
      if (!joined.empty()) joined += ", ";
      joined.append(it->value().data(), it->value().size());
    }
    return joined;
  };
  // Responses to authenticated requests are kept per consumer unless the route shares them.
  std::string consumer;
  if (x.consumer && !policy.share_across_consumers) {
    consumer = x.consumer->ns + "/" + x.consumer->name;
  }
  const std::string key = cache::buildCacheKey(policy, spec.name, x.head ? "GET" : x.method,
                                               x.host, target_.path, target_.query, headers,
                                               consumer);
  auto found = store.lookup(key, headers, std::chrono::steady_clock::now(), request);
  if (found.freshness == cache::Freshness::Fresh) {
    route.metrics->recordCacheResult(observability::CacheResult::kHit);
    co_return co_await sendCached(x, route, *found.entry, "HIT");
  }
  if (request.only_if_cached) {
    // RFC 9111 §5.2.1.7: nothing stored that may answer, and the client forbids going upstream.
    x.cache_result = "MISS";
    route.metrics->recordCacheResult(observability::CacheResult::kMiss);
    co_return co_await sendError(x, 504, "upstream_timeout",
                                 "only-if-cached, and no stored response may answer", true);
  }

  // Concurrent misses for one key: the first goes upstream, the others wait for its response.
  struct Wait {
    explicit Wait(const Executor& ex) : event(ex, std::chrono::steady_clock::time_point::max()) {}
    net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>,
                              Executor>
        event;
    std::optional<cache::CollapseOutcome> outcome;
  };
  auto wait = std::make_shared<Wait>(stream_.get_executor());
  auto& collapser = worker_.collapser();
  const auto ticket = collapser.join(
      key,
      [wait, ex = stream_.get_executor()](cache::CollapseOutcome outcome) {
        net::post(ex, [wait, outcome] {
          wait->outcome = outcome;
          wait->event.cancel();
        });
      },
      std::chrono::steady_clock::now());
  cache::LeaderGuard leadership;
  if (ticket.role == cache::CollapseRole::Follower) {
    // Bounded by the route's request timeout: a slow leader never holds a follower longer than
    // its own upstream request would take.
    wait->event.expires_after(milliseconds(spec.timeouts.request_ms));
    co_await wait->event.async_wait(kNoThrow);
    if (!wait->outcome) collapser.abandon(key, ticket.id);
    if (wait->outcome == cache::CollapseOutcome::Stored) {
      found = store.lookup(key, headers, std::chrono::steady_clock::now(), request);
      if (found.freshness == cache::Freshness::Fresh) {
        route.metrics->recordCacheResult(observability::CacheResult::kHit);
        co_return co_await sendCached(x, route, *found.entry, "HIT");
      }
    }
  } else if (ticket.role == cache::CollapseRole::Leader) {
    leadership = cache::LeaderGuard(collapser, key, ticket.id);
  }

  x.cache_result = "MISS";
  ResponseCapture capture;
  capture.max_body = policy.max_object_bytes;
  capture.stale_available =
      found.entry && found.entry->usableOnErrorAt(std::chrono::steady_clock::now());
  const bool kept = co_await fetchUpstream(x, route, failure, &capture);
  if (failure) {
    // stale-if-error: an entry past its freshness may stand in for a failed upstream.
    if (found.entry && found.entry->usableOnErrorAt(std::chrono::steady_clock::now())) {
      failure.reset();
      store.noteStaleServed();
      route.metrics->recordCacheResult(observability::CacheResult::kStale);
      co_return co_await sendCached(x, route, *found.entry, "STALE");
    }
    route.metrics->recordCacheResult(observability::CacheResult::kMiss);
    co_return kept;
  }
  route.metrics->recordCacheResult(observability::CacheResult::kMiss);
  if (capture.complete) {
    // forward() removed what did not go upstream (stripCredentials): what is left did. A route
    // that shares entries across consumers has said they are not personal.
    auto entry = entryFor(capture, policy, request, x.method,
                          req.find(bhttp::field::authorization) != req.end(),
                          !consumer.empty() || policy.share_across_consumers, spec.name,
                          target_.path);
    if (entry && store.insert(key, std::move(entry), headers, policy.max_object_bytes) ==
                     cache::ResponseCache::InsertOutcome::Stored &&
        leadership.active()) {
      leadership.complete(cache::CollapseOutcome::Stored);
    }
  }
  co_return kept;
}

Task<bool> Session::sendCached(Exchange& x, const RouteRuntime& route,
                               const cache::CachedResponse& entry, std::string_view result) {
  const config::Route& spec = *route.route;
  auto& req = parser_->get();
  const auto now = std::chrono::steady_clock::now();
  x.cache_result = result;
  x.upstream = "cache";
  // The request is complete only if it had no body to skip.
  bool keep = req.keep_alive() && !worker_.draining() && parser_->is_done();
  std::optional<std::string> if_none_match;
  if (auto v = lines(req, "If-None-Match"); !v.empty()) {
    if_none_match.emplace();
    for (auto line : v) {
      if (!if_none_match->empty()) *if_none_match += ", ";
      *if_none_match += line;
    }
  }
  std::optional<std::string_view> if_modified_since;
  if (auto it = req.find(bhttp::field::if_modified_since); it != req.end()) {
    if_modified_since = std::string_view(it->value().data(), it->value().size());
  }
  const bool not_modified =
      entry.status == 200 &&
      cache::notModified(if_none_match, if_modified_since, entry.etag, entry.last_modified);

  http::PmrFields fields(Alloc(&scratch_->arena));
  for (const auto& [name, value] : entry.headers) fields.insert(name, value);
  http::prepareDownstreamResponse(fields, x.request_id);
  decorateResponse(x, spec, fields);  // x.cache_result is `result`
  fields.set(bhttp::field::age, std::to_string(cache::ageSeconds(entry, now)));
  const int status = not_modified ? 304 : entry.status;
  const bool bodyless = not_modified || status == 204 || status / 100 == 1;
  if (!bodyless) fields.set(bhttp::field::content_length, std::to_string(entry.body.size()));
  if (!keep) {
    fields.set(bhttp::field::connection, "close");
  } else if (x.client_version < 11) {
    fields.set(bhttp::field::connection, "keep-alive");
  }
  x.status = status;
  const bool with_body = !bodyless && !x.head;
  x.bytes_out = with_body ? entry.body.size() : 0;
  head_.clear();
  http::appendResponseHead(head_, static_cast<unsigned>(status),
                           not_modified || entry.reason.empty()
                               ? std::string_view(bhttp::obsolete_reason(static_cast<bhttp::status>(status)))
                               : std::string_view(entry.reason),
                           fields);
  meter(x);
  setDeadline(std::chrono::duration_cast<milliseconds>(worker_.options().idle_timeout));
  auto ec = co_await writeFramed(stream_, head_, with_body ? entry.body.data() : nullptr,
                                 with_body ? entry.body.size() : 0, false, false);
  clearDeadline();
  if (!keep) linger_ = !parser_->is_done();
  co_return !ec && keep;
}

}  // namespace atrium::proxy::server
