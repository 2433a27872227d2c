#include "proxy/upstream/cluster.h"

#include <random>

#include "proxy/tls/tls_server.h"

namespace atrium::proxy::upstream {

Cluster::Cluster(const config::Cluster& spec)
    : name_(spec.name),
      tls_(spec.tls),
      tls_verify_(spec.tls_verify),
      tls_server_name_(spec.tls_server_name) {
  if (tls_) tls_context_ = tls::makeUpstreamContext(spec.tls_verify, spec.tls_ca_pem);
  for (const auto& e : spec.endpoints) {
    EndpointTarget t;
    t.host = e.address;
    t.port = e.port;
    boost::system::error_code ec;
    auto ip = boost::asio::ip::make_address(e.address, ec);
    t.is_ip = !ec;
    if (t.is_ip) t.address = {ip, e.port};
    t.key = (t.is_ip && ip.is_v6() ? "[" + e.address + "]" : e.address) + ":" + std::to_string(e.port);
    // A TLS connection is only reusable for the same TLS settings: the cluster name holds them.
    t.pool_key = tls_ ? "tls|" + name_ + "|" + t.key : t.key;
    endpoints_.push_back(std::move(t));
  }
  // Start each snapshot's rotation at a random place so replicas and reloads don't all hit the
  // first endpoint first.
  if (!endpoints_.empty()) cursor_ = std::random_device{}() % endpoints_.size();
}

const EndpointTarget& Cluster::pick() const {
  uint32_t n = cursor_.fetch_add(1, std::memory_order_relaxed);
  return endpoints_[n % endpoints_.size()];
}

}  // namespace atrium::proxy::upstream
