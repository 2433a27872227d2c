#include "proxy/server/session.h"

#include <re2/re2.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <span>

#include "proxy/filters/cors.h"
#include "proxy/http/error_reply.h"
#include "proxy/http/header_rules.h"
#include "proxy/http/request_id.h"
#include "proxy/http/upgrade.h"
#include "proxy/http/wire_format.h"
#include "proxy/metering/usage_store.h"
#include "proxy/ratelimit/rate_limiter.h"
#include "proxy/server/session_exchange.h"
#include "proxy/server/upstream_connector.h"
#include "proxy/server/worker.h"
#include "proxy/upstream/cluster.h"
#include "proxy/tls/tls_server.h"
#include "proxy/upstream/backoff.h"
#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/retry.h"
#include "proxy/upstream/retry_budget.h"
#include "proxy/server/runtime_registry.h"

namespace atrium::proxy::server {

using Clock = std::chrono::steady_clock;

namespace {

// Header lookups for the router, over the parsed request.
class FieldsHeaderSource : public router::HeaderSource {
 public:
  explicit FieldsHeaderSource(const http::PmrFields& fields) : fields_(fields) {}
  std::optional<std::string_view> find(std::string_view lower_name) const override {
    auto it = fields_.find(lower_name);
    if (it == fields_.end()) return std::nullopt;
    return it->value();
  }

 private:
  const http::PmrFields& fields_;
};

observability::UpstreamErrorReason classify(const boost::system::error_code& ec, bool timed_out) {
  if (timed_out) return observability::UpstreamErrorReason::kTimeout;
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

std::string_view reasonPhrase(unsigned status) {
  auto r = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return {r.data(), r.size()};
}

// RateLimit-Limit/-Remaining/-Reset (draft-ietf-httpapi-ratelimit-headers), after a header line.
void appendRateLimitHeaders(std::string& head, const ratelimit::LimitDecision& d) {
  head += "\r\nRateLimit-Limit: ";
  head += std::to_string(d.limit);
  head += "\r\nRateLimit-Remaining: ";
  head += std::to_string(d.remaining);
  head += "\r\nRateLimit-Reset: ";
  head += std::to_string(d.reset_s);
}

// ConsistentHash's key for this request (policy.hashOn): the client IP, a header or a cookie;
// a request without the header or cookie is placed at random (`roll`).
uint64_t hashAffinityOf(const config::Route& spec, std::string_view client_ip,
                        const http::PmrFields& fields, uint64_t roll) {
  switch (spec.hash_on) {
    case config::HashOn::ClientIP:
      return upstream::hashKey(client_ip) | 1;
    case config::HashOn::Header:
      if (auto it = fields.find(spec.hash_on_name); it != fields.end()) {
        return upstream::hashKey(std::string_view(it->value().data(), it->value().size())) | 1;
      }
      return roll | 1;
    case config::HashOn::Cookie:
      for (auto [it, end] = fields.equal_range(bhttp::field::cookie); it != end; ++it) {
        std::string_view cookies(it->value().data(), it->value().size());
        while (!cookies.empty()) {
          const size_t semi = cookies.find(';');
          std::string_view pair = cookies.substr(0, semi);
          cookies = semi == std::string_view::npos ? std::string_view() : cookies.substr(semi + 1);
          while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
          const size_t eq = pair.find('=');
          if (eq != std::string_view::npos && pair.substr(0, eq) == spec.hash_on_name) {
            return upstream::hashKey(pair.substr(eq + 1)) | 1;
          }
        }
      }
      return roll | 1;
  }
  return roll | 1;
}

bool isStaleConnectionError(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::connection_reset ||
         ec == net::error::eof || ec == net::error::broken_pipe;
}

}  // namespace

Session::Session(Worker& worker, Socket socket, bool tls)
    : worker_(worker), stream_(std::move(socket)), tls_(tls) {
  boost::system::error_code ec;
  auto remote = stream_.socket().remote_endpoint(ec);
  if (!ec) {
    auto addr = remote.address();
    peer_.text = addr.to_string();
    peer_.bytes = addr.is_v4()
                      ? net::ip::make_address_v6(net::ip::v4_mapped, addr.to_v4()).to_bytes()
                      : addr.to_v6().to_bytes();
  }
  client_ = peer_;
  stream_.socket().set_option(net::ip::tcp::no_delay(true), ec);
  worker_.add(this);
  worker_.metrics().active_connections.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() {
  parser_.reset();  // its fields live in the scratch arena
  if (scratch_) worker_.returnScratch(std::move(scratch_));
  worker_.remove(this);
  worker_.metrics().active_connections.fetch_sub(1, std::memory_order_relaxed);
}

void Session::closeIfIdle() {
  if (!idle_) return;
  boost::system::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  stream_.socket().close(ec);
}

void Session::onDeadline() {
  timed_out_ = true;
  clearDeadline();
  boost::system::error_code ignored;
  // The pending operation completes with operation_aborted; the coroutine sees timed_out_.
  stream_.socket().cancel(ignored);
  if (active_upstream_) active_upstream_->cancel(ignored);
}

void Session::releaseScratch() {
  parser_.reset();
  if (scratch_) worker_.returnScratch(std::move(scratch_));
}

Task<bool> Session::handshake() {
  // The SNI table of the configuration current now; held until the handshake is over.
  auto config = worker_.config();
  stream_.startTls(worker_.tls().baseContext());
  SSL* ssl = stream_.tlsLayer().native_handle();
  tls::TlsServer::attach(ssl, config ? config->tlsHosts() : nullptr);
  setDeadline(std::chrono::duration_cast<milliseconds>(worker_.options().header_timeout));
  auto [ec] = co_await stream_.tlsLayer().async_handshake(net::ssl::stream_base::server, kNoThrow);
  clearDeadline();
  tls::TlsServer::attach(ssl, nullptr);
  if (ec) {
    worker_.metrics().tls_handshakes_failed.fetch_add(1, std::memory_order_relaxed);
    co_return false;
  }
  worker_.metrics().tls_handshakes_ok.fetch_add(1, std::memory_order_relaxed);
  client_subject_ = tls::TlsServer::verifiedClientSubject(ssl);
  co_return true;
}

Task<void> Session::run() {
  auto self = shared_from_this();  // keeps the session alive across suspensions
  const auto& opts = worker_.options();
  if (tls_ && !co_await handshake()) {
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
    co_return;
  }
  for (;;) {
    if (worker_.draining()) break;
    // Wait for the first byte of the next request with the keep-alive idle timeout, then give
    // the whole header the (shorter) header timeout: a client trickling a header byte by byte
    // (slowloris) is cut off after header_timeout, not after idle_timeout per byte.
    if (buffer_.size() == 0) {
      idle_ = true;
      setDeadline(std::chrono::duration_cast<milliseconds>(opts.idle_timeout));
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), kNoThrow);
      clearDeadline();
      idle_ = false;
      if (ec) break;  // closed, timed out while idle, or drained: nothing to answer
      buffer_.commit(n);
    }
    scratch_ = worker_.takeScratch();
    parser_.emplace(std::piecewise_construct, std::make_tuple(),
                    std::make_tuple(Alloc(&scratch_->arena)));
    parser_->header_limit(opts.max_header_bytes);
    parser_->body_limit(boost::none);  // the route's own limit is enforced while streaming
    parser_->eager(false);
    setDeadline(std::chrono::duration_cast<milliseconds>(opts.header_timeout));
    auto [ec, header_bytes] = co_await bhttp::async_read_header(stream_, buffer_, *parser_, kNoThrow);
    clearDeadline();
    if (ec) {
      if (ec == bhttp::error::end_of_stream) break;
      if (timed_out_) {
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
    releaseScratch();
    if (!keep_alive) break;
  }
  releaseScratch();
  if (tls_ && stream_.socket().is_open()) {
    // close_notify before the TCP close (RFC 8446 §6.1), so clients can tell a complete
    // response from a cut connection; a peer that does not answer gets a second, no more.
    setDeadline(milliseconds(1000));
    co_await stream_.tlsLayer().async_shutdown(kNoThrow);
    clearDeadline();
  }
  if (linger_) co_await lingeringClose();
  boost::system::error_code ignored;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  stream_.socket().close(ignored);
  worker_.accessLog().flush();
}

Task<void> Session::lingeringClose() {
  boost::system::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  // Up to 1 s and 64 KiB: enough for the client to see the response, bounded for the server.
  setDeadline(milliseconds(1000));
  size_t discarded = 0;
  while (discarded < 64 * 1024) {
    buffer_.clear();
    auto [rec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), kNoThrow);
    if (rec) break;
    discarded += n;
  }
  clearDeadline();
}

Task<void> Session::rejectUnparsable(int status, std::string_view code, std::string_view message) {
  Exchange x;
  x.request_id = http::newRequestId();
  x.config = worker_.config();
  x.method = "-";
  linger_ = true;
  co_await sendError(x, status, code, message, false);
  finish(x);
}

Task<boost::system::error_code> Session::writeFramed(tls::Stream& stream, std::string_view head,
                                                     const char* data, size_t size, bool chunked,
                                                     bool last) {
  // One gather-write per piece: head, chunk framing and data go out in a single syscall.
  std::array<net::const_buffer, 5> bufs;
  size_t n = 0;
  if (!head.empty()) bufs[n++] = net::buffer(head);
  if (chunked && size > 0) {
    chunk_line_.clear();
    http::appendChunkSize(chunk_line_, size);
    bufs[n++] = net::buffer(chunk_line_);
    bufs[n++] = net::buffer(data, size);
    bufs[n++] = net::buffer(http::kCrlf);
  } else if (size > 0) {
    bufs[n++] = net::buffer(data, size);
  }
  if (chunked && last) bufs[n++] = net::buffer(http::kLastChunk);
  if (n == 0) co_return boost::system::error_code{};
  auto [ec, written] =
      co_await net::async_write(stream, std::span<const net::const_buffer>(bufs.data(), n), kNoThrow);
  co_return ec;
}

Task<bool> Session::sendLocal(Exchange& x, int status, std::string_view content_type,
                              std::string_view body, bool keep_alive,
                              std::string_view extra_headers) {
  if (worker_.draining()) keep_alive = false;
  // 1xx, 204 and 304 carry no body and no Content-Length (RFC 9110 §8.6).
  const bool no_body = status < 200 || status == 204 || status == 304;
  x.status = status;
  x.bytes_out = (x.head || no_body) ? 0 : body.size();
  head_.clear();
  head_ += "HTTP/1.1 ";
  head_ += std::to_string(status);
  head_ += ' ';
  head_ += reasonPhrase(static_cast<unsigned>(status));
  head_ += "\r\nServer: atrium\r\nDate: ";
  head_ += http::httpDate();
  if (!content_type.empty()) {
    head_ += "\r\nContent-Type: ";
    head_ += content_type;
  }
  head_ += "\r\nX-Request-Id: ";
  head_ += x.request_id;
  if (x.limit.limit >= 0) appendRateLimitHeaders(head_, x.limit);
  if (!x.cache_result.empty()) {
    head_ += "\r\nX-Cache: ";
    head_ += x.cache_result;
  }
  for (const auto& [name, value] : x.cors) {
    head_ += "\r\n";
    head_ += name;
    head_ += ": ";
    head_ += value;
  }
  if (!extra_headers.empty()) {
    head_ += "\r\n";
    head_.append(extra_headers.data(), extra_headers.size() - 2);  // without its last CRLF
  }
  if (!no_body) {
    head_ += "\r\nContent-Length: ";
    head_ += std::to_string(body.size());
  }
  if (!keep_alive) {
    head_ += "\r\nConnection: close";
  } else if (x.client_version < 11) {
    head_ += "\r\nConnection: keep-alive";  // HTTP/1.0 defaults to close: say it stays open
  }
  head_ += "\r\n\r\n";
  meter(x);
  setDeadline(std::chrono::duration_cast<milliseconds>(worker_.options().idle_timeout));
  const bool with_body = !x.head && !no_body;
  auto ec = co_await writeFramed(stream_, head_, with_body ? body.data() : nullptr,
                                 with_body ? body.size() : 0, false, false);
  clearDeadline();
  co_return !ec && keep_alive;
}

Task<bool> Session::sendError(Exchange& x, int status, std::string_view code,
                              std::string_view message, bool keep_alive) {
  if (!keep_alive) linger_ = true;
  const std::string body = http::errorBody(status, code, message, x.request_id);
  co_return co_await sendLocal(x, status, "application/json", body, keep_alive);
}

void Session::addGatewayHeaders(http::PmrFields& fields, const Exchange& x,
                                const config::Route& spec) const {
  if (x.limit.limit >= 0) {
    fields.set("RateLimit-Limit", std::to_string(x.limit.limit));
    fields.set("RateLimit-Remaining", std::to_string(x.limit.remaining));
    fields.set("RateLimit-Reset", std::to_string(x.limit.reset_s));
  }
  if (tls_ && !spec.hsts.empty()) fields.set("Strict-Transport-Security", spec.hsts);
  if (!spec.cors) return;
  // The route's CORS policy is the only one: a second Access-Control-Allow-Origin from the
  // upstream would make browsers refuse the response.
  for (auto it = fields.begin(); it != fields.end();) {
    const auto name = it->name_string();
    if (name.size() > 15 && beast::iequals(name.substr(0, 15), "Access-Control-")) {
      it = fields.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [name, value] : x.cors) {
    if (name != "Vary") {
      fields.set(name, value);
      continue;
    }
    // Origin joins the upstream's Vary (unless that is "*", which already covers it).
    auto vary = fields.find(bhttp::field::vary);
    if (vary == fields.end()) {
      fields.set(bhttp::field::vary, value);
    } else if (vary->value() != "*") {
      std::string merged(vary->value());
      merged += ", ";
      merged += value;
      fields.set(bhttp::field::vary, merged);
    }
  }
}

Task<bool> Session::answerPreflight(Exchange& x, const config::Route& spec, bool keep_alive,
                                    bool& kept) {
  const auto& req = parser_->get();
  auto header = [&req](std::string_view name) -> std::optional<std::string_view> {
    auto it = req.find(name);
    if (it == req.end()) return std::nullopt;
    return std::string_view(it->value().data(), it->value().size());
  };
  const auto origin = header("Origin");
  auto pre = filters::preflight(*spec.cors, x.method, origin, header("Access-Control-Request-Method"),
                                header("Access-Control-Request-Headers"));
  if (!pre.is_preflight) {
    x.cors = filters::actualResponseHeaders(*spec.cors, origin);
    co_return false;
  }
  // Answered here, before authentication: browsers send preflights without credentials.
  x.cors = std::move(pre.headers);
  if (!keep_alive) linger_ = true;
  if (pre.allowed) {
    kept = co_await sendLocal(x, 204, "", "", keep_alive);
  } else {
    kept = co_await sendError(x, 403, "forbidden", "CORS preflight refused for this origin, method or headers",
                              keep_alive);
  }
  co_return true;
}

void Session::finish(Exchange& x) {
  const double ms = msSince(x.start);
  const auto& metrics =
      x.route ? x.route->metrics : (x.config ? x.config->unmatchedMetrics() : nullptr);
  if (metrics) metrics->recordRequest(x.method, x.status, ms / 1000.0);
  auto& log = worker_.accessLog();
  if (log.enabled()) {
    observability::AccessLogEntry e;
    e.time = std::chrono::system_clock::now();
    e.request_id = x.request_id;
    e.client_ip = client_.text;
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
    if (x.consumer) e.consumer = x.consumer->name;
    e.cache = x.cache_result;
    log.append(e);
  }
  if (x.consumer && x.route) {
    worker_.metrics().countConsumerRequest(x.consumer->name, x.route->route->name, x.status);
  }
  meter(x);
}

void Session::meter(Exchange& x) {
  if (x.metered || !x.consumer || !x.route) return;
  x.metered = true;
  worker_.limiter().recordUsage(*x.consumer, x.route->route->name,
                                metering::usageOf(x.status, x.bytes_in, x.bytes_out,
                                                  x.limit_rejected));
}

void Session::resolveClientAddress() {
  const auto& trusted = worker_.trustedProxies();
  client_ = peer_;  // per request: a keep-alive connection may carry different forwarders
  if (trusted.empty()) return;
  const auto& req = parser_->get();
  auto [first, last] = req.equal_range("X-Forwarded-For");
  std::vector<std::string_view> lines;
  for (auto it = first; it != last; ++it) lines.emplace_back(it->value().data(), it->value().size());
  client_ = trusted.clientOf(peer_, lines);
}

Task<bool> Session::applyLimits(Exchange& x, const RouteRuntime& route, bool keep_alive,
                                bool& kept) {
  ratelimit::LimitInputs in;
  in.route = route.rate_limit.get();
  in.consumer = x.consumer;
  if (!ratelimit::RateLimiter::applies(in)) co_return true;
  in.client_ip = client_.text;
  FieldsHeaderSource headers(parser_->get());
  in.headers = &headers;
  auto& limiter = worker_.limiter();
  // (An if, not a conditional expression: GCC 12 miscompiles co_await inside ?:.)
  if (limiter.needsRedis(in)) {
    x.limit = co_await limiter.check(in);
  } else {
    x.limit = limiter.decideLocally(in);
  }
  if (x.limit.verdict == ratelimit::LimitDecision::Verdict::kAllow) co_return true;
  const bool quota = x.limit.verdict == ratelimit::LimitDecision::Verdict::kQuotaExceeded;
  route.metrics->recordLimitRejection(quota ? observability::LimitRejection::kQuotaExceeded
                                            : observability::LimitRejection::kRateLimited);
  x.limit_rejected = true;
  if (!keep_alive) linger_ = true;
  const std::string body =
      http::errorBody(429, quota ? "quota_exceeded" : "rate_limited",
                      quota ? "the consumer's quota for this period is used up"
                            : "too many requests; retry after the time in Retry-After",
                      x.request_id);
  kept = co_await sendLocal(x, 429, "application/json", body, keep_alive,
                            "Retry-After: " + std::to_string(x.limit.retry_after_s) + "\r\n");
  co_return false;
}
Task<bool> Session::handleRequest() {
  Exchange x;
  x.config = worker_.config();
  auto& req = parser_->get();
  x.method = std::string(req.method_string());
  x.head = req.method() == bhttp::verb::head;
  x.client_version = req.version();
  x.original_path = std::string(req.target());
  auto host_it = req.find(bhttp::field::host);
  if (host_it != req.end()) x.host = std::string(host_it->value());
  resolveClientAddress();
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

  if ((!route.ip_deny.empty() && route.ip_deny.contains(client_.bytes)) ||
      (!route.ip_allow.empty() && !route.ip_allow.contains(client_.bytes))) {
    bool kept = co_await sendError(x, 403, "forbidden", "client address not allowed",
                                   can_keep_without_body);
    finish(x);
    co_return kept;
  }
  if (!tls_ && spec.https_redirect) {
    // 308 keeps the method and body (ingress-nginx also uses 308); the https port is 443.
    std::string location = "https://" + http::hostWithoutPort(x.host) + target_.path;
    if (!target_.query.empty()) {
      location += '?';
      location += target_.query;
    }
    bool kept = co_await sendLocal(x, 308, "", "", can_keep_without_body,
                                   "Location: " + location + "\r\n");
    finish(x);
    co_return kept;
  }
  if (spec.cors) {
    bool kept = false;
    if (co_await answerPreflight(x, spec, can_keep_without_body, kept)) {
      finish(x);
      co_return kept;
    }
  }
  if (spec.client_cert_required && client_subject_.empty()) {
    // Also covers a TLS connection whose SNI named another host than this request's Host.
    bool kept = co_await sendError(x, 403, "client_certificate_required",
                                   "a verified client certificate is required",
                                   can_keep_without_body);
    finish(x);
    co_return kept;
  }
  if (spec.auth && !spec.auth->api_key_query_param.empty() && !target_.query.empty()) {
    // The access log never shows an API key sent in the query.
    x.original_path = target_.path;
    const std::string query =
        filters::withoutQueryParam(target_.query, spec.auth->api_key_query_param);
    if (!query.empty()) x.original_path += "?" + query;
  }
  if (spec.auth) {
    const auto result = filters::authenticate(
        *spec.auth, x.config->consumers(),
        [&req](std::string_view name) -> std::optional<std::string_view> {
          auto it = req.find(name);
          if (it == req.end()) return std::nullopt;
          return std::string_view(it->value().data(), it->value().size());
        },
        target_.query, worker_.passwords(), route.jwt.get(),
        std::chrono::duration_cast<std::chrono::seconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count(),
        &worker_.jwtVerdicts());
    if (result.outcome != filters::AuthOutcome::kOk) {
      bool kept = false;
      if (result.outcome == filters::AuthOutcome::kForbidden) {
        route.metrics->recordAuthFailure(observability::AuthFailureReason::kForbidden);
        kept = co_await sendError(x, 403, "forbidden", "this consumer may not use this route",
                                  can_keep_without_body);
      } else {
        route.metrics->recordAuthFailure(result.outcome == filters::AuthOutcome::kMissing
                                             ? observability::AuthFailureReason::kMissing
                                             : observability::AuthFailureReason::kInvalid);
        // One WWW-Authenticate line per method (the values come from validated configuration).
        std::string lines;
        for (const auto& challenge : filters::challenges(*spec.auth, result.bad_token)) {
          lines += "WWW-Authenticate: ";
          lines += challenge;
          lines += "\r\n";
        }
        if (!can_keep_without_body) linger_ = true;
        const std::string body = http::errorBody(401, "unauthorized",
                                                 "missing or invalid credentials", x.request_id);
        kept = co_await sendLocal(x, 401, "application/json", body, can_keep_without_body, lines);
      }
      finish(x);
      co_return kept;
    }
    x.consumer = result.consumer;
    x.jwt_claims = std::move(result.jwt_claims);
  }
  {
    bool kept = false;
    if (!co_await applyLimits(x, route, can_keep_without_body, kept)) {
      finish(x);
      co_return kept;
    }
  }
  if (parser_->content_length() && *parser_->content_length() > spec.max_request_body_bytes) {
    co_await sendError(x, 413, "payload_too_large", "request body exceeds the limit", false);
    finish(x);
    co_return false;
  }
  if (spec.redirect) {
    std::string location = http::redirectLocation(*spec.redirect, *hit.match, target_, x.host,
                                                  tls_ ? "https" : "http",
                                                  tls_ ? worker_.tlsPort() : worker_.port());
    bool kept = co_await sendLocal(x, spec.redirect->status_code, "", "", can_keep_without_body,
                                   "Location: " + location + "\r\n");
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
  if (!spec.cache && !spec.aggregate &&
      http::isWebSocketUpgrade(x.method, req.version(), static_cast<const http::PmrFields&>(req))) {
    // The connection is the WebSocket's from here on; it closes when the WebSocket does.
    const bool kept = co_await proxyUpgrade(x, route);
    finish(x);
    co_return kept;
  }
  std::optional<UpstreamFailure> failure;
  bool kept = false;
  if (spec.cache) {
    kept = co_await serveCached(x, route, failure);
  } else {
    kept = co_await fetchUpstream(x, route, failure, nullptr);
  }
  if (failure) kept = co_await answerFailure(x, route, *failure);
  finish(x);
  co_return kept;
}

Task<std::unique_ptr<upstream::UpstreamConnection>> Session::connect(
    const upstream::Cluster& cluster, const upstream::EndpointTarget& target,
    milliseconds timeout, boost::system::error_code& ec) {
  // One deadline for the TCP connect and the TLS handshake together.
  setDeadline(timeout);
  auto conn = co_await openUpstreamConnection(stream_.get_executor(), cluster, target,
                                              worker_.selfPorts(), active_upstream_, ec);
  active_upstream_ = nullptr;
  clearDeadline();
  if (timed_out_ && ec) ec = net::error::timed_out;
  co_return conn;
}

Task<bool> Session::answerFailure(Exchange& x, const RouteRuntime& route,
                                  const UpstreamFailure& f) {
  const config::Route& spec = *route.route;
  if (f.fallback && spec.fallback) {
    // The route's own answer for "nothing can serve" (SPEC §3.2 fallback).
    x.fallback = true;
    if (!f.keep) linger_ = true;
    co_return co_await sendLocal(x, spec.fallback->status, spec.fallback->content_type,
                                 spec.fallback->body, f.keep);
  }
  co_return co_await sendError(x, f.status, f.code, f.message, f.keep);
}

void Session::prepareUpstreamFields(Exchange& x, const config::Route& spec) {
  auto& req = parser_->get();
  http::PmrFields& fields = req;
  // X-Forwarded-For gets the peer appended: the chain stays verifiable hop by hop.
  http::prepareUpstreamRequest(fields, x.host, peer_.text,
                               tls_ ? worker_.tlsPort() : worker_.port(), x.request_id,
                               tls_ ? "https" : "http");
  // Only the handshake may assert a client certificate identity.
  fields.erase("X-Client-Cert-Subject");
  if (!client_subject_.empty()) fields.set("X-Client-Cert-Subject", client_subject_);
  if (spec.auth && spec.auth->jwt) {
    // Claim headers come from the verified token only: a client's copy is always dropped.
    for (const auto& [claim, header] : spec.auth->jwt_settings.claims_to_headers) {
      fields.erase(header);
      auto it = x.jwt_claims.is_object() ? x.jwt_claims.find(claim) : x.jwt_claims.end();
      if (it == x.jwt_claims.end() || it->is_null() || it->is_object() || it->is_array()) continue;
      std::string value = it->is_string() ? it->get<std::string>() : it->dump();
      if (http::isSafeHeaderValue(value)) fields.set(header, value);
    }
    if (spec.auth->strip_credentials) fields.erase(bhttp::field::authorization);
  }
  if (x.consumer) {
    // prepareUpstreamRequest removed every client-sent X-Consumer-*: only these remain.
    fields.set("X-Consumer-Name", x.consumer->name);
    if (!x.consumer->groups.empty()) {
      std::string groups;
      for (const auto& g : x.consumer->groups) {
        if (!groups.empty()) groups.push_back(',');
        groups += g;
      }
      fields.set("X-Consumer-Groups", groups);
    }
    if (spec.auth->strip_credentials) {
      if (spec.auth->api_key) fields.erase(spec.auth->api_key_header);
      fields.erase(bhttp::field::authorization);
    }
  }
  if (!spec.rewrite.hostname.empty()) req.set(bhttp::field::host, spec.rewrite.hostname);
  http::applyHeaderModifier(fields, spec.request_headers);
}

Task<bool> Session::fetchUpstream(Exchange& x, const RouteRuntime& route,
                                  std::optional<UpstreamFailure>& failure,
                                  ResponseCapture* capture) {
  if (route.route->aggregate) co_return co_await serveAggregate(x, route, failure, capture);
  co_return co_await forward(x, route, failure, capture);
}

uint64_t Session::nextRoll() {
  // xorshift64: cheap per-thread randomness for weights, balancers and backoff jitter.
  thread_local uint64_t state = 0x2545F4914F6CDD1Dull ^ reinterpret_cast<uintptr_t>(&state);
  state ^= state << 13, state ^= state >> 7, state ^= state << 17;
  return state;
}

uint64_t Session::affinityOf(const config::Route& spec, uint64_t roll) const {
  if (spec.load_balancer != config::LoadBalancer::ConsistentHash) return 0;
  return hashAffinityOf(spec, client_.text, parser_->get(), roll);
}

int Session::pickEndpoint(const RouteRuntime& route, size_t b, int previous, uint64_t affinity,
                          uint64_t roll) const {
  const upstream::LoadBalancer& balancer = *route.balancers[b];
  const upstream::Cluster& cluster = *route.backends[b];
  ClusterHealth* health = b < route.health.size() ? route.health[b].get() : nullptr;
  const auto now = Clock::now();
  auto usable_elsewhere = [&](size_t i) {
    return (!health || health->set.usable(i, now)) && static_cast<int>(i) != previous;
  };
  auto usable = [&](size_t i) { return !health || health->set.usable(i, now); };
  upstream::PickContext pick;
  pick.hash = affinity ? affinity : roll;
  pick.roll = roll;
  pick.worker = worker_.index();
  pick.usable = usable_elsewhere;
  int index = -1;
  if (previous >= 0 && cluster.size() > 1) index = balancer.pick(pick);
  if (index < 0) {
    pick.usable = usable;
    index = balancer.pick(pick);
  }
  return index;
}

std::string Session::rewriteForUpstream(Exchange& x, const RouteRuntime& route) {
  const config::Route& spec = *route.route;
  std::string target = http::rewritePath(spec, route.rewrite_regex.get(), *x.match, target_.path);
  if (spec.auth && !spec.auth->api_key_query_param.empty()) {
    // The API key never travels upstream in the query.
    const std::string query = filters::withoutQueryParam(target_.query, spec.auth->api_key_query_param);
    if (!query.empty()) {
      target.push_back('?');
      target.append(query);
    }
  } else if (!target_.query.empty()) {
    target.push_back('?');
    target.append(target_.query);
  }
  prepareUpstreamFields(x, spec);
  return target;
}

Task<bool> Session::forward(Exchange& x, const RouteRuntime& route,
                            std::optional<UpstreamFailure>& failure, ResponseCapture* capture) {
  const config::Route& spec = *route.route;
  auto& req = parser_->get();
  const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;
  const bool request_chunked = parser_->chunked();
  bool client_keep = req.keep_alive() && !worker_.draining();

  // --- Pick the backend (weighted), then the endpoint (round robin).
  uint64_t roll_state = nextRoll();
  const int b = route.pickBackend(roll_state);
  if (b < 0 || route.backends[b] == nullptr) {
    // A configuration error, not an outage: the fallback does not hide it.
    failure = UpstreamFailure{500, "backend_not_resolved",
                              "the route's backend could not be resolved", client_keep && !has_body,
                              false};
    co_return false;
  }
  const upstream::Cluster& cluster = *route.backends[b];
  if (cluster.empty()) {
    failure = UpstreamFailure{503, "no_healthy_upstream", "no ready endpoint for the backend",
                              client_keep && !has_body, true};
    co_return false;
  }

  // --- Rewrite the request into what the upstream gets; its head is written once, here.
  const std::string target = rewriteForUpstream(x, route);
  http::PmrFields& fields = req;
  // "Expect: 100-continue" is answered here (as nginx does), so the upstream never waits on it.
  const bool expect_continue = http::takeExpectContinue(fields);
  // Hop-by-hop headers are gone: without a Connection header HTTP/1.1 means keep-alive.
  head_.clear();
  http::appendRequestHead(head_, req.method_string(), target, req);

  const auto timeouts = spec.timeouts;
  const milliseconds request_timeout(timeouts.request_ms);
  const milliseconds idle_timeout(timeouts.idle_ms);
  const uint64_t body_limit = spec.max_request_body_bytes;
  char* const body_buf = scratch_->body.data();
  const size_t body_cap = scratch_->body.size();

  std::unique_ptr<upstream::UpstreamConnection> conn;
  std::optional<ResponseParser> rp;
  bool body_sent = false;  // once any body byte went out, the request cannot be retried
  // Connect failures and pooled connections the upstream had closed are retried on their own
  // (nothing reached the upstream); the route's retries policy adds tries on top of that.
  const size_t max_attempts = std::min<size_t>(3, cluster.size() + 1);
  const config::RetryPolicy* retry = spec.retries ? &*spec.retries : nullptr;
  upstream::CircuitBreaker* breaker =
      static_cast<size_t>(b) < route.breakers.size() ? route.breakers[b].get() : nullptr;
  upstream::Backoff backoff(milliseconds(retry ? retry->backoff_ms : 0), roll_state);
  const upstream::LoadBalancer* balancer =
      static_cast<size_t>(b) < route.balancers.size() ? route.balancers[b].get() : nullptr;
  ClusterHealth* health =
      static_cast<size_t>(b) < route.health.size() ? route.health[b].get() : nullptr;
  const uint64_t affinity = affinityOf(spec, roll_state);
  int previous = -1;  // the endpoint of the failed try: a retry prefers another one
  uint32_t tries = 0;  // tries that reached the policy's judgement (for shouldRetry)
  if (route.retry_budget) route.retry_budget->onRequest(Clock::now());
  // Each try gets the per-try timeout when the route sets one, within the request timeout.
  const milliseconds try_timeout =
      retry && retry->per_try_timeout_ms
          ? std::min(request_timeout, milliseconds(retry->per_try_timeout_ms))
          : request_timeout;
  const auto upstream_start = Clock::now();
  size_t attempt = 0;
  for (;; ++attempt) {
    std::optional<upstream::AttemptOutcome> failed;  // how this try failed, if it did
    std::optional<UpstreamFailure> answer;           // what the client gets if it is the last
    std::optional<upstream::CircuitBreaker::Admission> admission;
    if (breaker) {
      admission.emplace(breaker->admit(Clock::now()));
      if (!admission->allowed()) {
        route.metrics->recordCircuitRejection();
        failure = UpstreamFailure{503, "circuit_open",
                                  "the circuit breaker of this backend is open",
                                  client_keep && !has_body && !body_sent, true};
        if (body_sent) linger_ = true;
        co_return false;
      }
    }
    // --- The endpoint: the route's balancer over the endpoints that are healthy (active checks)
    // and not ejected (passive outlier detection).
    int index = -1;
    std::optional<upstream::LoadBalancer::ActiveRequest> in_flight;
    if (balancer) {
      roll_state = nextRoll();
      index = pickEndpoint(route, static_cast<size_t>(b), previous, affinity, roll_state);
      if (index < 0) {
        failure = UpstreamFailure{503, "no_healthy_upstream",
                                  "no healthy endpoint for the backend",
                                  client_keep && !has_body && !body_sent, true};
        if (body_sent) linger_ = true;
        co_return false;
      }
      in_flight.emplace(balancer->startRequest(static_cast<size_t>(index)));
    }
    previous = index;
    const upstream::EndpointTarget& endpoint =
        index >= 0 ? cluster.at(static_cast<size_t>(index)) : cluster.pick();
    // Every try's outcome feeds the circuit breaker and the endpoint's outlier detection.
    auto report = [&](const upstream::AttemptOutcome& outcome) {
      const auto now = Clock::now();
      if (admission) admission->record(!outcome.gatewayFailure(), now);
      if (health && index >= 0 && health->outliers.onOutcome(static_cast<size_t>(index), outcome, now)) {
        health->ejections.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("outlier detection: endpoint {} of {} ejected after consecutive failures",
                     endpoint.key, cluster.name());
      }
    };
    x.upstream = endpoint.key;
    bool reused = false;
    boost::system::error_code ec;
    conn = worker_.pool().take(endpoint.pool_key);
    if (conn) {
      reused = true;
    } else {
      // circuitBreaker.maxPendingRequests bounds the tries waiting for a new connection.
      std::optional<upstream::CircuitBreaker::PendingTicket> pending;
      if (breaker) {
        pending.emplace(breaker->queueForConnection());
        if (!pending->allowed()) {
          route.metrics->recordCircuitRejection();
          failure = UpstreamFailure{503, "circuit_open",
                                    "too many requests are waiting for a connection to this backend",
                                    client_keep && !has_body && !body_sent, true};
          if (body_sent) linger_ = true;
          co_return false;
        }
      }
      conn = co_await connect(cluster, endpoint, milliseconds(timeouts.connect_ms), ec);
      if (!conn) {
        const bool timeout = ec == net::error::timed_out;
        route.metrics->recordUpstreamError(timeout ? observability::UpstreamErrorReason::kTimeout
                                                   : observability::UpstreamErrorReason::kConnectFailure);
        report(upstream::AttemptOutcome::connectFailure());
        if (attempt + 1 < max_attempts) continue;  // nothing was sent: another endpoint may do
        failed = upstream::AttemptOutcome::connectFailure();
        answer = UpstreamFailure{timeout ? 504 : 502, timeout ? "upstream_timeout" : "bad_gateway",
                                 "could not connect to the upstream", client_keep && !has_body,
                                 true};
      }
    }

    // --- Send the request: the head (with the first piece of body, if any), then stream.
    if (!failed && !has_body) {
      setDeadline(try_timeout);
      active_upstream_ = &conn->stream.socket();
      ec = co_await writeFramed(conn->stream, head_, nullptr, 0, false, false);
      active_upstream_ = nullptr;
      clearDeadline();
    } else if (!failed) {
      if (expect_continue && !body_sent) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        setDeadline(idle_timeout);
        auto [cec, n] = co_await net::async_write(stream_, net::buffer(kContinue), kNoThrow);
        clearDeadline();
        if (cec) co_return false;
      }
      uint64_t received = 0;
      bool first = true;
      for (;;) {
        req.body().data = body_buf;
        req.body().size = body_cap;
        if (!parser_->is_done()) {
          setDeadline(idle_timeout);
          auto [rec, n] = co_await bhttp::async_read(stream_, buffer_, *parser_, kNoThrow);
          clearDeadline();
          if (rec == bhttp::error::need_buffer) rec = {};
          if (rec) co_return false;  // the client vanished or sent a bad body: nothing to answer
        }
        const size_t n = body_cap - req.body().size;
        received += n;
        x.bytes_in = received;
        if (received > body_limit) {
          co_await sendError(x, 413, "payload_too_large", "request body exceeds the limit", false);
          co_return false;  // the upstream connection is dropped with the half-sent request
        }
        const bool last = parser_->is_done();
        body_sent = true;
        setDeadline(try_timeout);
        active_upstream_ = &conn->stream.socket();
        ec = co_await writeFramed(conn->stream, first ? std::string_view(head_) : std::string_view(),
                                  body_buf, n, request_chunked, last);
        active_upstream_ = nullptr;
        clearDeadline();
        first = false;
        if (ec || last) break;
      }
    }
    if (!failed && ec) {
      route.metrics->recordUpstreamError(classify(ec, timed_out_));
      // A pooled connection the upstream had already closed: retry on a fresh one, but only if
      // no body byte was sent (the request may not be replayable otherwise).
      if (reused && !body_sent && !timed_out_ && attempt + 1 < max_attempts + 1) continue;
      const bool timeout = timed_out_;
      failed = timeout ? upstream::AttemptOutcome::timeout() : upstream::AttemptOutcome::reset();
      report(*failed);
      if (body_sent) linger_ = true;
      answer = UpstreamFailure{timeout ? 504 : 502, timeout ? "upstream_timeout" : "bad_gateway",
                               "error sending the request upstream",
                               client_keep && parser_->is_done() && !body_sent, true};
    }

    // --- Read the response header (skipping interim 1xx responses).
    if (!failed) {
      setDeadline(try_timeout);
      active_upstream_ = &conn->stream.socket();
      do {
        rp.emplace(std::piecewise_construct, std::make_tuple(),
                   std::make_tuple(Alloc(&scratch_->arena)));
        rp->header_limit(worker_.options().max_header_bytes);
        rp->body_limit(boost::none);
        if (x.head) rp->skip(true);
        std::tie(ec, std::ignore) =
            co_await bhttp::async_read_header(conn->stream, conn->buffer, *rp, kNoThrow);
      } while (!ec && rp->get().result_int() / 100 == 1);
      active_upstream_ = nullptr;
      clearDeadline();
      if (ec) {
        const bool timeout = timed_out_;
        route.metrics->recordUpstreamError(classify(ec, timeout));
        const bool stale = reused && !body_sent && !timeout && conn->buffer.size() == 0 &&
                           isStaleConnectionError(ec);
        if (stale && attempt + 1 < max_attempts + 1) continue;
        const bool keep = client_keep && parser_->is_done();
        if (!keep) linger_ = true;
        failed = timeout ? upstream::AttemptOutcome::timeout() : upstream::AttemptOutcome::reset();
        report(*failed);
        answer = UpstreamFailure{timeout ? 504 : 502, timeout ? "upstream_timeout" : "bad_gateway",
                                 timeout ? "the upstream did not answer in time"
                                         : "invalid response from the upstream",
                                 keep, true};
      } else {
        const int status = rp->get().result_int();
        const auto outcome = upstream::AttemptOutcome::response(status);
        report(outcome);
        // A 502/503/504 the route retries on: this response is dropped (with its connection,
        // which still holds its body) and the request goes again, if the policy allows.
        if (retry && outcome.gatewayFailure() && upstream::retryOnMatches(*retry, outcome)) {
          failed = outcome;
        }
      }
    }
    if (!failed) break;

    // --- A failed try: again (the route's retries policy, the retry budget), or the answer.
    ++tries;
    bool again = false;
    if (retry) {
      const auto body = body_sent ? upstream::BodyState::Streamed : upstream::BodyState::None;
      again = upstream::shouldRetry(*retry, *failed, x.method, body, tries) &&
              Clock::now() - upstream_start < request_timeout;
      if (again && route.retry_budget && !route.retry_budget->tryRetry(Clock::now())) {
        route.metrics->recordRetry(observability::RetryEvent::kBudgetExhausted);
        again = false;
      }
    }
    if (!again) {
      if (answer) {
        failure = *answer;
        co_return false;
      }
      break;  // a retryable status with no retry left: the client gets that response
    }
    route.metrics->recordRetry(observability::RetryEvent::kRetried);
    conn.reset();
    rp.reset();
    timed_out_ = false;
    // Full-jitter backoff, so retries of many clients do not arrive together.
    const auto wait = backoff.next();
    if (wait.count() > 0) {
      net::basic_waitable_timer<Clock, net::wait_traits<Clock>, Executor> timer(stream_.get_executor());
      timer.expires_after(wait);
      co_await timer.async_wait(kNoThrow);
    }
  }
  x.upstream_ms = msSince(upstream_start);
  x.upstream_status = rp->get().result_int();
  if (capture && capture->stale_available &&
      (x.upstream_status == 500 || (x.upstream_status >= 502 && x.upstream_status <= 504))) {
    conn.reset();  // its body is not read: the connection cannot be reused
    const bool keep = client_keep && parser_->is_done();
    if (!keep) linger_ = true;
    failure = UpstreamFailure{502, "bad_gateway", "the upstream answered with an error", keep, true};
    co_return false;
  }
  // The request is complete on the client side only when its whole body was read.
  client_keep = client_keep && parser_->is_done();
  co_return co_await relayResponse(x, *rp, conn, route, client_keep, capture);
}

void Session::decorateResponse(Exchange& x, const config::Route& spec, http::PmrFields& fields) {
  http::applyHeaderModifier(fields, spec.response_headers);
  if (!x.cache_result.empty()) fields.set("X-Cache", x.cache_result);
  addGatewayHeaders(fields, x, spec);
}

Task<bool> Session::relayResponse(Exchange& x, ResponseParser& rp,
                                  std::unique_ptr<upstream::UpstreamConnection>& conn,
                                  const RouteRuntime& route, bool client_keep,
                                  ResponseCapture* capture) {
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
  http::PmrFields& fields = res;
  http::prepareDownstreamResponse(fields, x.request_id);
  if (capture) {
    // The response as the upstream sent it (hop-by-hop fields are gone now), minus one
    // message's framing and this request's id; the cache adds its own when serving it.
    capture->status = status;
    capture->reason = std::string(res.reason());
    capture->headers.clear();
    for (const auto& f : fields) {
      const auto name = f.name_string();
      if (beast::iequals(name, "Content-Length") || beast::iequals(name, "Transfer-Encoding") ||
          beast::iequals(name, "X-Request-Id")) {
        continue;
      }
      capture->headers.emplace_back(std::string(name), std::string(f.value()));
    }
    capture->active = !(rp.content_length() && *rp.content_length() > capture->max_body);
    capture->body.clear();
  }
  decorateResponse(x, spec, fields);
  if (!client_keep) {
    res.set(bhttp::field::connection, "close");
  } else if (client_http10) {
    // HTTP/1.0 defaults to close: a 1.0 client that asked for keep-alive must be told it got it.
    res.set(bhttp::field::connection, "keep-alive");
  }
  const bool out_chunked = !bodyless && res.chunked();
  x.status = status;
  head_.clear();
  const auto reason = res.reason();
  http::appendResponseHead(head_, static_cast<unsigned>(status),
                           reason.empty() ? reasonPhrase(static_cast<unsigned>(status))
                                          : std::string_view(reason.data(), reason.size()),
                           res);

  const milliseconds idle_timeout(spec.timeouts.idle_ms);
  char* const body_buf = scratch_->body.data();
  const size_t body_cap = scratch_->body.size();
  // Relay: read a piece of the body from the upstream, write it (with the head, the first
  // time) to the client, until the upstream's message is complete.
  for (bool first = true;; first = false) {
    res.body().data = body_buf;
    res.body().size = body_cap;
    bool upstream_failed = false;
    if (!rp.is_done()) {
      setDeadline(idle_timeout);
      active_upstream_ = &conn->stream.socket();
      auto [rec, n] = co_await bhttp::async_read(conn->stream, conn->buffer, rp, kNoThrow);
      active_upstream_ = nullptr;
      clearDeadline();
      if (rec == bhttp::error::need_buffer) rec = {};
      if (rec) {
        route.metrics->recordUpstreamError(classify(rec, timed_out_));
        upstream_failed = true;
      }
    }
    if (upstream_failed) {
      conn.reset();
      if (first) {
        // Nothing reached the client yet: it still gets a proper error.
        co_await sendError(x, 502, "bad_gateway", "the upstream response was cut short", false);
      }
      // Mid-body: the client must see a truncated message, never a well-formed short one.
      co_return false;
    }
    const size_t n = body_cap - res.body().size;
    const bool last = rp.is_done();
    x.bytes_out += n;
    if (last) meter(x);
    if (capture && capture->active) {
      if (capture->body.size() + n > capture->max_body) {
        capture->active = false;  // too large to keep: relaying goes on
        std::string().swap(capture->body);
      } else {
        capture->body.append(body_buf, n);
      }
    }
    setDeadline(idle_timeout);
    auto ec = co_await writeFramed(stream_, first ? std::string_view(head_) : std::string_view(),
                                   body_buf, n, out_chunked, last);
    clearDeadline();
    if (ec) {
      conn.reset();  // the client went away; the upstream connection has unread bytes
      co_return false;
    }
    if (last) break;
  }
  if (capture) capture->complete = capture->active && rp.is_done();
  if (upstream_keep && rp.is_done() && !worker_.draining()) {
    worker_.pool().give(std::move(conn));
  } else {
    conn.reset();
  }
  co_return client_keep;
}

}  // namespace atrium::proxy::server
