#include "proxy/admin/admin_server.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "proxy/admin/admin_access.h"
#include "proxy/cache/response_cache.h"
#include "proxy/http/error_reply.h"
#include "proxy/http/query_pairs.h"
#include "proxy/metering/calendar.h"
#include "proxy/metering/redis_usage_reader.h"
#include "proxy/metering/usage_report.h"
#include "proxy/ratelimit/rate_limiter.h"
#include "proxy/redis/redis_client.h"
#include "proxy/http/header_rules.h"
#include "proxy/http/request_id.h"
#include "proxy/observability/metrics.h"
#include "proxy/proxy_engine.h"
#include "src/config/snapshot_json.h"

namespace atrium::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {
constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
}

struct AdminServer::Impl {
  AdminOptions options;
  ProxyEngine& engine;
  AdminServer& owner;
  net::io_context io{1};
  net::ip::tcp::acceptor acceptor{io};
  std::thread thread;

  Impl(AdminOptions o, ProxyEngine& e, AdminServer& s) : options(std::move(o)), engine(e), owner(s) {}

  // Reads usage back from Redis for /usage (with --redis); lives on this thread's io.
  std::unique_ptr<redis::RedisClient> redis;

  bool authorized(const bhttp::request<bhttp::string_body>& req, const net::ip::address& peer) const {
    std::optional<std::string_view> authorization;
    if (auto it = req.find(bhttp::field::authorization); it != req.end()) {
      authorization = std::string_view(it->value().data(), it->value().size());
    }
    return admin::adminAuthorized(peer.to_string(), authorization, options.token);
  }

  static void reply(bhttp::response<bhttp::string_body>& res, int status, std::string type,
                    std::string body) {
    res.result(static_cast<bhttp::status>(status));
    res.set(bhttp::field::content_type, type);
    res.body() = std::move(body);
  }

  // DELETE /cache?route=ns/name[/rule]&prefix=/path: drops the responses of the routes named
  // (an APIRoute's name covers all its rules) whose path starts with the prefix; without
  // `route`, of every route.
  void purgeCache(const bhttp::request<bhttp::string_body>& req,
                  bhttp::response<bhttp::string_body>& res) {
    std::string_view target = req.target();
    const size_t q = target.find('?');
    std::string route, prefix, error;
    for (const auto& [key, value] :
         http::parseQueryPairs(q == std::string_view::npos ? "" : target.substr(q + 1))) {
      if (key == "route") {
        route = value;
      } else if (key == "prefix") {
        prefix = value;
      } else {
        error = "unknown parameter \"" + key + "\" (use route, prefix)";
      }
    }
    if (error.empty() && !prefix.empty() && prefix.front() != '/') {
      error = "prefix must be a path starting with /";
    }
    if (!error.empty()) {
      reply(res, 400, "application/json",
            http::errorBody(400, "bad_request", error, http::newRequestId()));
      return;
    }
    auto& store = engine.responseCache();
    size_t purged = 0;
    if (route.empty()) {
      purged = store.purge("", prefix);
    } else {
      // Entries are kept per route rule ("ns/name/rule"): purge each rule of the route named.
      std::set<std::string> scopes = {route};
      if (auto snapshot = engine.currentSnapshot()) {
        for (const auto& vh : snapshot->virtual_hosts) {
          for (const auto& r : vh.routes) {
            if (r.name == route || r.name.starts_with(route + "/")) scopes.insert(r.name);
          }
        }
      }
      for (const auto& scope : scopes) purged += store.purge(scope, prefix);
    }
    spdlog::info("cache purge (route \"{}\", prefix \"{}\"): {} response(s) dropped", route,
                 prefix, purged);
    nlohmann::json doc = {{"purged", purged}};
    reply(res, 200, "application/json", doc.dump() + "\n");
  }

  static void refuse(bhttp::response<bhttp::string_body>& res) {
    reply(res, 401, "application/json",
          http::errorBody(401, "unauthorized", "a bearer token is required from outside loopback",
                          http::newRequestId()));
    res.set(bhttp::field::www_authenticate, "Bearer realm=\"atrium-admin\"");
  }

  // GET /usage: usage per consumer and route for a period, from Redis (with --redis) or this
  // replica's own counts, as JSON or CSV.
  net::awaitable<bhttp::response<bhttp::string_body>> usage(
      const bhttp::request<bhttp::string_body>& req, const net::ip::address& peer) {
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
    res.set(bhttp::field::server, "atrium");
    auto& limits = engine.limits();
    std::string_view target = req.target();
    const size_t q = target.find('?');
    std::string error;
    auto query = metering::parseUsageQuery(
        q == std::string_view::npos ? std::string_view() : target.substr(q + 1), limits.wallNow(),
        error);
    auto snapshot = engine.currentSnapshot();
    std::vector<config::Consumer> consumers;
    if (snapshot) consumers = snapshot->consumers;
    if (!authorized(req, peer)) {
      refuse(res);
    } else if (!query) {
      reply(res, 400, "application/json",
            http::errorBody(400, "bad_request", error, http::newRequestId()));
    } else if (!redis) {
      auto rows = limits.usage.rows(metering::dayId(query->period.start),
                                    metering::dayId(query->period.end));
      if (query->csv) {
        reply(res, 200, "text/csv; charset=utf-8", metering::usageCsv(*query, rows, consumers));
      } else {
        reply(res, 200, "application/json", metering::usageJson(*query, rows, consumers, "memory"));
      }
    } else {
      std::vector<std::string> days;
      for (int64_t t = query->period.start; t < query->period.end; t += 86'400) {
        days.push_back(metering::dayId(t));
      }
      // The reads complete through callbacks on this thread; a timer set to never expire is
      // the event the coroutine waits on. Shared, so a late callback never outlives it.
      struct Wait {
        explicit Wait(net::io_context& io) : event(io, std::chrono::steady_clock::time_point::max()) {}
        net::steady_timer event;
        bool done = false, ok = false;
        std::vector<metering::UsageRow> rows;
      };
      auto wait = std::make_shared<Wait>(io);
      metering::readUsageFromRedis(*redis, days, [wait](bool ok, std::vector<metering::UsageRow> rows) {
        wait->done = true;
        wait->ok = ok;
        wait->rows = std::move(rows);
        wait->event.cancel();
      });
      if (!wait->done) {
        wait->event.expires_after(std::chrono::seconds(5));
        co_await wait->event.async_wait(kNoThrow);
      }
      if (!wait->done || !wait->ok) {
        reply(res, 503, "application/json",
              http::errorBody(503, "usage_unavailable", "redis did not answer; retry later",
                              http::newRequestId()));
      } else if (query->csv) {
        reply(res, 200, "text/csv; charset=utf-8", metering::usageCsv(*query, wait->rows, consumers));
      } else {
        reply(res, 200, "application/json",
              metering::usageJson(*query, wait->rows, consumers, "redis"));
      }
    }
    res.set(bhttp::field::date, http::httpDate());
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    if (req.method() == bhttp::verb::head) res.body().clear();
    co_return res;
  }

  bhttp::response<bhttp::string_body> handle(const bhttp::request<bhttp::string_body>& req,
                                             const net::ip::address& peer) {
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
    res.set(bhttp::field::server, "atrium");
    auto reply = [&](int status, std::string type, std::string body) {
      res.result(static_cast<bhttp::status>(status));
      res.set(bhttp::field::content_type, type);
      res.body() = std::move(body);
    };
    auto error = [&](int status, const char* code, const char* message) {
      reply(status, "application/json", http::errorBody(status, code, message, http::newRequestId()));
    };
    std::string_view target = req.target();
    std::string_view path = target.substr(0, target.find('?'));
    const bool get = req.method() == bhttp::verb::get || req.method() == bhttp::verb::head;
    if (path == "/healthz" && get) {
      reply(200, "text/plain", "ok\n");
    } else if (path == "/readyz" && get) {
      if (owner.ready()) {
        reply(200, "text/plain", "ready\n");
      } else {
        reply(503, "text/plain", "not ready\n");
      }
    } else if (path == "/metrics" && get) {
      reply(200, "text/plain; version=0.0.4", engine.metrics().renderPrometheus());
    } else if (path == "/config" && get) {
      if (!authorized(req, peer)) {
        refuse(res);
      } else if (auto snapshot = engine.currentSnapshot()) {
        nlohmann::json doc = {{"generation", engine.metrics().config_generation.load()},
                              {"snapshot", config::toJson(*snapshot)}};
        reply(200, "application/json", doc.dump(2) + "\n");
      } else {
        error(503, "not_ready", "no configuration loaded yet");
      }
    } else if (path == "/cache" && req.method() == bhttp::verb::delete_) {
      if (!authorized(req, peer)) {
        refuse(res);
      } else {
        purgeCache(req, res);
      }
    } else {
      error(404, "route_not_found", "unknown admin endpoint");
    }
    res.set(bhttp::field::date, http::httpDate());
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    if (req.method() == bhttp::verb::head) res.body().clear();
    return res;
  }

  net::awaitable<void> session(net::ip::tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    auto peer = stream.socket().remote_endpoint(ec).address();
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(64 * 1024);
      stream.expires_after(std::chrono::seconds(30));
      auto [rec, n] = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
      if (rec) break;
      const auto& request = parser.get();
      const std::string_view target = request.target();
      const bool usage_request = target.substr(0, target.find('?')) == "/usage" &&
                                 (request.method() == bhttp::verb::get ||
                                  request.method() == bhttp::verb::head);
      // (An if, not ?: — GCC 12 miscompiles co_await inside a conditional expression.)
      bhttp::response<bhttp::string_body> res;
      if (usage_request) {
        res = co_await usage(request, peer);
      } else {
        res = handle(request, peer);
      }
      const bool keep = res.keep_alive();
      stream.expires_after(std::chrono::seconds(30));
      bhttp::response_serializer<bhttp::string_body> sr{res};
      if (parser.get().method() == bhttp::verb::head) sr.split(true);
      std::tie(ec, std::ignore) = co_await bhttp::async_write(stream, sr, kNoThrow);
      if (ec || !keep) break;
    }
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  }

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, net::ip::tcp::socket socket) {
      if (!acceptor.is_open()) return;
      if (!ec) net::co_spawn(io, session(std::move(socket)), net::detached);
      accept();
    });
  }
};

AdminServer::AdminServer(AdminOptions options, ProxyEngine& engine)
    : impl_(std::make_shared<Impl>(std::move(options), engine, *this)) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  boost::system::error_code ec;
  auto address = net::ip::make_address(impl_->options.bind, ec);
  if (ec) throw std::runtime_error("invalid --admin-bind address \"" + impl_->options.bind + "\"");
  try {
    net::ip::tcp::endpoint endpoint{address, impl_->options.port};
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.set_option(net::socket_base::reuse_address(true));
    if (address.is_v6()) impl_->acceptor.set_option(net::ip::v6_only(false));
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen();
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot listen on admin address " + impl_->options.bind + ":" +
                             std::to_string(impl_->options.port) + ": " + e.code().message());
  }
  impl_->accept();
  if (const auto* url = impl_->engine.redisUrl()) {
    // Commands here are rare and may read a month of days: a generous per-command timeout.
    redis::RedisClient::Options options;
    options.command_timeout = std::chrono::milliseconds(2000);
    impl_->redis = std::make_unique<redis::RedisClient>(impl_->io.get_executor(), *url, options);
    impl_->redis->start();
  }
  impl_->thread = std::thread([impl = impl_] {
    pthread_setname_np(pthread_self(), "atrium-admin");
    impl->io.run();
  });
  spdlog::info("admin listening on {}:{}", impl_->options.bind, port());
}

void AdminServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
  if (impl_->redis) impl_->redis->stop();
  impl_->redis.reset();
}

uint16_t AdminServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

}  // namespace atrium::proxy
