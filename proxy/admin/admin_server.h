#pragma once
// The admin port (SPEC §6): /healthz, /readyz, /metrics, and the protected /config. Runs on its
// own thread and io_context so a busy data plane never delays a probe, and a scrape never
// touches a worker.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace atrium::proxy {

class ProxyEngine;

struct AdminOptions {
  std::string bind = "0.0.0.0";
  uint16_t port = 9901;
  // Bearer token for the protected endpoints when called from outside loopback; empty: those
  // endpoints answer only loopback clients.
  std::string token;
};

class AdminServer {
 public:
  AdminServer(AdminOptions options, ProxyEngine& engine);
  ~AdminServer();

  // Binds and starts the admin thread; throws std::runtime_error with a one-line reason.
  void start();
  void stop();
  uint16_t port() const;

  // Readiness: set once the first full sync is programmed, cleared when draining.
  void setReady(bool ready) { ready_.store(ready); }
  bool ready() const { return ready_.load(); }

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
  std::atomic<bool> ready_{false};
};

}  // namespace atrium::proxy
