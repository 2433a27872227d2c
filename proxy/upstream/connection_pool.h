#pragma once
// Keep-alive connections to upstream endpoints, one pool per worker (no sharing, no locks:
// a connection lives and dies on the worker that opened it). Idle connections are reused
// most-recent-first; ones idle for too long are closed instead of reused.
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/io_types.h"
#include "proxy/tls/stream.h"

namespace atrium::proxy::upstream {

struct UpstreamConnection {
  explicit UpstreamConnection(const Executor& ex) : stream(ex) {}
  tls::Stream stream;  // plain or TLS (clusters with tls)
  boost::beast::flat_buffer buffer;  // bytes read past the previous response (normally none)
  std::string key;                   // pool key, "host:port"
  std::chrono::steady_clock::time_point idle_since;
};

class ConnectionPool {
 public:
  static constexpr size_t kMaxIdlePerEndpoint = 128;
  static constexpr std::chrono::seconds kMaxIdle{30};

  // An idle connection to `key` that still looks open, or nullptr.
  std::unique_ptr<UpstreamConnection> take(const std::string& key);
  // Returns a connection whose last response was read completely and that may be reused.
  void give(std::unique_ptr<UpstreamConnection> conn);
  void clear() { idle_.clear(); }

 private:
  std::unordered_map<std::string, std::vector<std::unique_ptr<UpstreamConnection>>> idle_;
};

}  // namespace atrium::proxy::upstream
