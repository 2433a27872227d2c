#include "proxy/server/upstream_connector.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/proxy_engine.h"
#include "proxy/upstream/cluster.h"
#include "proxy/upstream/connection_pool.h"

namespace atrium::proxy::server {

namespace net = boost::asio;

namespace {
constexpr auto kNoThrow = net::as_tuple(net::use_awaitable_t<Executor>{});

bool isLoopback(const net::ip::address& address) {
  return address.is_loopback() ||
         (address.is_v6() && address.to_v6().is_v4_mapped() &&
          net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).is_loopback());
}
}  // namespace

Task<std::unique_ptr<upstream::UpstreamConnection>> openUpstreamConnection(
    Executor ex, const upstream::Cluster& cluster, const upstream::EndpointTarget& target,
    const SelfPorts& self_ports, Socket*& active, boost::system::error_code& ec) {
  auto conn = std::make_unique<upstream::UpstreamConnection>(ex);
  conn->key = target.pool_key;
  active = &conn->stream.socket();
  if (target.is_ip) {
    std::tie(ec) = co_await conn->stream.socket().async_connect(target.address, kNoThrow);
  } else {
    // ExternalName services and URL backends with DNS names resolve per new connection.
    net::ip::basic_resolver<net::ip::tcp, Executor> resolver(ex);
    auto [rec, results] =
        co_await resolver.async_resolve(target.host, std::to_string(target.port), kNoThrow);
    ec = rec;
    if (!ec) std::tie(ec, std::ignore) = co_await net::async_connect(conn->stream.socket(), results, kNoThrow);
  }
  active = nullptr;
  if (ec) co_return nullptr;
  boost::system::error_code ignored;
  if (auto peer = conn->stream.socket().remote_endpoint(ignored); !ignored) {
    if (isLoopback(peer.address()) && self_ports.contains(peer.port())) {
      ec = net::error::connection_refused;
      co_return nullptr;
    }
  }
  conn->stream.socket().set_option(net::ip::tcp::no_delay(true), ignored);
  if (cluster.tls()) {
    conn->stream.startTls(*cluster.tlsContext());
    SSL* ssl = conn->stream.tlsLayer().native_handle();
    const std::string& name = cluster.tlsServerName().empty() ? target.host : cluster.tlsServerName();
    if (!target.is_ip || !cluster.tlsServerName().empty()) {
      SSL_set_tlsext_host_name(ssl, name.c_str());
    }
    if (cluster.tlsVerify()) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      if (target.is_ip && cluster.tlsServerName().empty()) {
        X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
      } else {
        X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
      }
    }
    active = &conn->stream.socket();
    std::tie(ec) =
        co_await conn->stream.tlsLayer().async_handshake(net::ssl::stream_base::client, kNoThrow);
    active = nullptr;
    if (ec) co_return nullptr;
  }
  co_return conn;
}

}  // namespace atrium::proxy::server
