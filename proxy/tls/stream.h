#pragma once
// A TCP connection that is plain or TLS, decided at run time. It models Asio's AsyncReadStream
// and AsyncWriteStream, so Beast's HTTP operations and asio::async_write use it exactly like a
// socket; the proxy's request cycle is written once for both. The plain path costs one branch
// per operation.
//
// Not movable: the TLS layer refers to the socket it wraps.
#include <boost/asio/async_result.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>

#include "proxy/io_types.h"

namespace atrium::proxy::tls {

class Stream {
 public:
  using executor_type = Executor;
  using TlsLayer = boost::asio::ssl::stream<Socket&>;

  explicit Stream(Socket socket) : socket_(std::move(socket)) {}
  explicit Stream(const Executor& ex) : socket_(ex) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  // The TCP layer: options, cancel, shutdown, close.
  Socket& socket() { return socket_; }
  bool isTls() const { return tls_ != nullptr; }
  TlsLayer& tlsLayer() { return *tls_; }
  // Wraps the socket in TLS with `context`; the caller then runs the handshake on tlsLayer().
  void startTls(boost::asio::ssl::context& context) {
    tls_ = std::make_unique<TlsLayer>(socket_, context);
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_) {
            tls_->async_read_some(b, std::move(handler));
          } else {
            socket_.async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_) {
            tls_->async_write_some(b, std::move(handler));
          } else {
            socket_.async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

 private:
  Socket socket_;
  std::unique_ptr<TlsLayer> tls_;
};

}  // namespace atrium::proxy::tls
