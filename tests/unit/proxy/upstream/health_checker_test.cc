#include "proxy/upstream/health_checker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/support/test_certs.h"

namespace atrium::proxy::upstream {
namespace {

using namespace std::chrono_literals;

// A tiny HTTP server on 127.0.0.1 (plain sockets on its own thread): answers every request with
// the current status, or (hang) accepts and never answers. With a certificate it speaks TLS.
class TestServer {
 public:
  explicit TestServer(int status, const test_certs::TestCert* cert = nullptr) : status_(status) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (cert) {
      ctx_ = SSL_CTX_new(TLS_server_method());
      SSL_CTX_use_certificate(ctx_, cert->cert.get());
      SSL_CTX_use_PrivateKey(ctx_, cert->key.get());
    }
    thread_ = std::thread([this] { loop(); });
  }
  ~TestServer() {
    stop_ = true;
    thread_.join();
    for (int c : held_) ::close(c);
    ::close(fd_);
    if (ctx_) SSL_CTX_free(ctx_);
  }

  uint16_t port() const { return port_; }
  void setStatus(int status) { status_ = status; }
  void setHang(bool hang) { hang_ = hang; }
  int connections() const { return connections_; }
  std::string lastRequest() const {
    std::lock_guard lock(mu_);
    return last_request_;
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++connections_;
      if (hang_) {
        held_.push_back(c);
        continue;
      }
      timeval tv{1, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      SSL* ssl = nullptr;
      if (ctx_) {
        ssl = SSL_new(ctx_);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) <= 0) {
          SSL_free(ssl);
          ::close(c);
          continue;
        }
      }
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const int n = ssl ? SSL_read(ssl, buf, sizeof buf) : ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        request.append(buf, n);
      }
      {
        std::lock_guard lock(mu_);
        last_request_ = request;
      }
      const std::string response = "HTTP/1.1 " + std::to_string(status_.load()) +
                                   " X\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
      if (ssl) {
        SSL_write(ssl, response.data(), static_cast<int>(response.size()));
        SSL_shutdown(ssl);
        SSL_free(ssl);
      } else {
        [[maybe_unused]] auto n = ::write(c, response.data(), response.size());
      }
      ::close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  SSL_CTX* ctx_ = nullptr;
  std::atomic<int> status_;
  std::atomic<bool> hang_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::vector<int> held_;  // server thread only, then the destructor
  mutable std::mutex mu_;
  std::string last_request_;
  std::thread thread_;
};

// Polls `cond` every 5 ms for at most `limit`.
bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit = 2000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

// A port on 127.0.0.1 that refuses connections (bound once, then closed).
uint16_t closedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

config::HealthCheck fastCheck(uint32_t unhealthy = 3, uint32_t healthy = 2) {
  config::HealthCheck hc;
  hc.path = "/healthz";
  hc.interval_ms = 50;
  hc.timeout_ms = 500;
  hc.unhealthy_threshold = unhealthy;
  hc.healthy_threshold = healthy;
  return hc;
}

HealthTarget target(std::string host, uint16_t port, config::HealthCheck hc,
                    std::string cluster = "ns/svc:80") {
  HealthTarget t;
  t.cluster = std::move(cluster);
  t.endpoints = {{host, port}};
  t.check = hc;
  const bool v6 = host.find(':') != std::string::npos;
  t.health = std::make_shared<HealthSet>(
      std::vector<std::string>{(v6 ? "[" + host + "]" : host) + ":" + std::to_string(port)});
  return t;
}

// The value of one sample line of renderMetrics() (-1 when absent).
long metric(const HealthChecker& checker, const std::string& series) {
  const std::string text = checker.renderMetrics();
  const size_t at = text.find(series + " ");
  if (at == std::string::npos) return -1;
  return std::stol(text.substr(at + series.size() + 1));
}

std::string checks(const std::string& cluster, const char* result) {
  return "atrium_health_checks_total{cluster=\"" + cluster + "\",result=\"" + result + "\"}";
}

TEST(HealthCheckerTest, EndpointAnswering200StaysHealthyAndGetsAWellFormedRequest) {
  TestServer server(200);
  HealthChecker checker;
  checker.start();
  auto t = target("127.0.0.1", server.port(), fastCheck(1, 1));
  auto health = t.health;
  checker.update({t});
  ASSERT_TRUE(waitFor([&] { return metric(checker, checks("ns/svc:80", "pass")) >= 3; }));
  EXPECT_TRUE((*health)[0].healthy());
  EXPECT_EQ(metric(checker, checks("ns/svc:80", "fail")), 0);
  const std::string req = server.lastRequest();
  EXPECT_EQ(req.rfind("GET /healthz HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos)
      << req;
  EXPECT_NE(req.find("User-Agent: atrium-health-check\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("Connection: close\r\n"), std::string::npos) << req;
}

TEST(HealthCheckerTest, UnhealthyAfterThresholdFailuresAndHealthyAgainAfterThresholdPasses) {
  TestServer server(503);
  HealthChecker checker;
  checker.start();
  auto t = target("127.0.0.1", server.port(), fastCheck(3, 2));
  auto health = t.health;
  checker.update({t});
  // Each check is counted before its verdict is recorded: whenever the endpoint is seen
  // unhealthy, at least `unhealthy_threshold` checks have failed.
  ASSERT_TRUE(waitFor([&] { return !(*health)[0].healthy(); }));
  EXPECT_GE(metric(checker, checks("ns/svc:80", "fail")), 3);
  EXPECT_EQ(metric(checker, "atrium_endpoint_healthy{cluster=\"ns/svc:80\",endpoint=\"127.0.0.1:" +
                                std::to_string(server.port()) + "\"}"),
            0);

  EXPECT_EQ(metric(checker, checks("ns/svc:80", "pass")), 0);
  server.setStatus(200);
  ASSERT_TRUE(waitFor([&] { return (*health)[0].healthy(); }));
  EXPECT_GE(metric(checker, checks("ns/svc:80", "pass")), 2);
  EXPECT_EQ(metric(checker, "atrium_endpoint_healthy{cluster=\"ns/svc:80\",endpoint=\"127.0.0.1:" +
                                std::to_string(server.port()) + "\"}"),
            1);
}

TEST(HealthCheckerTest, RedirectPassesAndServerErrorFails) {
  TestServer redirect(302), error(500);
  HealthChecker checker;
  checker.start();
  auto a = target("127.0.0.1", redirect.port(), fastCheck(1, 1), "a");
  auto b = target("127.0.0.1", error.port(), fastCheck(1, 1), "b");
  checker.update({a, b});
  ASSERT_TRUE(waitFor([&] { return !(*b.health)[0].healthy(); }));
  ASSERT_TRUE(waitFor([&] { return metric(checker, checks("a", "pass")) >= 2; }));
  EXPECT_TRUE((*a.health)[0].healthy());
  EXPECT_EQ(metric(checker, checks("a", "fail")), 0);
}

TEST(HealthCheckerTest, ConnectionRefusedCountsAsAFailure) {
  HealthChecker checker;
  checker.start();
  auto t = target("127.0.0.1", closedPort(), fastCheck(2, 1));
  checker.update({t});
  ASSERT_TRUE(waitFor([&] { return !(*t.health)[0].healthy(); }));
  EXPECT_GE(metric(checker, checks("ns/svc:80", "fail")), 2);
  EXPECT_EQ(metric(checker, checks("ns/svc:80", "pass")), 0);
}

TEST(HealthCheckerTest, ServerThatNeverAnswersTimesOut) {
  TestServer server(200);
  server.setHang(true);
  HealthChecker checker;
  checker.start();
  auto hc = fastCheck(2, 1);
  hc.timeout_ms = 100;
  auto t = target("127.0.0.1", server.port(), hc);
  checker.update({t});
  ASSERT_TRUE(waitFor([&] { return !(*t.health)[0].healthy(); }));
  // Each check got its own connection and gave up on it: the loop goes on.
  EXPECT_GE(server.connections(), 2);
  EXPECT_EQ(metric(checker, checks("ns/svc:80", "pass")), 0);
  // The server answers again: the endpoint comes back.
  server.setHang(false);
  ASSERT_TRUE(waitFor([&] { return (*t.health)[0].healthy(); }));
}

TEST(HealthCheckerTest, ResolvesHostNames) {
  TestServer server(503);
  HealthChecker checker;
  checker.start();
  auto t = target("localhost", server.port(), fastCheck(1, 1));
  t.host_header = "svc.example";
  checker.update({t});
  ASSERT_TRUE(waitFor([&] { return !(*t.health)[0].healthy(); }));
  EXPECT_NE(server.lastRequest().find("Host: svc.example\r\n"), std::string::npos);
}

TEST(HealthCheckerTest, UpdateWithoutTheTargetStopsItsProbes) {
  TestServer server(200);
  HealthChecker checker;
  checker.start();
  checker.update({target("127.0.0.1", server.port(), fastCheck())});
  ASSERT_TRUE(waitFor([&] { return server.connections() >= 2; }));
  checker.update({});
  ASSERT_TRUE(waitFor([&] { return checker.renderMetrics().empty(); }));
  // A check in flight when the update was applied may still land; none after it.
  std::this_thread::sleep_for(60ms);
  const int after = server.connections();
  std::this_thread::sleep_for(250ms);
  EXPECT_EQ(server.connections(), after);
}

TEST(HealthCheckerTest, NewHealthSetWithSameSettingsKeepsTheLoopAndGetsTheVerdicts) {
  TestServer server(200);
  HealthChecker checker;
  checker.start();
  auto first = target("127.0.0.1", server.port(), fastCheck(1, 1));
  checker.update({first});
  ASSERT_TRUE(waitFor([&] { return metric(checker, checks("ns/svc:80", "pass")) >= 1; }));
  // A reload: same cluster and check, a new set (inheriting the old one's state).
  auto second = target("127.0.0.1", server.port(), fastCheck(1, 1));
  second.health->inheritFrom(*first.health);
  checker.update({second});
  server.setStatus(503);
  ASSERT_TRUE(waitFor([&] { return !(*second.health)[0].healthy(); }));
  // The counters went on from where they were rather than starting over.
  EXPECT_GE(metric(checker, checks("ns/svc:80", "pass")), 1);
}

TEST(HealthCheckerTest, SkippedEndpointsAreNeverProbedAndStayHealthy) {
  TestServer skipped(503), checked(503);
  const uint16_t skip_port = skipped.port();
  HealthChecker checker(
      [skip_port](const std::string& host, uint16_t port) { return port == skip_port; });
  checker.start();
  HealthTarget t = target("127.0.0.1", skip_port, fastCheck(1, 1));
  t.endpoints.push_back({"127.0.0.1", checked.port()});
  t.health = std::make_shared<HealthSet>(2);
  checker.update({t});
  ASSERT_TRUE(waitFor([&] { return !(*t.health)[1].healthy(); }));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(skipped.connections(), 0);
  EXPECT_TRUE((*t.health)[0].healthy());
}

TEST(HealthCheckerTest, RenderMetricsShowsCountersAndGaugesOfCurrentTargets) {
  TestServer good(200), bad(503);
  HealthChecker checker;
  EXPECT_EQ(checker.renderMetrics(), "");
  checker.start();
  auto a = target("127.0.0.1", good.port(), fastCheck(1, 1), "ns/good:80");
  auto b = target("127.0.0.1", bad.port(), fastCheck(1, 1), "ns/bad:80");
  checker.update({a, b});
  ASSERT_TRUE(waitFor([&] { return !(*b.health)[0].healthy(); }));
  ASSERT_TRUE(waitFor([&] { return metric(checker, checks("ns/good:80", "pass")) >= 1; }));
  const std::string text = checker.renderMetrics();
  EXPECT_NE(text.find("# TYPE atrium_health_checks_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE atrium_endpoint_healthy gauge\n"), std::string::npos) << text;
  EXPECT_NE(text.find("atrium_endpoint_healthy{cluster=\"ns/good:80\",endpoint=\"127.0.0.1:" +
                      std::to_string(good.port()) + "\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("atrium_endpoint_healthy{cluster=\"ns/bad:80\",endpoint=\"127.0.0.1:" +
                      std::to_string(bad.port()) + "\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_GE(metric(checker, checks("ns/bad:80", "fail")), 1);
  EXPECT_EQ(metric(checker, checks("ns/bad:80", "pass")), 0);
}

TEST(HealthCheckerTest, TlsUpstreamIsCheckedWithVerification) {
  const auto cert = test_certs::selfSigned("upstream.test");
  TestServer server(200, &cert);
  HealthChecker checker;
  checker.start();
  auto good = target("127.0.0.1", server.port(), fastCheck(1, 1), "tls-good");
  good.tls = true;
  good.tls_verify = true;
  good.tls_ca_pem = cert.cert_pem;
  good.tls_server_name = "upstream.test";
  // The same server, checked for a name its certificate doesn't carry: the handshake fails.
  auto wrong = target("127.0.0.1", server.port(), fastCheck(1, 1), "tls-wrong");
  wrong.tls = true;
  wrong.tls_verify = true;
  wrong.tls_ca_pem = cert.cert_pem;
  wrong.tls_server_name = "other.test";
  checker.update({good, wrong});
  ASSERT_TRUE(waitFor([&] { return !(*wrong.health)[0].healthy(); }));
  ASSERT_TRUE(waitFor([&] { return metric(checker, checks("tls-good", "pass")) >= 2; }));
  EXPECT_TRUE((*good.health)[0].healthy());
  EXPECT_EQ(metric(checker, checks("tls-wrong", "pass")), 0);
}

TEST(HealthCheckerTest, StopAbortsChecksInFlightAndIsIdempotent) {
  TestServer server(200);
  server.setHang(true);
  HealthChecker checker;
  checker.start();
  auto hc = fastCheck();
  hc.timeout_ms = 10'000;
  checker.update({target("127.0.0.1", server.port(), hc)});
  ASSERT_TRUE(waitFor([&] { return server.connections() >= 1; }));
  const auto begin = std::chrono::steady_clock::now();
  checker.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
  checker.stop();
  checker.update({target("127.0.0.1", server.port(), hc)});  // ignored after stop
}

TEST(HealthCheckerTest, DestructorStopsWithoutStart) {
  HealthChecker checker;
  checker.update({target("127.0.0.1", closedPort(), fastCheck())});
}

}  // namespace
}  // namespace atrium::proxy::upstream
