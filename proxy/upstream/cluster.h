#pragma once
// A cluster as the data plane uses it: endpoints with pre-parsed addresses and a round-robin
// cursor shared by all workers (one relaxed atomic increment per pick, no lock).
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>
#include <vector>

#include "src/config/snapshot.h"

namespace boost::asio::ssl {
class context;
}

namespace atrium::proxy::upstream {

struct EndpointTarget {
  std::string host;  // IP literal or DNS name
  uint16_t port = 0;
  std::string key;   // "host:port", the access-log "upstream"
  std::string pool_key;  // key, prefixed for TLS clusters by their TLS settings
  bool is_ip = false;
  boost::asio::ip::tcp::endpoint address;  // valid when is_ip
};

class Cluster {
 public:
  // Throws std::runtime_error when the cluster's TLS CA bundle is unusable.
  explicit Cluster(const config::Cluster& spec);

  const std::string& name() const { return name_; }
  bool tls() const { return tls_; }
  // With tls(): the client context (verification settings) and the name to send as SNI and
  // check (empty: the endpoint's host).
  boost::asio::ssl::context* tlsContext() const { return tls_context_.get(); }
  bool tlsVerify() const { return tls_verify_; }
  const std::string& tlsServerName() const { return tls_server_name_; }
  bool empty() const { return endpoints_.empty(); }
  size_t size() const { return endpoints_.size(); }
  // Round-robin across all endpoints; each call moves to the next one. Called on any worker.
  const EndpointTarget& pick() const;
  const EndpointTarget& at(size_t i) const { return endpoints_[i % endpoints_.size()]; }

 private:
  std::string name_;
  bool tls_;
  bool tls_verify_ = false;
  std::string tls_server_name_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  std::vector<EndpointTarget> endpoints_;
  mutable std::atomic<uint32_t> cursor_{0};
};

}  // namespace atrium::proxy::upstream
