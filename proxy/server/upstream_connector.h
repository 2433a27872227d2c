#pragma once
// Opens a new connection to one endpoint of a cluster: TCP (resolving a DNS name first), then
// TLS when the cluster speaks it, with SNI and certificate verification as the cluster says.
// No timer of its own: while an operation is pending `active` points at the socket, so the
// caller's deadline (the session's, or an aggregate bundle's) can cancel it.
#include <boost/system/error_code.hpp>
#include <memory>

#include "proxy/io_types.h"

namespace atrium::proxy {
struct SelfPorts;
}

namespace atrium::proxy::upstream {
struct UpstreamConnection;
struct EndpointTarget;
class Cluster;
}  // namespace atrium::proxy::upstream

namespace atrium::proxy::server {

// Refuses (connection_refused) a peer that is this process's own admin or proxy port on
// loopback: a route must never reach the admin server (which trusts loopback) or loop back
// into its own listeners, whatever an ExternalName, a URL or an endpoint says.
Task<std::unique_ptr<upstream::UpstreamConnection>> openUpstreamConnection(
    Executor ex, const upstream::Cluster& cluster, const upstream::EndpointTarget& target,
    const SelfPorts& self_ports, Socket*& active, boost::system::error_code& ec);

}  // namespace atrium::proxy::server
