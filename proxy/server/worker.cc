#include "proxy/server/worker.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include "proxy/observability/metrics.h"
#include "proxy/redis/redis_client.h"
#include "proxy/server/proxy_config.h"
#include "proxy/server/session.h"

namespace atrium::proxy::server {

namespace net = boost::asio;

Worker::Worker(unsigned index, const ProxyOptions& options, observability::Metrics& metrics,
               std::shared_ptr<observability::AccessLogSink> access_log, tls::TlsServer& tls,
               std::shared_ptr<const SelfPorts> self_ports, Shared shared)
    : index_(index),
      options_(options),
      metrics_(metrics),
      tls_(tls),
      self_ports_(std::move(self_ports)),
      shared_(shared),
      access_log_(std::move(access_log)),
      limiter_(*shared.limits, nullptr),
      acceptor_(io_.get_executor()),
      flush_timer_(io_),
      deadline_timer_(io_) {
  if (shared_.redis) {
    redis_ = std::make_unique<redis::RedisClient>(io_.get_executor(), *shared_.redis,
                                                  redis::RedisClient::Options{});
    limiter_.attachRedis(redis_.get());
  }
}

Worker::~Worker() {
  stop();
  if (redis_) redis_->stop();
  redis_.reset();
  pool_.clear();  // pooled sockets belong to io_: close them before it goes
}

void Worker::watchRedis() {
  auto& m = metrics_.limits;
  m.redis_configured.store(true);
  m.redis_workers.fetch_add(1);
  m.redis_workers_down.fetch_add(1);  // until the first connection is up
  auto warn_down = [this] {
    if (redis_warned_) return;
    redis_warned_ = true;  // once per outage, not once per failed reconnect
    spdlog::warn("worker {}: redis unreachable; Global limits, plans and quotas degrade to this "
                 "replica's 1/{} share until it is back", index_, shared_.limits->replicas);
  };
  redis_->onLatency([&m](double seconds) { m.recordRedisLatency(seconds); });
  redis_->onError([&m, warn_down](std::string_view kind) {
    m.recordRedisError(observability::redisErrorFromKind(kind));
    if (kind == "connect") warn_down();
  });
  redis_->onStateChange([this, &m, warn_down](bool up) {
    if (up == redis_up_) return;
    redis_up_ = up;
    if (up) {
      m.redis_workers_down.fetch_sub(1);
      if (redis_warned_) {
        spdlog::info("worker {}: redis connection restored; Global limits exact again", index_);
      }
      redis_warned_ = false;
      limiter_.onRedisUp();
    } else {
      m.redis_workers_down.fetch_add(1);
      warn_down();
    }
  });
  redis_->start();
}

uint16_t Worker::listen(const net::ip::tcp::endpoint& endpoint) {
  port_ = bindAcceptor(acceptor_, endpoint);
  return port_;
}

uint16_t Worker::listenTls(const net::ip::tcp::endpoint& endpoint) {
  tls_acceptor_.emplace(io_.get_executor());
  tls_port_ = bindAcceptor(*tls_acceptor_, endpoint);
  return tls_port_;
}

uint16_t Worker::bindAcceptor(Acceptor& acceptor, const net::ip::tcp::endpoint& endpoint) {
  acceptor.open(endpoint.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  // Every worker binds the same port; the kernel spreads new connections across them, so no
  // accept lock or hand-off between threads is needed.
  int one = 1;
  ::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (endpoint.address().is_v6()) {
    // "::" serves IPv4 too, as users of --bind :: expect.
    acceptor.set_option(net::ip::v6_only(false));
  }
  acceptor.bind(endpoint);
  acceptor.listen(net::socket_base::max_listen_connections);
  return acceptor.local_endpoint().port();
}

void Worker::start() {
  accept(acceptor_, false);
  if (tls_acceptor_) accept(*tls_acceptor_, true);
  scheduleFlush();
  scheduleDeadlineCheck();
  if (redis_) watchRedis();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), ("atrium-w" + std::to_string(index_)).c_str());
    observability::RouteMetrics::setThreadShard(index_);
    io_.run();
  });
}

void Worker::accept(Acceptor& acceptor, bool tls) {
  acceptor.async_accept([this, &acceptor, tls](boost::system::error_code ec, Socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec && !draining_) {
      auto session = std::make_shared<Session>(*this, std::move(socket), tls);
      net::co_spawn(io_.get_executor(), session->run(), [](std::exception_ptr e) {
        // Sessions report errors as values; an exception here is a bug, logged not fatal.
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            spdlog::error("session ended with an exception: {}", ex.what());
          }
        }
      });
    } else if (ec) {
      // EMFILE and friends: keep accepting; the backlog holds the connection meanwhile.
      spdlog::warn("accept failed: {}", ec.message());
    }
    accept(acceptor, tls);
  });
}

void Worker::scheduleFlush() {
  flush_timer_.expires_after(std::chrono::milliseconds(200));
  flush_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    access_log_.flush();
    scheduleFlush();
  });
}

// One timer per worker enforces every session's deadline (header, idle, upstream) instead of
// arming and cancelling a timer around each socket operation: that per-operation timer traffic
// was a large share of the proxy's CPU. Timeouts resolve to within kDeadlineTick.
void Worker::scheduleDeadlineCheck() {
  deadline_timer_.expires_after(kDeadlineTick);
  deadline_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<Session*> expired;
    for (Session* s : sessions_) {
      if (s->deadline() <= now) expired.push_back(s);
    }
    for (Session* s : expired) s->onDeadline();
    scheduleDeadlineCheck();
  });
}

std::unique_ptr<RequestScratch> Worker::takeScratch() {
  if (scratch_.empty()) return std::make_unique<RequestScratch>();
  auto s = std::move(scratch_.back());
  scratch_.pop_back();
  return s;
}

void Worker::returnScratch(std::unique_ptr<RequestScratch> scratch) {
  scratch->arena.release();
  // Keep enough for the usual concurrency; a burst's extra scratch goes back to the heap.
  if (scratch_.size() < 1024) scratch_.push_back(std::move(scratch));
}

void Worker::publish(std::shared_ptr<const ProxyConfig> config) {
  net::post(io_, [this, config = std::move(config)]() mutable {
    // Every request copies config_. Giving each worker its own control block (an aliasing
    // pointer to a worker-local holder) keeps those reference-count updates on this core's
    // cache instead of bouncing one shared counter between workers on every request.
    if (!config) {
      config_.reset();
      return;
    }
    auto holder = std::make_shared<std::shared_ptr<const ProxyConfig>>(std::move(config));
    config_ = std::shared_ptr<const ProxyConfig>(holder, holder->get());
  });
}

void Worker::beginDrain() {
  net::post(io_, [this] {
    draining_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    if (tls_acceptor_) tls_acceptor_->close(ec);
    // Copy first: closing a session may remove it from the set.
    std::vector<Session*> sessions(sessions_.begin(), sessions_.end());
    for (Session* s : sessions) s->closeIfIdle();
    pool_.clear();
  });
}

void Worker::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
  access_log_.flush();
}

}  // namespace atrium::proxy::server
