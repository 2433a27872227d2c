// Aggregate routes (SPEC §5.5): the calls of a bundle run concurrently as coroutines on the
// session's worker, over the worker's upstream connection pool (no thread per call), and the
// client gets one JSON object with every call's answer.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "proxy/aggregate/bundle_body.h"
#include "proxy/aggregate/call_target.h"
#include "proxy/http/header_rules.h"
#include "proxy/http/wire_format.h"
#include "proxy/server/session.h"
#include "proxy/server/session_exchange.h"
#include "proxy/server/upstream_connector.h"
#include "proxy/server/worker.h"
#include "proxy/upstream/cluster.h"
#include "proxy/upstream/connection_pool.h"

namespace atrium::proxy::server {

using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kMaxCallHeaderBytes = 64 * 1024;

// The state the bundle's calls share with the request that waits for them. Calls that are
// still running when the bundle's timeout passes finish on their own (their sockets cancelled)
// and only then release it.
struct Bundle {
  Bundle(const Executor& ex, size_t calls)
      : done(ex, Clock::time_point::max()), outcomes(calls), finished(calls, false),
        active(calls, nullptr) {}
  net::basic_waitable_timer<Clock, net::wait_traits<Clock>, Executor> done;  // cancelled when the last call ends
  std::shared_ptr<const ProxyConfig> config;  // keeps the clusters alive
  size_t pending = 0;
  bool over = false;  // the client was answered: late calls only clean up
  std::vector<aggregate::CallOutcome> outcomes;
  std::vector<bool> finished;
  std::vector<Socket*> active;  // per call: the socket of a pending operation, to cancel
};

aggregate::CallOutcome gatewayError(int status, std::string code, std::string message) {
  aggregate::CallOutcome o;
  o.status = status;
  o.code = std::move(code);
  o.message = std::move(message);
  return o;
}

bool isStale(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::connection_reset ||
         ec == net::error::eof || ec == net::error::broken_pipe;
}

// One call: a pooled connection (or a new one if the pooled one turns out closed), the request
// head, and the whole response, its body bounded by `max_body`.
Task<void> runCall(std::shared_ptr<Bundle> bundle, size_t i, Executor ex, Worker& worker,
                   const upstream::Cluster& cluster, const upstream::EndpointTarget& endpoint,
                   std::string head, bool head_request, uint64_t max_body,
                   std::shared_ptr<observability::RouteMetrics> metrics) {
  aggregate::CallOutcome outcome;
  std::unique_ptr<upstream::UpstreamConnection> conn;
  for (int attempt = 0; attempt < 2 && !bundle->over; ++attempt) {
    boost::system::error_code ec;
    conn = worker.pool().take(endpoint.pool_key);
    const bool reused = conn != nullptr;
    if (!conn) {
      conn = co_await openUpstreamConnection(ex, cluster, endpoint,
                                             worker.selfPorts(), bundle->active[i], ec);
      if (!conn) {
        metrics->recordUpstreamError(observability::UpstreamErrorReason::kConnectFailure);
        outcome = gatewayError(502, "bad_gateway", "could not connect to the call's upstream");
        break;
      }
      // A DNS lookup cannot be cancelled: the bundle may have been answered meanwhile.
      if (bundle->over) break;
    }
    bundle->active[i] = &conn->stream.socket();
    auto [wec, written] = co_await net::async_write(conn->stream, net::buffer(head), kNoThrow);
    ec = wec;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(kMaxCallHeaderBytes);
    parser.body_limit(max_body);
    if (head_request) parser.skip(true);
    if (!ec) std::tie(ec, std::ignore) = co_await bhttp::async_read(conn->stream, conn->buffer, parser, kNoThrow);
    bundle->active[i] = nullptr;
    if (!ec) {
      auto& res = parser.get();
      outcome.answered = true;
      outcome.status = res.result_int();
      if (auto ct = res.find(bhttp::field::content_type); ct != res.end()) {
        outcome.content_type = std::string(ct->value());
      }
      outcome.body = std::move(res.body());
      if (res.keep_alive() && !bundle->over) worker.pool().give(std::move(conn));
      break;
    }
    conn.reset();
    if (reused && !bundle->over && isStale(ec) && attempt == 0) continue;  // closed while pooled
    if (ec == bhttp::error::body_limit) {
      outcome = gatewayError(502, "bad_gateway",
                             "the call's response is larger than " + std::to_string(max_body) + " bytes");
    } else if (bundle->over) {
      metrics->recordUpstreamError(observability::UpstreamErrorReason::kTimeout);
      outcome = gatewayError(504, "upstream_timeout", "the call did not answer within the bundle's timeout");
    } else {
      metrics->recordUpstreamError(observability::UpstreamErrorReason::kReset);
      outcome = gatewayError(502, "bad_gateway", "invalid or cut response from the call's upstream");
    }
    break;
  }
  if (bundle->over) co_return;  // answered without this call; its timeout entry stands
  bundle->outcomes[i] = std::move(outcome);
  bundle->finished[i] = true;
  if (--bundle->pending == 0) bundle->done.cancel();
}

// "host[:port]" of an endpoint named by DNS (URL and ExternalName backends), which expect their
// own name; a Service's endpoints get the client's Host, as forwarded requests do.
std::string callHost(const upstream::EndpointTarget& endpoint, const upstream::Cluster& cluster,
                     std::string_view client_host) {
  if (endpoint.is_ip) return std::string(client_host);
  const uint16_t default_port = cluster.tls() ? 443 : 80;
  if (endpoint.port == default_port) return endpoint.host;
  return endpoint.host + ":" + std::to_string(endpoint.port);
}

}  // namespace

Task<bool> Session::serveAggregate(Exchange& x, const RouteRuntime& route,
                                   std::optional<UpstreamFailure>& failure,
                                   ResponseCapture* capture) {
  const config::Route& spec = *route.route;
  const config::Aggregate& agg = *spec.aggregate;
  auto& req = parser_->get();
  const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;
  // The calls carry no body: a request body is not read, so the connection cannot stay open.
  const bool keep = req.keep_alive() && !worker_.draining() && !has_body;
  const size_t n = agg.calls.size();

  // Placeholders take the request's values as the client sent them.
  aggregate::RequestValues values;
  values.path = target_.path;
  values.query = target_.query;
  values.header = [&req](std::string_view name) -> std::optional<std::string_view> {
    auto it = req.find(name);
    if (it == req.end()) return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
  };
  std::vector<std::optional<std::string>> targets(n);
  for (size_t i = 0; i < n && i < route.call_templates.size(); ++i) {
    if (!route.call_templates[i].empty()) {
      targets[i] = aggregate::fillCallTarget(route.call_templates[i], values);
    }
  }

  // Every call gets the headers a forwarded request would (identity of the consumer, request
  // id, X-Forwarded-*), without what belongs to the client's own exchange.
  prepareUpstreamFields(x, spec);
  http::PmrFields& fields = req;
  for (auto name : {bhttp::field::content_length, bhttp::field::transfer_encoding,
                    bhttp::field::expect, bhttp::field::range, bhttp::field::if_range,
                    bhttp::field::if_none_match, bhttp::field::if_match,
                    bhttp::field::if_modified_since, bhttp::field::if_unmodified_since}) {
    fields.erase(name);
  }
  // Bodies are embedded in the bundle: they must come uncompressed.
  fields.set(bhttp::field::accept_encoding, "identity");

  const auto started = Clock::now();
  auto bundle = std::make_shared<Bundle>(stream_.get_executor(), n);
  bundle->config = x.config;
  const std::string client_host = spec.rewrite.hostname.empty() ? x.host : spec.rewrite.hostname;
  for (size_t i = 0; i < n; ++i) {
    const config::AggregateCall& call = agg.calls[i];
    const upstream::Cluster* cluster = i < route.call_clusters.size() ? route.call_clusters[i] : nullptr;
    if (!cluster) {
      bundle->outcomes[i] = gatewayError(500, "backend_not_resolved",
                                         "the call's service could not be resolved");
    } else if (cluster->empty()) {
      bundle->outcomes[i] = gatewayError(503, "no_healthy_upstream", "no ready endpoint for the call");
    } else if (!targets[i]) {
      bundle->outcomes[i] = gatewayError(502, "bad_gateway", "the call's target could not be built");
    } else {
      const upstream::EndpointTarget& endpoint = cluster->pick();
      fields.set(bhttp::field::host, callHost(endpoint, *cluster, client_host));
      if (call.method == "POST" || call.method == "PUT" || call.method == "PATCH") {
        fields.set(bhttp::field::content_length, "0");
      } else {
        fields.erase(bhttp::field::content_length);
      }
      std::string head;
      http::appendRequestHead(head, call.method, *targets[i], fields);
      ++bundle->pending;
      net::co_spawn(stream_.get_executor(),
                    runCall(bundle, i, stream_.get_executor(), worker_, *cluster, endpoint,
                            std::move(head), call.method == "HEAD", agg.max_call_body_bytes,
                            route.metrics),
                    net::detached);
      continue;
    }
    bundle->finished[i] = true;
  }
  if (bundle->pending > 0) {
    const milliseconds timeout(agg.timeout_ms ? agg.timeout_ms : spec.timeouts.request_ms);
    bundle->done.expires_at(started + timeout);
    co_await bundle->done.async_wait(kNoThrow);
  }
  if (bundle->pending > 0) {
    // The bundle's timeout: the calls still running are cut and answered as timed out.
    bundle->over = true;
    for (size_t i = 0; i < n; ++i) {
      if (bundle->finished[i]) continue;
      bundle->outcomes[i] = gatewayError(504, "upstream_timeout",
                                         "the call did not answer within the bundle's timeout");
      if (Socket* s = bundle->active[i]) {
        boost::system::error_code ignored;
        s->cancel(ignored);
      }
    }
  }
  bundle->over = true;
  x.upstream = "aggregate";
  x.upstream_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();

  std::vector<std::string> names;
  names.reserve(n);
  std::string failed;
  for (size_t i = 0; i < n; ++i) {
    names.push_back(agg.calls[i].name);
    if (failed.empty() && aggregate::callFailed(bundle->outcomes[i])) failed = agg.calls[i].name;
  }
  if (!failed.empty() && agg.on_error == config::AggregateOnError::Fail) {
    x.upstream_status = 502;
    if (!keep) linger_ = true;
    failure = UpstreamFailure{502, "bad_gateway", "the aggregate call '" + failed + "' failed",
                              keep, true};
    co_return false;
  }
  x.upstream_status = 200;
  const std::string body = aggregate::bundleBody(names, bundle->outcomes);
  if (capture && failed.empty() && body.size() <= capture->max_body) {
    capture->status = 200;
    capture->reason = "OK";
    capture->headers = {{"Content-Type", "application/json"}};
    capture->body = body;
    capture->active = true;
    capture->complete = true;
  }
  if (!keep) linger_ = true;
  co_return co_await sendLocal(x, 200, "application/json", body, keep,
                               http::modifierHeaderLines(spec.response_headers));
}

}  // namespace atrium::proxy::server
