#include "proxy/filters/jwks_fetcher.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace atrium::proxy::filters {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
constexpr std::chrono::minutes kPeriod{5};
constexpr int64_t kMinRefreshMs = 10'000;
constexpr size_t kMaxDocument = 1024 * 1024;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Url {
  bool tls = false;
  std::string host, port, target;
};

std::optional<Url> parseUrl(const std::string& uri) {
  Url u;
  std::string rest;
  if (uri.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = uri.substr(8);
  } else if (uri.rfind("http://", 0) == 0) {
    rest = uri.substr(7);
  } else {
    return std::nullopt;
  }
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  u.port = u.tls ? "443" : "80";
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') u.port = authority.substr(close + 2);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
    u.host = authority.substr(0, colon);
    u.port = authority.substr(colon + 1);
  } else {
    u.host = authority;
  }
  if (u.host.empty() || u.port.empty()) return std::nullopt;
  return u;
}

// GET `url`; the body on a 200, else nullopt with `error`.
template <class Stream>
net::awaitable<std::optional<std::string>> exchange(Stream& stream, const Url& url,
                                                    std::string& error) {
  http::request<http::empty_body> req(http::verb::get, url.target, 11);
  req.set(http::field::host, url.host);
  req.set(http::field::user_agent, "atrium");
  req.set(http::field::accept, "application/json");
  req.set(http::field::connection, "close");
  auto [wec, wn] = co_await http::async_write(stream, req, kNoThrow);
  if (wec) {
    error = "sending the request: " + wec.message();
    co_return std::nullopt;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxDocument);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kNoThrow);
  if (rec) {
    error = "reading the response: " + rec.message();
    co_return std::nullopt;
  }
  if (parser.get().result_int() != 200) {
    error = "HTTP " + std::to_string(parser.get().result_int());
    co_return std::nullopt;
  }
  co_return std::move(parser.get().body());
}

net::awaitable<std::optional<std::string>> download(const std::string& uri, std::string& error) {
  auto url = parseUrl(uri);
  if (!url) {
    error = "not an http(s) URL";
    co_return std::nullopt;
  }
  auto ex = co_await net::this_coro::executor;
  net::ip::tcp::resolver resolver(ex);
  auto [ec, results] = co_await resolver.async_resolve(url->host, url->port, kNoThrow);
  if (ec) {
    error = "resolving " + url->host + ": " + ec.message();
    co_return std::nullopt;
  }
  if (!url->tls) {
    beast::tcp_stream stream(ex);
    stream.expires_after(std::chrono::seconds(5));
    auto [cec, ep] = co_await stream.async_connect(results, kNoThrow);
    if (cec) {
      error = "connecting: " + cec.message();
      co_return std::nullopt;
    }
    co_return co_await exchange(stream, *url, error);
  }
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_verify_mode(net::ssl::verify_peer);
  ctx.set_default_verify_paths();
  beast::ssl_stream<beast::tcp_stream> stream(ex, ctx);
  SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str());
  X509_VERIFY_PARAM_set1_host(SSL_get0_param(stream.native_handle()), url->host.c_str(), 0);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
  auto [cec, ep] = co_await beast::get_lowest_layer(stream).async_connect(results, kNoThrow);
  if (cec) {
    error = "connecting: " + cec.message();
    co_return std::nullopt;
  }
  auto [hec] = co_await stream.async_handshake(net::ssl::stream_base::client, kNoThrow);
  if (hec) {
    error = "TLS handshake: " + hec.message();
    co_return std::nullopt;
  }
  co_return co_await exchange(stream, *url, error);
}

}  // namespace

void JwksSource::refresh() {
  const int64_t now = nowMs();
  int64_t last = last_refresh_ms_.load();
  if (now - last < kMinRefreshMs) return;
  if (!last_refresh_ms_.compare_exchange_strong(last, now)) return;  // another thread did
  fetcher_.fetch(fetcher_.source(uri_));
}

JwksFetcher::JwksFetcher() : io_(std::make_unique<net::io_context>()) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "atrium-jwks");
    auto guard = net::make_work_guard(*io_);
    io_->run();
  });
}

JwksFetcher::~JwksFetcher() {
  io_->stop();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<JwksSource> JwksFetcher::source(const std::string& uri) {
  std::lock_guard lock(mu_);
  auto& slot = sources_[uri];
  if (auto live = slot.lock()) return live;
  auto created = std::make_shared<JwksSource>(*this, uri);
  slot = created;
  created->last_refresh_ms_ = nowMs();
  fetch(created);
  schedulePeriodic(created);
  return created;
}

void JwksFetcher::fetch(std::weak_ptr<JwksSource> weak) {
  net::co_spawn(
      *io_,
      [weak]() -> net::awaitable<void> {
        auto source = weak.lock();
        if (!source) co_return;
        const std::string uri = source->uri();
        source.reset();  // do not keep a source alive across the download
        std::string error;
        auto body = co_await download(uri, error);
        source = weak.lock();
        if (!source) co_return;
        if (!body) {
          spdlog::warn("JWKS {}: fetch failed ({}); keeping the previous keys", uri, error);
          co_return;
        }
        size_t skipped = 0;
        auto keys = JwtKeySet::parse(*body, &error, &skipped);
        if (!keys) {
          spdlog::warn("JWKS {}: {}; keeping the previous keys", uri, error);
          co_return;
        }
        if (skipped) spdlog::warn("JWKS {}: {} unusable key(s) skipped", uri, skipped);
        source->keys_.store(std::move(keys));
        spdlog::debug("JWKS {}: keys updated", uri);
      },
      net::detached);
}

void JwksFetcher::schedulePeriodic(std::weak_ptr<JwksSource> weak) {
  auto timer = std::make_shared<net::steady_timer>(*io_, kPeriod);
  timer->async_wait([this, weak, timer](boost::system::error_code ec) {
    if (ec || weak.expired()) return;
    fetch(weak);
    schedulePeriodic(weak);
  });
}

}  // namespace atrium::proxy::filters
