// WebSocket proxying (SPEC §4): an `Upgrade: websocket` request goes to one endpoint on a
// connection of its own; after the upstream's 101 the session relays bytes both ways, frames
// untouched, until either side closes or the route's idle timeout passes. The session keeps
// the configuration snapshot it started with (Exchange::config) to the end, so reloads never
// cut an open WebSocket; a drain closes it only when the process stops at the drain deadline.
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "proxy/http/header_rules.h"
#include "proxy/http/upgrade.h"
#include "proxy/http/wire_format.h"
#include "proxy/server/runtime_registry.h"
#include "proxy/server/session_exchange.h"
#include "proxy/server/worker.h"
#include "proxy/upstream/cluster.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/load_balancer.h"

namespace atrium::proxy::server {

namespace {

// The end of a stream read, clean or not as far as TLS goes: a peer that closes without
// close_notify has still finished sending.
bool isEndOfStream(const boost::system::error_code& ec) {
  return ec == net::error::eof || ec == net::ssl::error::stream_truncated;
}

// While a WebSocket is open: counted in atrium_websocket_connections_active.
class ActiveWebSocket {
 public:
  explicit ActiveWebSocket(std::atomic<int64_t>& gauge) : gauge_(gauge) {
    gauge_.fetch_add(1, std::memory_order_relaxed);
  }
  ~ActiveWebSocket() { gauge_.fetch_sub(1, std::memory_order_relaxed); }
  ActiveWebSocket(const ActiveWebSocket&) = delete;
  ActiveWebSocket& operator=(const ActiveWebSocket&) = delete;

 private:
  std::atomic<int64_t>& gauge_;
};

}  // namespace

Task<bool> Session::proxyUpgrade(Exchange& x, const RouteRuntime& route) {
  const config::Route& spec = *route.route;
  auto& req = parser_->get();
  const bool client_keep = req.keep_alive() && !worker_.draining();
  // RFC 6455 §4.1: the handshake has no body. One here would be read as WebSocket frames by
  // the upstream (or as the next request): refused, and the connection closes.
  if (parser_->chunked() || parser_->content_length().value_or(0) > 0) {
    co_return co_await sendError(x, 400, "bad_request", "an upgrade request cannot have a body",
                                 false);
  }

  // --- Backend (weighted), then endpoint (the route's balancer, else round robin). No retries:
  // a second try would need the client's handshake again, and a 101 cannot be replayed.
  uint64_t roll = nextRoll();
  const int b = route.pickBackend(roll);
  if (b < 0 || route.backends[b] == nullptr) {
    co_return co_await answerFailure(
        x, route,
        UpstreamFailure{500, "backend_not_resolved", "the route's backend could not be resolved",
                        client_keep, false});
  }
  const upstream::Cluster& cluster = *route.backends[b];
  const size_t backend = static_cast<size_t>(b);
  const upstream::LoadBalancer* balancer =
      backend < route.balancers.size() ? route.balancers[backend].get() : nullptr;
  int index = -1;
  if (!cluster.empty() && balancer) {
    index = pickEndpoint(route, backend, -1, affinityOf(spec, roll), nextRoll());
  }
  if (cluster.empty() || (balancer && index < 0)) {
    co_return co_await answerFailure(
        x, route,
        UpstreamFailure{503, "no_healthy_upstream", "no healthy endpoint for the backend",
                        client_keep, true});
  }
  // LeastRequest counts the WebSocket as a request in flight for as long as it is open.
  std::optional<upstream::LoadBalancer::ActiveRequest> in_flight;
  if (balancer) in_flight.emplace(balancer->startRequest(static_cast<size_t>(index)));
  const upstream::EndpointTarget& endpoint =
      index >= 0 ? cluster.at(static_cast<size_t>(index)) : cluster.pick();
  x.upstream = endpoint.key;
  ClusterHealth* health = backend < route.health.size() ? route.health[backend].get() : nullptr;
  auto report = [&](const upstream::AttemptOutcome& outcome) {
    if (health && index >= 0 &&
        health->outliers.onOutcome(static_cast<size_t>(index), outcome, Clock::now())) {
      health->ejections.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("outlier detection: endpoint {} of {} ejected after consecutive failures",
                   endpoint.key, cluster.name());
    }
  };

  // --- A fresh connection: an upgraded connection is never taken from or given to the pool.
  const auto upstream_start = Clock::now();
  boost::system::error_code ec;
  auto conn = co_await connect(cluster, endpoint, milliseconds(spec.timeouts.connect_ms), ec);
  if (!conn) {
    const bool timeout = ec == net::error::timed_out;
    route.metrics->recordUpstreamError(timeout
                                           ? observability::UpstreamErrorReason::kTimeout
                                           : observability::UpstreamErrorReason::kConnectFailure);
    report(upstream::AttemptOutcome::connectFailure());
    co_return co_await answerFailure(
        x, route,
        UpstreamFailure{timeout ? 504 : 502, timeout ? "upstream_timeout" : "bad_gateway",
                        "could not connect to the upstream", client_keep, true});
  }

  // --- The handshake upstream: the usual upstream request, and the two hop-by-hop headers
  // that ask the next hop to switch, set by the gateway (never the client's values).
  // Sec-WebSocket-Key/-Version/-Protocol/-Extensions travel end to end unchanged.
  const std::string target = rewriteForUpstream(x, route);
  http::PmrFields& fields = req;
  fields.set(bhttp::field::connection, "Upgrade");
  fields.set(bhttp::field::upgrade, "websocket");
  head_.clear();
  http::appendRequestHead(head_, req.method_string(), target, req);
  const milliseconds request_timeout(spec.timeouts.request_ms);
  setDeadline(request_timeout);
  active_upstream_ = &conn->stream.socket();
  std::tie(ec, std::ignore) = co_await net::async_write(conn->stream, net::buffer(head_), kNoThrow);

  // --- The upstream's answer: interim responses other than 101 are skipped.
  std::optional<ResponseParser> rp;
  while (!ec) {
    rp.emplace(std::piecewise_construct, std::make_tuple(),
               std::make_tuple(Alloc(&scratch_->arena)));
    rp->header_limit(worker_.options().max_header_bytes);
    rp->body_limit(boost::none);
    std::tie(ec, std::ignore) =
        co_await bhttp::async_read_header(conn->stream, conn->buffer, *rp, kNoThrow);
    if (ec || rp->get().result_int() == 101 || rp->get().result_int() / 100 != 1) break;
  }
  active_upstream_ = nullptr;
  clearDeadline();
  if (ec) {
    const bool timeout = timed_out_;
    route.metrics->recordUpstreamError(timeout ? observability::UpstreamErrorReason::kTimeout
                                               : observability::UpstreamErrorReason::kReset);
    report(timeout ? upstream::AttemptOutcome::timeout() : upstream::AttemptOutcome::reset());
    co_return co_await answerFailure(
        x, route,
        UpstreamFailure{
            timeout ? 504 : 502, timeout ? "upstream_timeout" : "bad_gateway",
            timeout ? "the upstream did not answer in time" : "invalid response from the upstream",
            client_keep, true});
  }
  auto& res = rp->get();
  const int status = res.result_int();
  report(upstream::AttemptOutcome::response(status));
  x.upstream_ms = std::chrono::duration<double, std::milli>(Clock::now() - upstream_start).count();
  x.upstream_status = status;
  if (status != 101) {
    // The upstream refused the upgrade (403, 426, a plain 200...): its answer is relayed as any
    // response, and this connection is dropped afterwards rather than pooled.
    res.keep_alive(false);
    co_return co_await relayResponse(x, *rp, conn, route, client_keep, nullptr);
  }
  if (!http::acceptsWebSocket(static_cast<const http::PmrFields&>(res))) {
    // A switch to another protocol than the one asked for: nothing the client could use.
    route.metrics->recordUpstreamError(observability::UpstreamErrorReason::kProtocol);
    co_return co_await answerFailure(
        x, route,
        UpstreamFailure{502, "bad_gateway", "the upstream switched to another protocol", false,
                        true});
  }

  // --- The 101 to the client: the upstream's fields (Sec-WebSocket-Accept, -Protocol,
  // -Extensions, cookies) with the gateway's own hop-by-hop headers and additions.
  http::PmrFields& out = res;
  http::prepareDownstreamResponse(out, x.request_id);
  decorateResponse(x, spec, out);
  out.erase(bhttp::field::content_length);  // a 101 has no body (RFC 9110 §15.2.2)
  out.erase(bhttp::field::transfer_encoding);
  out.set(bhttp::field::connection, "Upgrade");
  out.set(bhttp::field::upgrade, "websocket");
  x.status = 101;
  head_.clear();
  http::appendResponseHead(head_, 101, "Switching Protocols", out);
  setDeadline(milliseconds(spec.timeouts.idle_ms));
  std::tie(ec, std::ignore) = co_await net::async_write(stream_, net::buffer(head_), kNoThrow);
  clearDeadline();
  if (ec) co_return false;
  route.metrics->recordWebSocket();
  ActiveWebSocket active(worker_.metrics().websocket_connections_active);

  // --- Relay both ways at once on this worker. The session's one deadline is pushed forward
  // by every transfer either way; when it passes, onDeadline cancels both sockets.
  const milliseconds idle(spec.timeouts.idle_ms);
  auto upstream_buf = std::make_unique<char[]>(RequestScratch::kBodyBuffer);
  active_upstream_ = &conn->stream.socket();
  setDeadline(idle);
  bool ended = false;  // set by the first direction that ends the whole relay
  auto to_upstream = pump(stream_, buffer_, conn->stream, scratch_->body.data(),
                          scratch_->body.size(), idle, x.bytes_in, ended);
  auto to_client = pump(conn->stream, conn->buffer, stream_, upstream_buf.get(),
                        RequestScratch::kBodyBuffer, idle, x.bytes_out, ended);
  using namespace net::experimental::awaitable_operators;
  co_await (std::move(to_upstream) && std::move(to_client));
  active_upstream_ = nullptr;
  clearDeadline();
  conn.reset();
  co_return false;
}

Task<void> Session::pump(tls::Stream& from, beast::flat_buffer& pending, tls::Stream& to, char* buf,
                         size_t cap, milliseconds idle, uint64_t& counted, bool& ended) {
  boost::system::error_code ec;
  // What the HTTP reader took past the handshake (frames sent right behind it) goes first.
  if (pending.size() > 0) {
    size_t n = 0;
    std::tie(ec, n) = co_await net::async_write(to, pending.data(), kNoThrow);
    pending.consume(pending.size());
    counted += n;
    setDeadline(idle);
  }
  // `ended` is checked after every operation: cancelling a socket stops only what is pending
  // on it, not an operation this direction starts after the other one ended the relay.
  while (!ec && !ended) {
    auto [rec, n] = co_await from.async_read_some(net::buffer(buf, cap), kNoThrow);
    if (rec) {
      ec = rec;
      break;
    }
    if (ended) break;
    setDeadline(idle);
    std::tie(ec, std::ignore) = co_await net::async_write(to, net::buffer(buf, n), kNoThrow);
    if (ec) break;
    counted += n;
    setDeadline(idle);
  }
  boost::system::error_code ignored;
  if (ended) co_return;
  if (isEndOfStream(ec) && !to.isTls() && !timed_out_) {
    // Half-close: the other side learns that this one finished sending; the opposite
    // direction goes on until it finishes too.
    to.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    co_return;
  }
  // An error, the idle timeout, or an end towards a TLS peer (TLS has no half-close: its
  // close_notify ends the session both ways): the whole relay ends. Cancelling both sockets
  // ends the opposite direction's pending operation too.
  ended = true;
  from.socket().cancel(ignored);
  to.socket().cancel(ignored);
}

}  // namespace atrium::proxy::server
