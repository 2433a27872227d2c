#pragma once
// One proxy worker: a thread running its own io_context, its own listener (SO_REUSEPORT), its
// own upstream connection pools, request scratch memory and access-log buffer, and its own
// reference to the current ProxyConfig. Everything here is touched only on the worker's
// thread, except the methods that say otherwise (they post to it).
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include "proxy/io_types.h"
#include "proxy/filters/authenticator.h"
#include "proxy/observability/access_log.h"
#include "proxy/http/client_ip.h"
#include "proxy/proxy_engine.h"
#include "proxy/ratelimit/rate_limiter.h"
#include "proxy/server/request_scratch.h"
#include "proxy/upstream/connection_pool.h"

namespace atrium::proxy::tls {
class TlsServer;
}
namespace atrium::proxy::redis {
class RedisClient;
struct RedisUrl;
}
namespace atrium::proxy::cache {
class ResponseCache;
class RequestCollapser;
}

namespace atrium::proxy::server {

class ProxyConfig;
class Session;

class Worker {
 public:
  // How often session deadlines are checked: the resolution of every timeout.
  static constexpr std::chrono::milliseconds kDeadlineTick{50};

  // What the workers of one engine share besides the configuration.
  struct Shared {
    ratelimit::SharedLimitState* limits = nullptr;
    const http::TrustedProxies* trusted_proxies = nullptr;
    const redis::RedisUrl* redis = nullptr;  // null without --redis
    cache::ResponseCache* cache = nullptr;
    cache::RequestCollapser* collapser = nullptr;
  };

  Worker(unsigned index, const ProxyOptions& options, observability::Metrics& metrics,
         std::shared_ptr<observability::AccessLogSink> access_log, tls::TlsServer& tls,
         std::shared_ptr<const SelfPorts> self_ports, Shared shared);
  ~Worker();

  // Binds this worker's listener (on the calling thread, before start()). Returns the port.
  uint16_t listen(const boost::asio::ip::tcp::endpoint& endpoint);
  // The same for the HTTPS listener (sessions accepted there start with a TLS handshake).
  uint16_t listenTls(const boost::asio::ip::tcp::endpoint& endpoint);
  void start();
  // Any thread: hands the worker a new config; it applies to requests starting after it.
  void publish(std::shared_ptr<const ProxyConfig> config);
  // Any thread: stop accepting and close idle keep-alive connections; in-flight requests end
  // with "Connection: close".
  void beginDrain();
  // Any thread: stop the io_context and join the thread.
  void stop();

  // Worker thread only.
  const std::shared_ptr<const ProxyConfig>& config() const { return config_; }
  upstream::ConnectionPool& pool() { return pool_; }
  filters::PasswordVerifier& passwords() { return passwords_; }
  filters::JwtVerdictCache& jwtVerdicts() { return jwt_verdicts_; }
  observability::AccessLogBuffer& accessLog() { return access_log_; }
  ratelimit::RateLimiter& limiter() { return limiter_; }
  cache::ResponseCache& cache() { return *shared_.cache; }
  cache::RequestCollapser& collapser() { return *shared_.collapser; }
  const http::TrustedProxies& trustedProxies() const { return *shared_.trusted_proxies; }
  observability::Metrics& metrics() { return metrics_; }
  const ProxyOptions& options() const { return options_; }
  tls::TlsServer& tls() { return tls_; }
  const SelfPorts& selfPorts() const { return *self_ports_; }
  bool draining() const { return draining_; }
  unsigned index() const { return index_; }
  uint16_t port() const { return port_; }
  uint16_t tlsPort() const { return tls_port_; }
  void add(Session* s) { sessions_.insert(s); }
  void remove(Session* s) { sessions_.erase(s); }
  std::unique_ptr<RequestScratch> takeScratch();
  void returnScratch(std::unique_ptr<RequestScratch> scratch);

 private:
  void accept(Acceptor& acceptor, bool tls);
  static uint16_t bindAcceptor(Acceptor& acceptor, const boost::asio::ip::tcp::endpoint& endpoint);
  void scheduleFlush();
  void scheduleDeadlineCheck();
  void watchRedis();

  // Declaration order matters for teardown: members that sessions touch from their
  // destructors (sessions_, pool_, scratch_, metrics) are declared before io_, so they outlive
  // the coroutine frames that io_ destroys; the acceptor and timers, built on io_, come after.
  unsigned index_;
  const ProxyOptions& options_;
  observability::Metrics& metrics_;
  tls::TlsServer& tls_;
  std::shared_ptr<const SelfPorts> self_ports_;
  Shared shared_;
  std::unordered_set<Session*> sessions_;
  std::vector<std::unique_ptr<RequestScratch>> scratch_;
  bool draining_ = false;
  uint16_t port_ = 0;
  uint16_t tls_port_ = 0;
  std::shared_ptr<const ProxyConfig> config_;
  upstream::ConnectionPool pool_;
  filters::PasswordVerifier passwords_;
  filters::JwtVerdictCache jwt_verdicts_;
  observability::AccessLogBuffer access_log_;
  ratelimit::RateLimiter limiter_;  // outlives redis_, whose callbacks reach it
  // All socket I/O of a worker happens on its own thread, so the reactor's per-descriptor
  // locking is switched off; the scheduler keeps its lock for posts from other threads
  // (publish, drain).
  boost::asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  Acceptor acceptor_;
  std::optional<Acceptor> tls_acceptor_;
  boost::asio::steady_timer flush_timer_;
  boost::asio::steady_timer deadline_timer_;
  // This worker's own pipelined Redis connection (with --redis); built on io_.
  std::unique_ptr<redis::RedisClient> redis_;
  bool redis_up_ = false;
  bool redis_warned_ = false;
  std::thread thread_;
};

}  // namespace atrium::proxy::server
