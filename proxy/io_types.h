#pragma once
// The I/O types of the data plane. Sockets and coroutines are bound to the concrete
// io_context executor rather than the type-erased any_io_executor: every async operation
// otherwise copies and destroys a polymorphic executor, which showed up at several percent of
// the proxy's CPU in profiles.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace atrium::proxy {

using Executor = boost::asio::io_context::executor_type;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, Executor>;
using Acceptor = boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, Executor>;
template <class T>
using Task = boost::asio::awaitable<T, Executor>;

}  // namespace atrium::proxy
