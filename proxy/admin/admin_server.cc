#include "proxy/admin/admin_server.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "proxy/http/error_reply.h"
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

  bool authorized(const bhttp::request<bhttp::string_body>& req, const net::ip::address& peer) const {
    if (peer.is_loopback() ||
        (peer.is_v6() && peer.to_v6().is_v4_mapped() &&
         net::ip::make_address_v4(net::ip::v4_mapped, peer.to_v6()).is_loopback())) {
      return true;
    }
    if (options.token.empty()) return false;
    auto it = req.find(bhttp::field::authorization);
    if (it == req.end()) return false;
    std::string_view value = it->value();
    if (value.substr(0, 7) != "Bearer ") return false;
    std::string_view presented = value.substr(7);
    // Constant time, so response timing reveals nothing about the token.
    return presented.size() == options.token.size() &&
           CRYPTO_memcmp(presented.data(), options.token.data(), presented.size()) == 0;
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
        error(401, "unauthorized", "a bearer token is required from outside loopback");
        res.set(bhttp::field::www_authenticate, "Bearer realm=\"atrium-admin\"");
      } else if (auto snapshot = engine.currentSnapshot()) {
        nlohmann::json doc = {{"generation", engine.metrics().config_generation.load()},
                              {"snapshot", config::toJson(*snapshot)}};
        reply(200, "application/json", doc.dump(2) + "\n");
      } else {
        error(503, "not_ready", "no configuration loaded yet");
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
      auto res = handle(parser.get(), peer);
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
}

uint16_t AdminServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

}  // namespace atrium::proxy
