#include "proxy/upstream/health_checker.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/basic_resolver.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <exception>
#include <optional>
#include <random>

#include "proxy/io_types.h"
#include "proxy/tls/tls_server.h"
#include "proxy/observability/prometheus_label.h"

namespace atrium::proxy::upstream {

namespace net = boost::asio;
namespace http = boost::beast::http;
using std::chrono::milliseconds;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable_t<Executor>{});
constexpr size_t kHeaderLimit = 16 * 1024;
// A zero interval would spin the checker's thread; a zero timeout would fail every check.
constexpr uint32_t kMinIntervalMs = 10;
constexpr uint32_t kMinTimeoutMs = 10;

using Timer = net::basic_waitable_timer<std::chrono::steady_clock,
                                        net::wait_traits<std::chrono::steady_clock>, Executor>;
using Resolver = net::ip::basic_resolver<net::ip::tcp, Executor>;

std::string endpointName(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}


// Everything but the HealthSet: a target whose settings are unchanged keeps its loops.
bool sameSettings(const HealthTarget& a, const HealthTarget& b) {
  return a.cluster == b.cluster && a.endpoints == b.endpoints && a.check == b.check &&
         a.tls == b.tls && a.tls_server_name == b.tls_server_name && a.tls_verify == b.tls_verify &&
         a.tls_ca_pem == b.tls_ca_pem && a.host_header == b.host_header;
}

struct CheckResult {
  bool checked = true;  // false: skipped (the endpoint is this process), nothing to record
  int status = 0;       // the response's status; 0 when none arrived
  std::string error;    // why no status arrived
};

// Sends the request and reads the response head only: the body is never read, the connection
// is closed right after (Connection: close).
template <class Stream>
Task<void> exchange(Stream& stream, const std::string& path, const std::string& host,
                    CheckResult& result) {
  http::request<http::empty_body> req(http::verb::get, path, 11);
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "atrium-health-check");
  req.set(http::field::connection, "close");
  auto [wec, wn] = co_await http::async_write(stream, req, kNoThrow);
  if (wec) {
    result.error = "sending the request: " + wec.message();
    co_return;
  }
  boost::beast::flat_buffer buffer(kHeaderLimit + 4096);
  http::response_parser<http::empty_body> parser;
  parser.header_limit(kHeaderLimit);
  auto [rec, rn] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
  if (rec) {
    result.error = "reading the response: " + rec.message();
    co_return;
  }
  result.status = static_cast<int>(parser.get().result_int());
}

}  // namespace

struct HealthChecker::Loop {
  net::io_context io{1};
  std::optional<net::executor_work_guard<Executor>> work{io.get_executor()};
};

struct HealthChecker::TargetState {
  HealthTarget spec;  // spec.health is swapped in place when only the HealthSet changes
  std::shared_ptr<Counters> counters;
  std::shared_ptr<net::ssl::context> tls_context;
  std::vector<std::weak_ptr<Probe>> probes;  // each probe is owned by its coroutine
};

// The check loop of one endpoint. Lives on the checker's thread; owned by its coroutine.
struct HealthChecker::Probe : std::enable_shared_from_this<Probe> {
  Probe(Executor ex, std::shared_ptr<TargetState> t, size_t i, const SkipFn* s)
      : target(std::move(t)), index(i), skip(s), timer(ex), deadline(ex) {
    const auto& [h, p] = target->spec.endpoints[index];
    host = h;
    port = p;
    name = endpointName(host, port);
    boost::system::error_code ec;
    auto ip = net::ip::make_address(host, ec);
    if (!ec) address = net::ip::tcp::endpoint(ip, port);
  }

  std::shared_ptr<TargetState> target;
  size_t index;
  const SkipFn* skip;
  std::string host;
  uint16_t port;
  std::string name;                               // "host:port", as in logs and metrics
  std::optional<net::ip::tcp::endpoint> address;  // when host is an IP literal
  bool stopped = false;
  Timer timer;             // the wait between checks
  Timer deadline;          // the timeout of the check in flight
  uint64_t check_seq = 0;  // tells a stale deadline from the current one
  bool timed_out = false;
  Socket* active_socket = nullptr;  // the check in flight's socket and resolver, to abort them
  Resolver* active_resolver = nullptr;

  void abortIo() {
    boost::system::error_code ignored;
    if (active_resolver) active_resolver->cancel();
    if (active_socket) active_socket->close(ignored);
  }

  void stop() {
    stopped = true;
    timer.cancel();
    deadline.cancel();
    abortIo();
  }

  // The loop; `self` (held by the coroutine's frame) owns the probe.
  static Task<void> run(std::shared_ptr<Probe> self, milliseconds first_delay) {
    milliseconds delay = first_delay;
    for (;;) {
      // 1. Wait out the jitter, then the interval, between checks (never overlapping).
      self->timer.expires_after(delay);
      co_await self->timer.async_wait(kNoThrow);
      if (self->stopped) co_return;
      // 2. One check, bounded by the deadline.
      CheckResult result = co_await self->checkOnce();
      if (self->stopped) co_return;
      // 3. Its verdict, into the HealthSet the workers read now.
      if (result.checked) self->record(result);
      delay = milliseconds(std::max(self->target->spec.check.interval_ms, kMinIntervalMs));
    }
  }

  Task<CheckResult> checkOnce() {
    CheckResult result;
    const HealthTarget& spec = target->spec;
    const uint64_t seq = ++check_seq;
    timed_out = false;
    deadline.expires_after(milliseconds(std::max(spec.check.timeout_ms, kMinTimeoutMs)));
    deadline.async_wait([weak = weak_from_this(), seq](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->check_seq != seq) return;
      self->timed_out = true;
      self->abortIo();
    });

    const auto ex = timer.get_executor();
    Socket socket(ex);
    active_socket = &socket;
    boost::system::error_code ec;
    // 1. Connect (resolving a DNS name every time: ExternalName targets may move).
    if (address) {
      std::tie(ec) = co_await socket.async_connect(*address, kNoThrow);
    } else {
      Resolver resolver(ex);
      active_resolver = &resolver;
      auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(port), kNoThrow);
      active_resolver = nullptr;
      ec = rec;
      if (!ec && !stopped && !timed_out) {
        std::tie(ec, std::ignore) = co_await net::async_connect(socket, results, kNoThrow);
      }
    }
    if (!ec && !address && *skip) {
      // A name may resolve to this process: its admin server must never be probed.
      boost::system::error_code peer_ec;
      auto peer = socket.remote_endpoint(peer_ec);
      if (!peer_ec && (*skip)(peer.address().to_string(), peer.port())) result.checked = false;
    }
    if (!ec && result.checked) {
      if (!spec.tls) {
        co_await exchange(socket, requestPath(), hostHeader(), result);
      } else {
        // 2. With TLS: the handshake, with SNI and verification as the proxy's own connections.
        net::ssl::stream<Socket&> stream(socket, *target->tls_context);
        SSL* ssl = stream.native_handle();
        const std::string& sni = spec.tls_server_name.empty() ? host : spec.tls_server_name;
        if (!address || !spec.tls_server_name.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
        if (spec.tls_verify) {
          X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
          if (address && spec.tls_server_name.empty()) {
            X509_VERIFY_PARAM_set1_ip_asc(param, sni.c_str());
          } else {
            X509_VERIFY_PARAM_set1_host(param, sni.c_str(), 0);
          }
        }
        auto [hec] = co_await stream.async_handshake(net::ssl::stream_base::client, kNoThrow);
        if (hec) {
          result.error = "TLS handshake: " + hec.message();
        } else {
          // 3. The request and the response head.
          co_await exchange(stream, requestPath(), hostHeader(), result);
        }
      }
    } else if (ec) {
      result.error = ec.message();
    }
    active_socket = nullptr;
    deadline.cancel();
    if (timed_out && result.status == 0) result.error = "timed out";
    co_return result;
  }

  std::string requestPath() const {
    const std::string& path = target->spec.check.path;
    if (path.empty()) return "/";
    return path.front() == '/' ? path : "/" + path;
  }

  std::string hostHeader() const {
    return target->spec.host_header.empty() ? name : target->spec.host_header;
  }

  void record(const CheckResult& result) {
    const HealthTarget& spec = target->spec;
    const bool passed = result.status != 0 && healthCheckPassed(result.status);
    (passed ? target->counters->pass : target->counters->fail)
        .fetch_add(1, std::memory_order_relaxed);
    if (!spec.health || index >= spec.health->size()) return;
    EndpointHealth& health = (*spec.health)[index];
    if (!health.recordCheck(passed, spec.check)) return;
    if (health.healthy()) {
      spdlog::info("health check: endpoint {} of cluster {} is healthy again", name, spec.cluster);
    } else {
      spdlog::warn("health check: endpoint {} of cluster {} is now unhealthy (GET {}: {})", name,
                   spec.cluster, requestPath(),
                   result.status != 0 ? std::to_string(result.status) : result.error);
    }
  }
};

HealthChecker::HealthChecker(SkipFn skip)
    : skip_(std::move(skip)),
      loop_(std::make_unique<Loop>()),
      jitter_state_(std::random_device{}()) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::start() {
  if (started_.exchange(true) || stopped_) return;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "atrium-health");
    // Handlers never throw (errors are values); this only guards against the unexpected.
    for (;;) {
      try {
        loop_->io.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("health checker: {}", e.what());
      }
    }
  });
}

void HealthChecker::stop() {
  if (stopped_.exchange(true)) return;
  if (!thread_.joinable()) return;
  // Abort every check and wait, then let run() return once the aborted operations have finished.
  net::post(loop_->io, [this] {
    stopAll();
    loop_->work.reset();
  });
  thread_.join();
}

void HealthChecker::update(std::vector<HealthTarget> targets) {
  if (stopped_) return;
  net::post(loop_->io,
            [this, targets = std::move(targets)]() mutable { apply(std::move(targets)); });
}

void HealthChecker::apply(std::vector<HealthTarget> targets) {
  if (stopped_) return;  // an update that raced stop(): starting loops now would hang the join
  std::map<std::string, std::shared_ptr<TargetState>> next;
  for (auto& t : targets) {
    if (next.contains(t.cluster)) continue;  // cluster names are unique in a snapshot
    auto it = targets_.find(t.cluster);
    if (it != targets_.end() && sameSettings(it->second->spec, t)) {
      // Same checks: keep the loops (and their timing); the verdicts go to the new set.
      it->second->spec.health = std::move(t.health);
      next.emplace(t.cluster, it->second);
      continue;
    }
    auto state = std::make_shared<TargetState>();
    // A changed cluster keeps counting where it was: counters only ever go up.
    state->counters = it != targets_.end() ? it->second->counters : std::make_shared<Counters>();
    if (it != targets_.end()) stopProbes(*it->second);
    state->spec = std::move(t);
    next.emplace(state->spec.cluster, state);
    startProbes(state);
  }
  for (auto& [cluster, state] : targets_) {
    if (!next.contains(cluster)) stopProbes(*state);
  }
  targets_ = std::move(next);
  publish();
}

void HealthChecker::startProbes(const std::shared_ptr<TargetState>& state) {
  const HealthTarget& spec = state->spec;
  if (!spec.health) return;
  if (spec.tls) {
    try {
      state->tls_context = tls::makeUpstreamContext(spec.tls_verify, spec.tls_ca_pem);
    } catch (const std::exception& e) {
      spdlog::warn("health check: cluster {} not checked: {}", spec.cluster, e.what());
      return;
    }
  }
  const uint64_t interval = std::max(spec.check.interval_ms, kMinIntervalMs);
  const size_t n = std::min(spec.endpoints.size(), spec.health->size());
  for (size_t i = 0; i < n; ++i) {
    const auto& [host, port] = spec.endpoints[i];
    if (skip_ && skip_(host, port)) continue;  // left as it is: healthy
    auto probe = std::make_shared<Probe>(loop_->io.get_executor(), state, i, &skip_);
    state->probes.push_back(probe);
    // The first check comes after a random part of the interval, so that the endpoints (and the
    // replicas) don't all fire together.
    net::co_spawn(loop_->io.get_executor(), Probe::run(probe, milliseconds(jitterMs(interval))),
                  [cluster = spec.cluster](std::exception_ptr e) {
                    if (!e) return;
                    try {
                      std::rethrow_exception(e);
                    } catch (const std::exception& x) {
                      spdlog::error("health check of cluster {} stopped: {}", cluster, x.what());
                    }
                  });
  }
}

void HealthChecker::stopProbes(TargetState& state) {
  for (auto& weak : state.probes) {
    if (auto probe = weak.lock()) probe->stop();
  }
  state.probes.clear();
}

void HealthChecker::stopAll() {
  for (auto& [cluster, state] : targets_) stopProbes(*state);
  targets_.clear();
  publish();
}

uint64_t HealthChecker::jitterMs(uint64_t interval_ms) {
  // splitmix64: plenty for spreading checks out.
  uint64_t z = (jitter_state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return interval_ms == 0 ? 0 : z % interval_ms;
}

void HealthChecker::publish() {
  std::map<std::string, Published> published;
  for (const auto& [cluster, state] : targets_) {
    Published p;
    p.counters = state->counters;
    p.health = state->spec.health;
    for (size_t i = 0; p.health && i < p.health->size(); ++i) {
      if (!p.health->key(i).empty()) {
        p.endpoint_names.push_back(p.health->key(i));
      } else if (i < state->spec.endpoints.size()) {
        const auto& [host, port] = state->spec.endpoints[i];
        p.endpoint_names.push_back(endpointName(host, port));
      } else {
        p.endpoint_names.push_back(std::to_string(i));
      }
    }
    published.emplace(cluster, std::move(p));
  }
  std::lock_guard lock(metrics_mu_);
  published_ = std::move(published);
}

std::string HealthChecker::renderMetrics() const {
  std::lock_guard lock(metrics_mu_);
  if (published_.empty()) return {};
  std::string out =
      "# HELP atrium_health_checks_total Active health checks of upstream endpoints, by result.\n"
      "# TYPE atrium_health_checks_total counter\n";
  for (const auto& [cluster, p] : published_) {
    const std::string c = observability::escapeLabel(cluster);
    out += fmt::format("atrium_health_checks_total{{cluster=\"{}\",result=\"pass\"}} {}\n", c,
                       p.counters->pass.load(std::memory_order_relaxed));
    out += fmt::format("atrium_health_checks_total{{cluster=\"{}\",result=\"fail\"}} {}\n", c,
                       p.counters->fail.load(std::memory_order_relaxed));
  }
  out +=
      "# HELP atrium_endpoint_healthy Whether active health checks consider an endpoint healthy.\n"
      "# TYPE atrium_endpoint_healthy gauge\n";
  for (const auto& [cluster, p] : published_) {
    const std::string c = observability::escapeLabel(cluster);
    for (size_t i = 0; p.health && i < p.endpoint_names.size(); ++i) {
      out += fmt::format("atrium_endpoint_healthy{{cluster=\"{}\",endpoint=\"{}\"}} {}\n", c,
                         observability::escapeLabel(p.endpoint_names[i]),
                         (*p.health)[i].healthy() ? 1 : 0);
    }
  }
  return out;
}

}  // namespace atrium::proxy::upstream
