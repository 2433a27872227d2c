#pragma once
// One client connection, run as a C++20 coroutine on its worker. The request cycle reads like
// the protocol: read a header → check it → route → forward and stream the body → relay the
// response → keep alive or close. (DESIGN.md suggests Beast's do_x/on_x callback pairs; a
// coroutine keeps the same discipline — a deadline before every async operation, a fresh
// parser per message — with the relay loops and retries written as plain loops, which is
// easier to get right. Asio recycles coroutine frames per thread.)
//
// Timeouts: the session keeps one deadline; its worker checks all sessions' deadlines on a
// single timer and, when one passes, cancels the session's pending socket operations
// (onDeadline). No timer is armed per socket operation.
#include <array>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <ctime>
#include <memory>
#include <memory_resource>
#include <optional>
#include <string>

#include "proxy/http/client_ip.h"
#include "proxy/http/header_rules.h"
#include "proxy/http/path_normalizer.h"
#include "proxy/io_types.h"
#include "proxy/server/proxy_config.h"
#include "proxy/server/request_scratch.h"
#include "proxy/server/response_capture.h"
#include "proxy/tls/stream.h"

namespace atrium::proxy::upstream {
struct UpstreamConnection;
struct EndpointTarget;
class Cluster;
}  // namespace atrium::proxy::upstream

namespace atrium::proxy::cache {
struct CachedResponse;
}

namespace atrium::proxy::server {

class Worker;

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Clock = std::chrono::steady_clock;

  // `tls`: the connection came to the HTTPS listener; run() does the handshake first.
  Session(Worker& worker, Socket socket, bool tls);
  ~Session();

  Task<void> run();

  // Worker thread: closes the connection if it is waiting for a next request (drain).
  void closeIfIdle();
  // Worker thread: the current deadline, and what happens when it passes.
  Clock::time_point deadline() const { return deadline_; }
  void onDeadline();

 private:
  using Alloc = std::pmr::polymorphic_allocator<char>;
  using RequestParser = boost::beast::http::parser<true, boost::beast::http::buffer_body, Alloc>;
  using ResponseParser = boost::beast::http::parser<false, boost::beast::http::buffer_body, Alloc>;

  struct Exchange;  // per-request state, defined in session.cc

  Task<bool> handleRequest();
  // Rate limits and quota of the route and consumer; false when the request was refused (the
  // 429 is sent and `kept` says whether the connection stays open).
  Task<bool> applyLimits(Exchange& x, const RouteRuntime& route, bool keep_alive, bool& kept);
  // The client address: the peer, or what X-Forwarded-For says when the peer is trusted.
  void resolveClientAddress();
  // Why the upstream could not answer, when nothing was sent to the client yet: the caller
  // answers with a stale cache entry, the route's fallback, or this error.
  struct UpstreamFailure {
    int status = 502;
    std::string_view code = "bad_gateway";
    std::string message;
    bool keep = false;     // the client connection may stay open after the answer
    bool fallback = true;  // the route's fallback may stand in (not for an unresolved backend)
  };
  // Sends the request upstream and relays the response; returns whether the client connection
  // stays open. When the upstream failed before anything reached the client, sets `failure`
  // and sends nothing.
  // With `capture`, the response is also copied for the cache.
  Task<bool> forward(Exchange& x, const RouteRuntime& route, std::optional<UpstreamFailure>& failure,
                     ResponseCapture* capture = nullptr);
  // An `Upgrade: websocket` request (session_upgrade.cc): sent to an endpoint on a connection of
  // its own (never pooled); a 101 is relayed and then bytes both ways until either side closes
  // or the route's idle timeout passes with no byte either way. Any other answer is relayed as
  // a normal response. Returns whether the client connection stays open (never after a 101).
  Task<bool> proxyUpgrade(Exchange& x, const RouteRuntime& route);
  // The bytes of an upgraded connection, one direction: first what the HTTP reader had already
  // buffered (`pending`), then whatever arrives, until the source closes or fails. A clean end
  // towards a plain peer is passed on as a half-close; anything else sets `ended` and cancels
  // both sockets, which ends the other direction too.
  Task<void> pump(tls::Stream& from, boost::beast::flat_buffer& pending, tls::Stream& to,
                  char* buf, size_t cap, std::chrono::milliseconds idle, uint64_t& counted,
                  bool& ended);
  // Rewrites the parsed request into what the upstream gets (path rewrite, X-Forwarded-*,
  // identity headers, host rewrite, the route's request header modifiers); returns the target.
  // Shared by forward and proxyUpgrade.
  std::string rewriteForUpstream(Exchange& x, const RouteRuntime& route);
  // The route's additions to every proxied response head: header modifiers, X-Cache,
  // RateLimit-*, HSTS and CORS (addGatewayHeaders).
  void decorateResponse(Exchange& x, const config::Route& spec, http::PmrFields& fields);
  // Per-thread randomness for weights, balancers and backoff jitter.
  static uint64_t nextRoll();
  // ConsistentHash's key for this request (policy.hashOn), or 0 for other balancers.
  uint64_t affinityOf(const config::Route& spec, uint64_t roll) const;
  // The endpoint of backend `b` of a route with a balancer: healthy, not ejected, and another
  // one than `previous` when there is a choice; -1 when none is usable.
  int pickEndpoint(const RouteRuntime& route, size_t b, int previous, uint64_t affinity,
                   uint64_t roll) const;
  // A route with policy.cache (session_cache.cc): answers from the cache (HIT), or forwards
  // and stores (MISS), collapsing concurrent misses, serving a stale entry when the upstream
  // fails (STALE), or just forwards (BYPASS).
  Task<bool> serveCached(Exchange& x, const RouteRuntime& route,
                         std::optional<UpstreamFailure>& failure);
  Task<bool> sendCached(Exchange& x, const RouteRuntime& route, const cache::CachedResponse& entry,
                        std::string_view result);
  // The answer to a failure: the route's fallback where it applies, else the JSON error.
  Task<bool> answerFailure(Exchange& x, const RouteRuntime& route, const UpstreamFailure& f);
  // Streams the upstream response to the client; pools the upstream connection when it can be
  // reused. Returns whether the client connection stays open.
  Task<bool> relayResponse(Exchange& x, ResponseParser& rp,
                           std::unique_ptr<upstream::UpstreamConnection>& conn,
                           const RouteRuntime& route, bool client_keep, ResponseCapture* capture);
  // The request's header fields as an upstream gets them (in place): forwarding headers,
  // identity headers of the authenticated consumer, credentials stripped, the route's host
  // rewrite and requestHeaders filter.
  void prepareUpstreamFields(Exchange& x, const config::Route& spec);
  // A route with `aggregate` (session_aggregate.cc): the calls run concurrently and the
  // client gets their answers as one JSON object. With `capture`, a bundle whose calls all
  // succeeded is also copied for the cache.
  Task<bool> serveAggregate(Exchange& x, const RouteRuntime& route,
                            std::optional<UpstreamFailure>& failure, ResponseCapture* capture);
  // What answers a route with upstreams: its aggregate bundle, or the forwarded request.
  Task<bool> fetchUpstream(Exchange& x, const RouteRuntime& route,
                           std::optional<UpstreamFailure>& failure, ResponseCapture* capture);
  Task<std::unique_ptr<upstream::UpstreamConnection>> connect(
      const upstream::Cluster& cluster, const upstream::EndpointTarget& target,
      std::chrono::milliseconds timeout, boost::system::error_code& ec);
  // The server-side TLS handshake of a connection to the HTTPS listener.
  Task<bool> handshake();
  // Writes `head` (may be empty) and a piece of body with the message's framing; with
  // `chunked`, the piece becomes one chunk and `last` adds the terminating chunk.
  Task<boost::system::error_code> writeFramed(tls::Stream& stream, std::string_view head,
                                              const char* data, size_t size, bool chunked,
                                              bool last);
  // `extra_headers`: complete header lines, each ending in CRLF, built from validated values.
  Task<bool> sendLocal(Exchange& x, int status, std::string_view content_type,
                       std::string_view body, bool keep_alive,
                       std::string_view extra_headers = {});
  Task<bool> sendError(Exchange& x, int status, std::string_view code, std::string_view message,
                       bool keep_alive);
  // Answers a request the parser rejected, then the connection closes.
  Task<void> rejectUnparsable(int status, std::string_view code, std::string_view message);
  // After an error answered before the request was read to its end: stop sending, read and
  // discard what the client is still sending for a moment, then close. Closing at once with
  // unread input makes the kernel send a reset that can destroy the error response in flight.
  Task<void> lingeringClose();
  // The headers the gateway adds to every answer of a routed request, relayed or from the
  // cache: RateLimit-*, Strict-Transport-Security, and the route's CORS headers (which replace
  // any Access-Control-* of the upstream; Origin is added to its Vary).
  void addGatewayHeaders(http::PmrFields& fields, const Exchange& x, const config::Route& spec) const;
  // policy.cors: a preflight is answered here (204, or 403 for a refused origin, method or
  // header) and returns true; any other request gets its response headers noted in `x`.
  Task<bool> answerPreflight(Exchange& x, const config::Route& spec, bool keep_alive, bool& kept);
  void finish(Exchange& x);
  // Records an authenticated request's usage, once. Called just before the last bytes of the
  // response are written, so with Redis the count leaves for Redis before the client can see
  // the whole answer (a crash right after it loses nothing), and from finish() otherwise.
  void meter(Exchange& x);
  void releaseScratch();

  // Deadlines are checked every few tens of milliseconds, so the coarse clock (a few ms of
  // resolution, far cheaper to read than the precise one) is exact enough to set them.
  static Clock::time_point coarseNow() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return Clock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
  }
  void setDeadline(std::chrono::milliseconds timeout) {
    timed_out_ = false;
    deadline_ = coarseNow() + timeout;
  }
  void clearDeadline() { deadline_ = Clock::time_point::max(); }

  Worker& worker_;
  tls::Stream stream_;
  const bool tls_;
  std::string client_subject_;  // verified client certificate subject (RFC 2253), or ""
  boost::beast::flat_buffer buffer_;
  std::unique_ptr<RequestScratch> scratch_;  // held only while a request is in flight
  std::optional<RequestParser> parser_;
  http::ClientAddress peer_;    // the TCP peer
  http::ClientAddress client_;  // the client, per --trusted-proxies (resolveClientAddress)
  bool idle_ = false;
  bool linger_ = false;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timed_out_ = false;
  Socket* active_upstream_ = nullptr;  // cancelled with the client socket on a deadline
  http::NormalizedTarget target_;
  std::string head_;        // the message head being written; capacity reused
  std::string chunk_line_;  // the chunk-size line being written
};

}  // namespace atrium::proxy::server
