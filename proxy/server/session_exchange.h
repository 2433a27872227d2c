#pragma once
// The state of one request, and the names the session's files share (session.cc and its
// session_*.cc parts include it; nothing else does).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "proxy/filters/cors.h"
#include "proxy/ratelimit/rate_limiter.h"
#include "proxy/server/proxy_config.h"
#include "proxy/server/session.h"

namespace atrium::proxy::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using std::chrono::milliseconds;

// Socket operations report errors as values: a session never throws on the hot path.
inline constexpr auto kNoThrow = net::as_tuple(net::use_awaitable_t<Executor>{});

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
  const config::Consumer* consumer = nullptr;  // the authenticated consumer, if any
  nlohmann::json jwt_claims;                   // the verified token's claims (JWT auth)
  ratelimit::LimitDecision limit;              // limit >= 0: RateLimit-* headers are sent
  bool limit_rejected = false;                 // answered 429 by a limit or quota
  uint64_t bytes_in = 0;                       // request body bytes received
  bool fallback = false;                       // answered with the route's fallback
  std::string_view cache_result;               // X-Cache: HIT, MISS, STALE, BYPASS (cached routes)
  bool metered = false;                        // usage recorded (Session::meter)
  filters::CorsHeaders cors;                   // policy.cors headers for the response
};

}  // namespace atrium::proxy::server
