#pragma once
// One client connection, run as a C++20 coroutine on its worker. The request cycle reads like
// the protocol: read a header → check it → route → forward and stream the body → relay the
// response → keep alive or close. (DESIGN.md suggests Beast's do_x/on_x callback pairs; a
// coroutine keeps the same discipline — one timeout before every async operation, a fresh
// parser per message — with the relay loops and retries written as plain loops, which is
// easier to get right. Asio recycles coroutine frames per thread, so this costs no allocation
// per operation.)
#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "proxy/http/path_normalizer.h"
#include "proxy/server/proxy_config.h"

namespace atrium::proxy::upstream {
struct UpstreamConnection;
struct EndpointTarget;
}  // namespace atrium::proxy::upstream

namespace atrium::proxy::server {

class Worker;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Worker& worker, boost::asio::ip::tcp::socket socket);
  ~Session();

  boost::asio::awaitable<void> run();
  // Worker thread: closes the connection if it is waiting for a next request (drain).
  void closeIfIdle();

 private:
  using RequestParser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;
  using ResponseParser = boost::beast::http::response_parser<boost::beast::http::buffer_body>;

  struct Exchange;  // per-request state, defined in session.cc

  boost::asio::awaitable<bool> handleRequest();
  boost::asio::awaitable<bool> forward(Exchange& x, const RouteRuntime& route);
  // Streams the upstream response to the client; pools the upstream connection when it can be
  // reused. Returns whether the client connection stays open.
  boost::asio::awaitable<bool> relayResponse(Exchange& x, ResponseParser& rp,
                                             std::unique_ptr<upstream::UpstreamConnection>& conn,
                                             const RouteRuntime& route, bool client_keep);
  boost::asio::awaitable<std::unique_ptr<upstream::UpstreamConnection>> connect(
      const upstream::EndpointTarget& target, std::chrono::milliseconds timeout,
      boost::system::error_code& ec);
  boost::asio::awaitable<bool> sendLocal(Exchange& x, int status, std::string_view content_type,
                                         std::string body, bool keep_alive,
                                         const std::vector<std::pair<std::string, std::string>>&
                                             extra_headers = {});
  boost::asio::awaitable<bool> sendError(Exchange& x, int status, std::string_view code,
                                         std::string_view message, bool keep_alive);
  // Answers a request the parser rejected, then the connection closes.
  boost::asio::awaitable<void> rejectUnparsable(int status, std::string_view code,
                                                std::string_view message);
  void finish(Exchange& x);

  // Starts the request-header deadline: when it passes, the pending header read is cancelled
  // (not the socket closed, as tcp_stream's own timeout would) so a 408 can still be sent.
  void armHeaderDeadline(std::chrono::steady_clock::duration timeout);
  void disarmHeaderDeadline();

  Worker& worker_;
  boost::beast::tcp_stream stream_;
  boost::asio::steady_timer header_timer_;
  uint64_t header_deadline_id_ = 0;  // tells a stale timer completion from the current one
  bool reading_header_ = false;
  bool header_timed_out_ = false;
  boost::beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::string client_ip_;
  std::array<uint8_t, 16> client_ip_bytes_{};
  bool idle_ = false;
  std::array<char, 16 * 1024> body_buffer_;
  http::NormalizedTarget target_;
};

}  // namespace atrium::proxy::server
