#include "proxy/server/session.h"

#include <re2/re2.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "proxy/http/error_reply.h"
#include "proxy/http/header_rules.h"
#include "proxy/http/request_id.h"
#include "proxy/server/worker.h"
#include "proxy/upstream/cluster.h"
#include "proxy/upstream/connection_pool.h"

namespace atrium::proxy::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);

// Header lookups for the router, over the parsed request.
class FieldsHeaderSource : public router::HeaderSource {
 public:
  explicit FieldsHeaderSource(const bhttp::fields& fields) : fields_(fields) {}
  std::optional<std::string_view> find(std::string_view lower_name) const override {
    auto it = fields_.find(lower_name);
    if (it == fields_.end()) return std::nullopt;
    return it->value();
  }

 private:
  const bhttp::fields& fields_;
};

bool isTimeout(const boost::system::error_code& ec) { return ec == beast::error::timeout; }

observability::UpstreamErrorReason classify(const boost::system::error_code& ec) {
  if (isTimeout(ec)) return observability::UpstreamErrorReason::kTimeout;
  if (ec == net::error::connection_reset || ec == net::error::eof ||
      ec == bhttp::error::end_of_stream || ec == net::error::broken_pipe ||
      ec == bhttp::error::partial_message) {
    return observability::UpstreamErrorReason::kReset;
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
    return observability::UpstreamErrorReason::kProtocol;
  }
  return observability::UpstreamErrorReason::kConnectFailure;
}

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

// Everything one request carries from start to finish.
struct Session::Exchange {
  Clock::time_point start = Clock::now();
  std::shared_ptr<const ProxyConfig> config;  // the config this request started with
  std::string request_id;
  std::string method;
  std::string host;
  std::string original_path;  // for the access log
  const RouteRuntime* route = nullptr;
  const config::RouteMatch* match = nullptr;
  int status = 0;
  uint64_t bytes_out = 0;
  std::string upstream;
  int upstream_status = 0;
  double upstream_ms = 0;
  bool head = false;
  unsigned client_version = 11;  // as the client sent it (the request is rewritten to 1.1)
};

Session::Session(Worker& worker, net::ip::tcp::socket socket)
    : worker_(worker), stream_(std::move(socket)), header_timer_(stream_.get_executor()) {
  boost::system::error_code ec;
  auto remote = stream_.socket().remote_endpoint(ec);
  if (!ec) {
    auto addr = remote.address();
    client_ip_ = addr.to_string();
    client_ip_bytes_ = addr.is_v4() ? net::ip::make_address_v6(net::ip::v4_mapped, addr.to_v4()).to_bytes()
                                     : addr.to_v6().to_bytes();
  }
  stream_.socket().set_option(net::ip::tcp::no_delay(true), ec);
  worker_.add(this);
  worker_.metrics().active_connections.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() {
  worker_.remove(this);
  worker_.metrics().active_connections.fetch_sub(1, std::memory_order_relaxed);
}

void Session::closeIfIdle() {
  if (!idle_) return;
  boost::system::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
}

net::awaitable<void> Session::run() {
  auto self = shared_from_this();  // keeps the session alive across suspensions
  const auto& opts = worker_.options();
  for (;;) {
    if (worker_.draining()) break;
    // Wait for the first byte of the next request with the keep-alive idle timeout, then give
    // the whole header the (shorter) header timeout: a client trickling a header byte by byte
    // (slowloris) is cut off after header_timeout, not after idle_timeout per byte.
    if (buffer_.size() == 0) {
      idle_ = true;
      stream_.expires_after(opts.idle_timeout);
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(8192), kNoThrow);
      idle_ = false;
      if (ec) break;  // closed, timed out while idle, or drained: nothing to answer
      buffer_.commit(n);
    }
    parser_.emplace();
    parser_->header_limit(opts.max_header_bytes);
    parser_->body_limit(boost::none);  // the route's own limit is enforced while streaming
    parser_->eager(false);
    // tcp_stream's own timeout would close the socket, leaving no way to answer 408; the
    // header deadline cancels the read instead.
    stream_.expires_never();
    armHeaderDeadline(opts.header_timeout);
    auto [ec, header_bytes] = co_await bhttp::async_read_header(stream_, buffer_, *parser_, kNoThrow);
    disarmHeaderDeadline();
    if (ec) {
      if (ec == bhttp::error::end_of_stream) break;
      if (header_timed_out_ || isTimeout(ec)) {
        co_await rejectUnparsable(408, "request_timeout", "request header not received in time");
      } else if (ec == bhttp::error::header_limit) {
        co_await rejectUnparsable(431, "headers_too_large", "request header section too large");
      } else if (ec == net::error::operation_aborted || ec == net::error::connection_reset ||
                 ec == net::error::eof) {
        // the client went away
      } else {
        co_await rejectUnparsable(400, "bad_request", ec.message());
      }
      break;
    }
    bool keep_alive = co_await handleRequest();
    if (!keep_alive) break;
  }
  boost::system::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  stream_.socket().close(ignored);
  worker_.accessLog().flush();
}

void Session::armHeaderDeadline(std::chrono::steady_clock::duration timeout) {
  const uint64_t id = ++header_deadline_id_;
  reading_header_ = true;
  header_timed_out_ = false;
  header_timer_.expires_after(timeout);
  header_timer_.async_wait([self = shared_from_this(), id](boost::system::error_code ec) {
    // A completion that raced with disarm (or belongs to an earlier request) does nothing.
    if (ec || id != self->header_deadline_id_ || !self->reading_header_) return;
    self->header_timed_out_ = true;
    boost::system::error_code ignored;
    self->stream_.socket().cancel(ignored);  // the read completes with operation_aborted
  });
}

void Session::disarmHeaderDeadline() {
  reading_header_ = false;
  header_timer_.cancel();
}

net::awaitable<void> Session::rejectUnparsable(int status, std::string_view code,
                                               std::string_view message) {
  Exchange x;
  x.request_id = http::newRequestId();
  x.config = worker_.config();
  x.method = "-";
  co_await sendError(x, status, code, message, false);
  finish(x);
}

net::awaitable<bool> Session::sendLocal(Exchange& x, int status, std::string_view content_type,
                                        std::string body, bool keep_alive,
                                        const std::vector<std::pair<std::string, std::string>>&
                                            extra_headers) {
  if (worker_.draining()) keep_alive = false;
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::server, "atrium");
  res.set(bhttp::field::date, http::httpDate());
  if (!content_type.empty()) res.set(bhttp::field::content_type, content_type);
  res.set("X-Request-Id", x.request_id);
  for (const auto& [name, value] : extra_headers) res.set(name, value);
  x.status = status;
  x.bytes_out = x.head ? 0 : body.size();
  res.body() = std::move(body);
  res.prepare_payload();
  if (x.head) res.body().clear();  // HEAD: same headers (Content-Length included), no body
  res.keep_alive(keep_alive);
  if (keep_alive && x.client_version < 11) res.set(bhttp::field::connection, "keep-alive");
  stream_.expires_after(worker_.options().idle_timeout);
  bhttp::response_serializer<bhttp::string_body> sr{res};
  if (x.head) sr.split(true);
  boost::system::error_code ec;
  if (x.head) {
    std::tie(ec, std::ignore) = co_await bhttp::async_write_header(stream_, sr, kNoThrow);
  } else {
    std::tie(ec, std::ignore) = co_await bhttp::async_write(stream_, sr, kNoThrow);
  }
  co_return !ec && keep_alive;
}

net::awaitable<bool> Session::sendError(Exchange& x, int status, std::string_view code,
                                        std::string_view message, bool keep_alive) {
  co_return co_await sendLocal(x, status, "application/json",
                               http::errorBody(status, code, message, x.request_id), keep_alive);
}

void Session::finish(Exchange& x) {
  const double ms = msSince(x.start);
  const auto& metrics = x.route ? x.route->metrics
                                : (x.config ? x.config->unmatchedMetrics() : nullptr);
  if (metrics) metrics->recordRequest(x.method, x.status, ms / 1000.0);
  auto& log = worker_.accessLog();
  if (log.enabled()) {
    observability::AccessLogEntry e;
    e.time = std::chrono::system_clock::now();
    e.request_id = x.request_id;
    e.client_ip = client_ip_;
    e.method = x.method;
    e.host = x.host;
    e.path = x.original_path;
    e.status = x.status;
    e.bytes = x.bytes_out;
    e.duration_ms = ms;
    e.upstream = x.upstream;
    e.upstream_status = x.upstream_status;
    e.upstream_ms = x.upstream_ms;
    e.route = x.route ? std::string_view(x.route->route->name) : std::string_view("none");
    log.append(e);
  }
}

net::awaitable<bool> Session::handleRequest() {
  Exchange x;
  x.config = worker_.config();
  auto& req = parser_->get();
  x.method = std::string(req.method_string());
  x.head = req.method() == bhttp::verb::head;
  x.client_version = req.version();
  x.original_path = std::string(req.target());
  auto host_it = req.find(bhttp::field::host);
  if (host_it != req.end()) x.host = std::string(host_it->value());
  auto rid = req.find("X-Request-Id");
  x.request_id = (rid != req.end() && http::isAcceptableRequestId(rid->value()))
                     ? std::string(rid->value())
                     : http::newRequestId();
  const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;
  // Answering before the request body was read leaves its bytes on the connection: keep the
  // connection only when there is no body to skip.
  bool keep_alive = req.keep_alive() && !worker_.draining();
  const bool can_keep_without_body = keep_alive && !has_body;

  // --- Request-smuggling defences (SPEC §4). Beast already rejects Content-Length together
  // with Transfer-Encoding and differing Content-Lengths; a Transfer-Encoding other than a
  // lone "chunked" is refused here, as is a missing or repeated Host on HTTP/1.1.
  if (auto te = req.find(bhttp::field::transfer_encoding); te != req.end()) {
    if (!http::isPlainChunked(te->value()) || req.count(bhttp::field::transfer_encoding) > 1) {
      co_await sendError(x, 400, "bad_request", "unsupported Transfer-Encoding", false);
      finish(x);
      co_return false;
    }
  }
  if ((req.version() >= 11 && host_it == req.end()) || req.count(bhttp::field::host) > 1) {
    co_await sendError(x, 400, "bad_request", "exactly one Host header is required", false);
    finish(x);
    co_return false;
  }
  if (auto err = http::normalizeTarget(req.target(), target_); err != http::PathError::kNone) {
    co_await sendError(x, 400, "bad_request", http::describe(err), false);
    finish(x);
    co_return false;
  }
  if (!x.config) {
    co_await sendError(x, 503, "no_healthy_upstream", "no configuration loaded yet", can_keep_without_body);
    finish(x);
    co_return can_keep_without_body;
  }

  // --- Route.
  FieldsHeaderSource headers(req);
  router::RequestView view{x.host, target_.path, target_.query, x.method, &headers};
  const router::RouteHit hit = x.config->table().match(view);
  if (!hit) {
    bool kept = co_await sendError(x, 404, "route_not_found", "no route for this host and path",
                                   can_keep_without_body);
    finish(x);
    co_return kept;
  }
  const RouteRuntime& route = x.config->route(hit.route_id);
  x.route = &route;
  x.match = hit.match;
  const config::Route& spec = *route.route;

  if ((!route.ip_deny.empty() && route.ip_deny.contains(client_ip_bytes_)) ||
      (!route.ip_allow.empty() && !route.ip_allow.contains(client_ip_bytes_))) {
    bool kept = co_await sendError(x, 403, "forbidden", "client address not allowed",
                                   can_keep_without_body);
    finish(x);
    co_return kept;
  }
  if (parser_->content_length() && *parser_->content_length() > spec.max_request_body_bytes) {
    co_await sendError(x, 413, "payload_too_large", "request body exceeds the limit", false);
    finish(x);
    co_return false;
  }
  if (spec.redirect) {
    std::string location = http::redirectLocation(*spec.redirect, *hit.match, target_, x.host,
                                                  "http", worker_.port());
    // Built outside the co_await: GCC 12 miscompiles initializer lists inside one.
    std::vector<std::pair<std::string, std::string>> headers_out;
    headers_out.emplace_back("Location", std::move(location));
    bool kept = co_await sendLocal(x, spec.redirect->status_code, "", "", can_keep_without_body,
                                   headers_out);
    finish(x);
    co_return kept;
  }
  if (spec.direct_response) {
    bool kept = co_await sendLocal(x, spec.direct_response->status,
                                   spec.direct_response->content_type, spec.direct_response->body,
                                   can_keep_without_body);
    finish(x);
    co_return kept;
  }
  bool kept = co_await forward(x, route);
  finish(x);
  co_return kept;
}

net::awaitable<std::unique_ptr<upstream::UpstreamConnection>> Session::connect(
    const upstream::EndpointTarget& target, std::chrono::milliseconds timeout,
    boost::system::error_code& ec) {
  auto conn = std::make_unique<upstream::UpstreamConnection>(stream_.get_executor());
  conn->key = target.key;
  conn->stream.expires_after(timeout);
  if (target.is_ip) {
    std::tie(ec) = co_await conn->stream.async_connect(target.address, kNoThrow);
  } else {
    // ExternalName services and URL backends with DNS names resolve per new connection.
    net::ip::tcp::resolver resolver(stream_.get_executor());
    auto [rec, results] = co_await resolver.async_resolve(target.host, std::to_string(target.port), kNoThrow);
    ec = rec;
    if (!ec) std::tie(ec, std::ignore) = co_await conn->stream.async_connect(results, kNoThrow);
  }
  if (ec) co_return nullptr;
  boost::system::error_code ignored;
  conn->stream.socket().set_option(net::ip::tcp::no_delay(true), ignored);
  co_return conn;
}

net::awaitable<bool> Session::forward(Exchange& x, const RouteRuntime& route) {
  const config::Route& spec = *route.route;
  auto& req = parser_->get();
  const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;
  bool client_keep = req.keep_alive() && !worker_.draining();

  // --- Pick the backend (weighted), then the endpoint (round robin).
  thread_local uint64_t roll_state = 0x2545F4914F6CDD1Dull ^ reinterpret_cast<uintptr_t>(&x);
  roll_state ^= roll_state << 13, roll_state ^= roll_state >> 7, roll_state ^= roll_state << 17;
  const int b = route.pickBackend(roll_state);
  if (b < 0 || route.backends[b] == nullptr) {
    co_await sendError(x, 500, "backend_not_resolved", "the route's backend could not be resolved",
                       client_keep && !has_body);
    co_return client_keep && !has_body;
  }
  const upstream::Cluster& cluster = *route.backends[b];
  if (cluster.empty()) {
    co_await sendError(x, 503, "no_healthy_upstream", "no ready endpoint for the backend",
                       client_keep && !has_body);
    co_return client_keep && !has_body;
  }

  // --- Rewrite the request in place into what the upstream gets.
  std::string path = http::rewritePath(spec, route.rewrite_regex.get(), *x.match, target_.path);
  std::string new_target = path;
  if (!target_.query.empty()) {
    new_target.push_back('?');
    new_target.append(target_.query);
  }
  http::prepareUpstreamRequest(req, x.host, client_ip_, worker_.port(), x.request_id);
  req.target(new_target);
  if (!spec.rewrite.hostname.empty()) req.set(bhttp::field::host, spec.rewrite.hostname);
  http::applyHeaderModifier(req, spec.request_headers);
  // "Expect: 100-continue" is answered here (as nginx does), so the upstream never waits on it.
  const bool expect_continue = http::takeExpectContinue(req);
  req.version(11);
  req.keep_alive(true);

  const auto timeouts = spec.timeouts;
  const std::chrono::milliseconds request_timeout(timeouts.request_ms);
  const std::chrono::milliseconds idle_timeout(timeouts.idle_ms);
  const uint64_t body_limit = spec.max_request_body_bytes;

  std::unique_ptr<upstream::UpstreamConnection> conn;
  std::optional<ResponseParser> rp;
  bool body_sent = false;  // once any body byte went out, the request cannot be retried
  const size_t max_attempts = std::min<size_t>(3, cluster.size() + 1);
  const auto upstream_start = Clock::now();
  for (size_t attempt = 0;; ++attempt) {
    const upstream::EndpointTarget& target = cluster.pick();
    x.upstream = target.key;
    bool reused = false;
    boost::system::error_code ec;
    conn = worker_.pool().take(target.key);
    if (conn) {
      reused = true;
    } else {
      conn = co_await connect(target, std::chrono::milliseconds(timeouts.connect_ms), ec);
      if (!conn) {
        route.metrics->recordUpstreamError(isTimeout(ec) ? observability::UpstreamErrorReason::kTimeout
                                                         : observability::UpstreamErrorReason::kConnectFailure);
        if (attempt + 1 < max_attempts) continue;  // nothing was sent: another endpoint may do
        co_await sendError(x, isTimeout(ec) ? 504 : 502, isTimeout(ec) ? "upstream_timeout" : "bad_gateway",
                           "could not connect to the upstream", client_keep && !has_body);
        co_return client_keep && !has_body;
      }
    }
    ++conn->uses;

    // --- Send the request: header (and, for bodies, the first chunk with it), then stream.
    bhttp::request_serializer<bhttp::buffer_body> sr{req};
    if (!has_body) {
      req.body().data = nullptr;
      req.body().size = 0;
      req.body().more = false;
      conn->stream.expires_after(request_timeout);
      std::tie(ec, std::ignore) = co_await bhttp::async_write(conn->stream, sr, kNoThrow);
    } else {
      if (expect_continue && !body_sent) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        stream_.expires_after(idle_timeout);
        auto [cec, n] = co_await net::async_write(stream_, net::buffer(kContinue), kNoThrow);
        if (cec) co_return false;
      }
      uint64_t received = 0;
      bool client_failed = false;
      while (!ec) {
        req.body().data = body_buffer_.data();
        req.body().size = body_buffer_.size();
        if (!parser_->is_done()) {
          stream_.expires_after(idle_timeout);
          auto [rec, n] = co_await bhttp::async_read(stream_, buffer_, *parser_, kNoThrow);
          if (rec == bhttp::error::need_buffer) rec = {};
          if (rec) {
            client_failed = true;
            break;
          }
        }
        const size_t n = body_buffer_.size() - req.body().size;
        received += n;
        if (received > body_limit) {
          co_await sendError(x, 413, "payload_too_large", "request body exceeds the limit", false);
          co_return false;  // the upstream connection is dropped with the half-sent request
        }
        req.body().data = n ? body_buffer_.data() : nullptr;
        req.body().size = n;
        req.body().more = !parser_->is_done();
        body_sent = true;
        conn->stream.expires_after(request_timeout);
        std::tie(ec, std::ignore) = co_await bhttp::async_write(conn->stream, sr, kNoThrow);
        if (ec == bhttp::error::need_buffer) ec = {};
        if (sr.is_done()) break;
      }
      if (client_failed) co_return false;  // client vanished mid-body: nothing to answer
    }
    if (ec) {
      route.metrics->recordUpstreamError(classify(ec));
      // A pooled connection the upstream had already closed: retry on a fresh one, but only if
      // no body byte was sent (the request may not be replayable otherwise).
      if (reused && !body_sent && attempt + 1 < max_attempts + 1) continue;
      co_await sendError(x, isTimeout(ec) ? 504 : 502, isTimeout(ec) ? "upstream_timeout" : "bad_gateway",
                         "error sending the request upstream", false);
      co_return false;
    }

    // --- Read the response header (skipping interim 1xx responses).
    rp.emplace();
    rp->header_limit(worker_.options().max_header_bytes);
    rp->body_limit(boost::none);
    if (x.head) rp->skip(true);
    conn->stream.expires_after(request_timeout);
    std::tie(ec, std::ignore) = co_await bhttp::async_read_header(conn->stream, conn->buffer, *rp, kNoThrow);
    while (!ec && rp->get().result_int() / 100 == 1) {
      rp.emplace();
      rp->header_limit(worker_.options().max_header_bytes);
      rp->body_limit(boost::none);
      if (x.head) rp->skip(true);
      std::tie(ec, std::ignore) = co_await bhttp::async_read_header(conn->stream, conn->buffer, *rp, kNoThrow);
    }
    if (ec) {
      route.metrics->recordUpstreamError(classify(ec));
      const bool stale = reused && !body_sent && conn->buffer.size() == 0 &&
                         (ec == bhttp::error::end_of_stream || ec == net::error::connection_reset ||
                          ec == net::error::eof);
      if (stale && attempt + 1 < max_attempts + 1) continue;
      co_await sendError(x, isTimeout(ec) ? 504 : 502, isTimeout(ec) ? "upstream_timeout" : "bad_gateway",
                         isTimeout(ec) ? "the upstream did not answer in time" : "invalid response from the upstream",
                         client_keep && parser_->is_done());
      co_return client_keep && parser_->is_done();
    }
    break;
  }
  x.upstream_ms = msSince(upstream_start);
  x.upstream_status = rp->get().result_int();
  // The request is complete on the client side only when its whole body was read.
  client_keep = client_keep && parser_->is_done();
  co_return co_await relayResponse(x, *rp, conn, route, client_keep);
}

net::awaitable<bool> Session::relayResponse(Exchange& x, ResponseParser& rp,
                                            std::unique_ptr<upstream::UpstreamConnection>& conn,
                                            const RouteRuntime& route, bool client_keep) {
  const config::Route& spec = *route.route;
  auto& res = rp.get();
  const bool upstream_keep = res.keep_alive();
  const int status = res.result_int();
  const bool bodyless = x.head || status == 204 || status == 304;
  // A body with neither length nor chunking ends when the upstream closes; an HTTP/1.1 client
  // gets it chunked, an HTTP/1.0 client gets it close-delimited.
  const bool client_http10 = x.client_version < 11;
  if (!bodyless && !rp.chunked() && !rp.content_length()) {
    if (!client_http10) {
      res.chunked(true);
    } else {
      client_keep = false;
    }
  }
  // An HTTP/1.0 client cannot decode chunked framing (RFC 9112 §7.1: never send it one): the
  // decoded body goes out as is, delimited by the close of the connection.
  if (client_http10 && rp.chunked()) {
    res.chunked(false);
    client_keep = false;
  }
  // A drain that began while the upstream was busy: this response is the connection's last,
  // and the client is told so rather than finding out by a reset on its next request.
  if (worker_.draining()) client_keep = false;
  http::prepareDownstreamResponse(res, x.request_id);
  http::applyHeaderModifier(res, spec.response_headers);
  res.version(11);
  res.keep_alive(client_keep);
  // HTTP/1.0 defaults to close: a 1.0 client that asked for keep-alive must be told it got it.
  if (client_keep && client_http10) res.set(bhttp::field::connection, "keep-alive");
  x.status = status;

  const std::chrono::milliseconds idle_timeout(spec.timeouts.idle_ms);
  bhttp::response_serializer<bhttp::buffer_body> sr{res};
  boost::system::error_code ec;
  bool upstream_failed = false;
  // Relay: read a piece of the body from the upstream, write it (with the header, the first
  // time) to the client, until the upstream's message is complete.
  for (;;) {
    res.body().data = body_buffer_.data();
    res.body().size = body_buffer_.size();
    if (!rp.is_done()) {
      conn->stream.expires_after(idle_timeout);
      auto [rec, n] = co_await bhttp::async_read(conn->stream, conn->buffer, rp, kNoThrow);
      if (rec == bhttp::error::need_buffer) rec = {};
      if (rec) {
        route.metrics->recordUpstreamError(classify(rec));
        upstream_failed = true;
      }
    }
    const size_t n = body_buffer_.size() - res.body().size;
    res.body().data = n ? body_buffer_.data() : nullptr;
    res.body().size = n;
    res.body().more = !rp.is_done() && !upstream_failed;
    x.bytes_out += n;
    if (upstream_failed && !sr.is_header_done()) {
      // Nothing reached the client yet: it still gets a proper error.
      conn.reset();
      co_await sendError(x, 502, "bad_gateway", "the upstream response was cut short", false);
      co_return false;
    }
    if (upstream_failed) {
      // Mid-body: the client must see a truncated message, never a well-formed short one.
      conn.reset();
      co_return false;
    }
    stream_.expires_after(idle_timeout);
    std::tie(ec, std::ignore) = co_await bhttp::async_write(stream_, sr, kNoThrow);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      conn.reset();  // the client went away; the upstream connection has unread bytes
      co_return false;
    }
    if (sr.is_done()) break;
  }
  if (upstream_keep && rp.is_done() && !worker_.draining()) {
    worker_.pool().give(std::move(conn));
  } else {
    conn.reset();
  }
  co_return client_keep;
}

}  // namespace atrium::proxy::server
