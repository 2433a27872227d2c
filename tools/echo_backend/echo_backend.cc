// echo-backend: the demo upstream for examples/, the integration tests and bench/.
//
// Every request is answered 200 with a JSON description of what arrived (service, instance,
// method, raw target, Host, headers, body length), so a test can assert what the gateway
// forwarded and which replica served it. Request headers steer the answer (status, delay, a
// synthetic body of a given size, chunking, Connection: close, an extra header) so tests need
// no other server.
//
// It sits behind every proxy in bench/, so it must never be the bottleneck: one io_context per
// thread, one shared acceptor handing sockets out round-robin, no per-request JSON library, no
// copy of request bodies (they are counted, not kept), and scratch buffers reused per connection.
//
// With --tls-cert/--tls-key it serves HTTPS instead (TLS 1.2+, ALPN http/1.1), the upstream of
// the gateway's backend-TLS tests. One session template serves both: the plain instantiation
// is the same code as before TLS existed, so the benchmark path pays nothing for it. The answer
// says which it was ("tls": true/false).
//
// Flags: --bind ADDR --port N --name NAME --instance ID --threads N
//        --tls-cert PATH --tls-key PATH --help
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using beast::error_code;

// --- bodies ------------------------------------------------------------------------------------

// A request body that is only counted: tests upload bodies of any size (chunked or with a
// Content-Length) and the echo reports the decoded length without holding the bytes.
struct CountingBody {
  using value_type = std::uint64_t;

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& count) : count_(count) {}
    void init(const boost::optional<std::uint64_t>&, error_code& ec) {
      count_ = 0;
      ec = {};
    }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      const std::size_t n = net::buffer_size(buffers);
      count_ += n;
      ec = {};
      return n;
    }
    void finish(error_code& ec) { ec = {}; }

   private:
    value_type& count_;
  };
};

// 16 KiB of 'x': the piece size of synthetic bodies, so X-Echo-Chunked answers arrive in
// ~16 KiB chunks and a body of any size is produced without allocating it.
constexpr std::size_t kFillPiece = 16 * 1024;
const char* fillBytes() {
  static const std::array<char, kFillPiece> bytes = [] {
    std::array<char, kFillPiece> a;
    a.fill('x');
    return a;
  }();
  return bytes.data();
}

// The response body: either text owned by the session (the JSON echo, kept alive until the
// write completes) or `fill` bytes of 'x' generated piece by piece.
struct EchoBody {
  struct value_type {
    std::string_view text;
    std::uint64_t fill = 0;
    bool use_fill = false;
  };

  static std::uint64_t size(const value_type& v) { return v.use_fill ? v.fill : v.text.size(); }

  class writer {
   public:
    using const_buffers_type = net::const_buffer;

    template <bool isRequest, class Fields>
    writer(const http::header<isRequest, Fields>&, const value_type& body) : body_(body) {}

    void init(error_code& ec) {
      remaining_ = size(body_);
      ec = {};
    }

    boost::optional<std::pair<const_buffers_type, bool>> get(error_code& ec) {
      ec = {};
      if (remaining_ == 0) return boost::none;
      if (!body_.use_fill) {
        remaining_ = 0;
        return {{net::const_buffer(body_.text.data(), body_.text.size()), false}};
      }
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, kFillPiece));
      remaining_ -= n;
      return {{net::const_buffer(fillBytes(), n), remaining_ > 0}};
    }

   private:
    const value_type& body_;
    std::uint64_t remaining_ = 0;
  };
};

using Request = http::request<CountingBody>;
using Response = http::response<EchoBody>;

// --- JSON text ---------------------------------------------------------------------------------

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes there are not one.
// Header values may carry obs-text; invalid bytes become U+FFFD so the output is always JSON.
std::size_t utf8SequenceLength(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // > U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return len;
}

void appendJsonString(std::string& out, std::string_view s, bool lower = false) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t len = utf8SequenceLength(s, i);
      if (len == 0) {
        out.append("\\ufffd");
        ++i;
      } else {
        out.append(s.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20) {
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(lower && c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32)
                                                      : static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

bool iequals(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

template <class T>
bool parseNumber(std::string_view text, T& out) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool isTokenChar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// --- options -----------------------------------------------------------------------------------

struct Options {
  std::string bind = "127.0.0.1";
  unsigned short port = 0;
  std::string name = "echo";
  std::string instance;  // default "<name>-<pid>"
  unsigned threads = 1;
  std::string tls_cert;  // PEM leaf (+ chain); with tls_key: serve HTTPS
  std::string tls_key;   // PEM private key (RSA or EC)
};

// Everything a session needs to answer, shared read-only by all threads.
struct ServerInfo {
  std::string name;
  std::string instance;
  std::string json_prefix;  // {"service":…,"instance":…,"tls":…, — identical for every answer
};

// A hung TLS handshake or close_notify exchange must not pin a connection forever.
constexpr auto kTlsTimeout = std::chrono::seconds(10);

// --- one connection ----------------------------------------------------------------------------

// Runs on the io_context that owns its socket; every handler of one session runs on that thread,
// so nothing here is locked. Buffers (read buffer, JSON text, header scratch) live as long as the
// connection and keep their capacity between requests.
//
// Stream is tcp::socket (HTTP) or beast::ssl_stream<tcp::socket> (HTTPS); the TLS-only steps
// (handshake, close_notify) are compiled into the HTTPS instantiation alone.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;
  using std::enable_shared_from_this<Session>::shared_from_this;

 public:
  Session(tcp::socket socket, const ServerInfo& info)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), info_(info) {
    json_.reserve(1024);
  }
  Session(tcp::socket socket, ssl::context& tls, const ServerInfo& info)
      : stream_(std::move(socket), tls), timer_(stream_.get_executor()), info_(info) {
    json_.reserve(1024);
  }

  void start() {
    if constexpr (kTls) {
      doHandshake();
    } else {
      doReadHeader();
    }
  }

 private:
  tcp::socket& socket() { return beast::get_lowest_layer(stream_); }

  // HTTPS only: the server handshake, bounded by a timer that closes the socket.
  void doHandshake() {
    armTlsTimer();
    stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
      self->timer_.cancel();
      if (ec) return self->close();
      self->doReadHeader();
    });
  }

  void armTlsTimer() {
    timer_.expires_after(kTlsTimeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->close();  // expired, not cancelled
    });
  }

  void doReadHeader() {
    // A fresh parser per message: limits and state never leak from one request to the next.
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->body_limit(boost::none);  // uploads of any size; only their length is kept
    // Beast leaves a scalar body uninitialised when the request has none.
    parser_->get().body() = 0;
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->onReadHeader(ec); });
  }

  void onReadHeader(error_code ec) {
    if (ec) return close();  // EOF, reset or a malformed request: drop the connection
    if (parser_->is_done()) return respond();
    // Clients such as curl wait for "100 Continue" before sending a large body.
    const auto expect = parser_->get()[http::field::expect];
    if (iequals(expect, "100-continue") && parser_->get().version() >= 11) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue),
                       [self = shared_from_this()](error_code ec, std::size_t) {
                         if (ec) return self->close();
                         self->doReadBody();
                       });
      return;
    }
    doReadBody();
  }

  void doReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, std::size_t) {
                       if (ec) return self->close();
                       self->respond();
                     });
  }

  void respond() {
    const Request& req = parser_->get();
    res_.emplace();
    Response& res = *res_;
    res.version(11);
    res.result(http::status::ok);
    bool keep_alive = req.keep_alive();

    // Control headers. Invalid values are ignored rather than rejected: the echo is a test
    // fixture and answers whatever it can.
    std::uint64_t delay_ms = 0;
    std::optional<std::uint64_t> body_size;
    bool chunked = false;
    for (const auto& f : req) {
      const std::string_view name = f.name_string();
      if (name.size() < 7 || !iequals(name.substr(0, 7), "x-echo-")) continue;
      const std::string_view key = name.substr(7);
      const std::string_view value = f.value();
      if (iequals(key, "status")) {
        unsigned status = 0;
        if (parseNumber(value, status) && status >= 200 && status <= 599) res.result(status);
      } else if (iequals(key, "delay-ms")) {
        std::uint64_t ms = 0;
        if (parseNumber(value, ms)) delay_ms = std::min<std::uint64_t>(ms, 600'000);
      } else if (iequals(key, "body-size")) {
        std::uint64_t n = 0;
        if (parseNumber(value, n)) body_size = n;
      } else if (iequals(key, "chunked")) {
        chunked = isTrue(value);
      } else if (iequals(key, "close")) {
        if (isTrue(value)) keep_alive = false;
      } else if (iequals(key, "header")) {
        addExtraHeader(res, value);
      }
    }
    res.set("X-Echo-Instance", info_.instance);

    const unsigned status = res.result_int();
    const bool no_body = status == 204 || status == 304;
    const bool head = req.method() == http::verb::head;
    auto& body = res.body();
    if (no_body) {
      body = {};
    } else if (body_size) {
      res.set(http::field::content_type, "text/plain");
      body.use_fill = true;
      body.fill = *body_size;
      // An HTTP/1.0 client cannot read chunked framing; it gets a Content-Length instead.
      if (chunked && req.version() >= 11 && !head) {
        res.chunked(true);
      } else {
        res.content_length(*body_size);
      }
    } else {
      res.set(http::field::content_type, "application/json");
      buildJson(req);
      body.text = json_;
      res.content_length(json_.size());
    }
    if (head) body = {};  // HEAD: the headers of the answer a GET would get, without its body

    res.keep_alive(keep_alive);
    // An HTTP/1.1 answer implies keep-alive, but 1.0 clients (ab -k) need to be told.
    if (keep_alive && req.version() < 11) res.set(http::field::connection, "keep-alive");

    if (delay_ms == 0) return doWrite();
    timer_.expires_after(std::chrono::milliseconds(delay_ms));
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return self->close();
      self->doWrite();
    });
  }

  static bool isTrue(std::string_view v) { return v == "1" || iequals(v, "true"); }

  // "X-Echo-Header: Name: value". Framing headers are refused: letting a test override them
  // would desynchronise the connection instead of testing anything.
  static void addExtraHeader(Response& res, std::string_view spec) {
    const auto colon = spec.find(':');
    if (colon == std::string_view::npos || colon == 0) return;
    const std::string_view name = spec.substr(0, colon);
    std::string_view value = spec.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    if (!std::all_of(name.begin(), name.end(),
                     [](char c) { return isTokenChar(static_cast<unsigned char>(c)); })) {
      return;
    }
    if (iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
        iequals(name, "connection")) {
      return;
    }
    // The parser already refused CR, LF and NUL in request header values.
    res.insert(name, value);
  }

  // The echo document, written by hand into a reused string: this runs for every benchmark
  // request, and a JSON DOM would cost more than the rest of the request handling.
  void buildJson(const Request& req) {
    json_.assign(info_.json_prefix);
    json_.append(",\"method\":");
    appendJsonString(json_, req.method_string());
    json_.append(",\"path\":");
    appendJsonString(json_, req.target());
    json_.append(",\"host\":");
    appendJsonString(json_, req[http::field::host]);
    json_.append(",\"headers\":{");

    // Repeated headers are joined with ", " in order of arrival, as RFC 9110 allows a recipient
    // to combine them. Header counts are small, so a quadratic scan beats any map.
    headers_.clear();
    for (const auto& f : req) headers_.emplace_back(f.name_string(), f.value());
    bool first = true;
    for (std::size_t i = 0; i < headers_.size(); ++i) {
      if (headers_[i].first.data() == nullptr) continue;  // already joined into an earlier one
      if (!first) json_.push_back(',');
      first = false;
      appendJsonString(json_, headers_[i].first, /*lower=*/true);
      json_.push_back(':');
      const std::string_view name = headers_[i].first;
      bool repeated = false;
      for (std::size_t j = i + 1; j < headers_.size(); ++j) {
        if (headers_[j].first.data() != nullptr && iequals(headers_[j].first, name)) {
          repeated = true;
          break;
        }
      }
      if (!repeated) {
        appendJsonString(json_, headers_[i].second);
        continue;
      }
      joined_.assign(headers_[i].second);
      for (std::size_t j = i + 1; j < headers_.size(); ++j) {
        if (headers_[j].first.data() != nullptr && iequals(headers_[j].first, name)) {
          joined_.append(", ");
          joined_.append(headers_[j].second);
          headers_[j].first = {};
        }
      }
      appendJsonString(json_, joined_);
    }
    json_.append("},\"bodyLength\":");
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, req.body());
    json_.append(digits, end);
    json_.push_back('}');
  }

  void doWrite() {
    http::async_write(stream_, *res_, [self = shared_from_this()](error_code ec, std::size_t) {
      self->onWrite(ec);
    });
  }

  void onWrite(error_code ec) {
    if (ec) return close();
    const bool keep_alive = res_->keep_alive();
    res_.reset();
    if (!keep_alive) {
      if constexpr (kTls) {
        // close_notify first, so the client can tell the end of the answer from a truncation;
        // the timer bounds the wait for the peer's own close_notify.
        armTlsTimer();
        stream_.async_shutdown([self = shared_from_this()](error_code) {
          self->timer_.cancel();
          self->close();
        });
        return;
      }
      // Half-close so the client reads the whole answer before it sees the connection end.
      socket().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    doReadHeader();
  }

  void close() {
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  Stream stream_;
  net::steady_timer timer_;
  const ServerInfo& info_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<CountingBody>> parser_;
  std::optional<Response> res_;  // alive until its write completes; its body points at json_
  std::string json_;
  std::string joined_;
  std::vector<std::pair<std::string_view, std::string_view>> headers_;  // views into the request
};

// --- accepting ---------------------------------------------------------------------------------

// One acceptor on the first io_context; each accepted socket is created directly on the next
// worker's io_context (round-robin), so load spreads evenly even with few long-lived
// connections, which SO_REUSEPORT's hashing does not guarantee.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // `tls`: null for HTTP; else the server context every HTTPS session uses (outlives us).
  Listener(net::io_context& ioc, std::vector<net::io_context*> workers, const ServerInfo& info,
           ssl::context* tls)
      : acceptor_(ioc), retry_timer_(ioc), workers_(std::move(workers)), info_(info), tls_(tls) {}

  void listen(const tcp::endpoint& endpoint) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  tcp::endpoint localEndpoint() const { return acceptor_.local_endpoint(); }

  void doAccept() {
    net::io_context& target = *workers_[next_++ % workers_.size()];
    acceptor_.async_accept(target, [self = shared_from_this()](error_code ec, tcp::socket s) {
      self->onAccept(ec, std::move(s));
    });
  }

  void stop() {
    error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
  }

 private:
  void onAccept(error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors (EMFILE/ENFILE) or a transient error: back off briefly instead of
      // spinning, and keep serving the connections already open.
      std::fprintf(stderr, "echo-backend: accept: %s\n", ec.message().c_str());
      retry_timer_.expires_after(std::chrono::milliseconds(50));
      retry_timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (!ec) self->doAccept();
      });
      return;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    // Start the session on the thread that owns the socket.
    auto executor = socket.get_executor();
    net::post(executor, [s = std::move(socket), &info = info_, tls = tls_]() mutable {
      if (tls) {
        std::make_shared<Session<beast::ssl_stream<tcp::socket>>>(std::move(s), *tls, info)
            ->start();
      } else {
        std::make_shared<Session<tcp::socket>>(std::move(s), info)->start();
      }
    });
    doAccept();
  }

  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  std::vector<net::io_context*> workers_;
  std::size_t next_ = 0;
  const ServerInfo& info_;
  ssl::context* tls_;
};

// --- TLS ---------------------------------------------------------------------------------------

// ALPN: pick http/1.1 when the client offers it; otherwise no protocol is selected and the
// handshake goes on (HTTP/1.1 is what the client gets anyway).
int selectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  static constexpr unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kHttp11, sizeof kHttp11, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// The HTTPS server context, or an error message naming the file that could not be used.
std::optional<std::string> configureTls(ssl::context& ctx, const Options& options) {
  SSL_CTX* native = ctx.native_handle();
  // TLS 1.0/1.1 are off: the gateway's upstream client must not get away with them either.
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  error_code ec;
  ctx.use_certificate_chain_file(options.tls_cert, ec);
  if (ec) return "--tls-cert: cannot use '" + options.tls_cert + "': " + ec.message();
  ctx.use_private_key_file(options.tls_key, ssl::context::pem, ec);
  if (ec) return "--tls-key: cannot use '" + options.tls_key + "': " + ec.message();
  if (SSL_CTX_check_private_key(native) != 1) {
    return "--tls-key: '" + options.tls_key + "' does not match the certificate in '" +
           options.tls_cert + "'";
  }
  SSL_CTX_set_alpn_select_cb(native, selectAlpn, nullptr);
  return std::nullopt;
}

// --- flags -------------------------------------------------------------------------------------

constexpr const char* kUsage =
    "usage: echo-backend [--bind ADDR] [--port N] [--name NAME] [--instance ID] [--threads N]\n"
    "                    [--tls-cert PATH --tls-key PATH]\n"
    "  --bind ADDR     address to listen on (default 127.0.0.1)\n"
    "  --port N        port, 0 for an ephemeral one (default 0)\n"
    "  --name NAME     service name reported in answers (default echo)\n"
    "  --instance ID   instance id reported in answers and X-Echo-Instance (default NAME-PID)\n"
    "  --threads N     worker threads, 0 = one per core (default 1)\n"
    "  --tls-cert PATH PEM certificate (leaf first, then its chain); with --tls-key, serve\n"
    "                  HTTPS (TLS 1.2 and 1.3, ALPN http/1.1) instead of HTTP\n"
    "  --tls-key PATH  PEM private key (RSA or EC) of that certificate\n"
    "Prints 'echo-backend listening on ADDR:PORT' once listening. Every request gets a JSON\n"
    "echo (with \"tls\": true over HTTPS); request headers X-Echo-Status, X-Echo-Delay-Ms,\n"
    "X-Echo-Body-Size, X-Echo-Chunked, X-Echo-Close and X-Echo-Header: 'Name: value' shape\n"
    "the answer.\n";

[[noreturn]] void usageError(const std::string& message) {
  std::fprintf(stderr, "echo-backend: %s (see --help)\n", message.c_str());
  std::exit(2);
}

Options parseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    std::string value;
    if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else if (arg == "--bind" || arg == "--port" || arg == "--name" || arg == "--instance" ||
               arg == "--threads" || arg == "--tls-cert" || arg == "--tls-key") {
      if (i + 1 >= argc) usageError(arg + " needs a value");
      value = argv[++i];
    } else {
      usageError("unknown argument '" + arg + "'");
    }
    if (arg == "--bind") {
      options.bind = value;
    } else if (arg == "--port") {
      if (!parseNumber(std::string_view(value), options.port)) {
        usageError("--port: '" + value + "' is not a port number");
      }
    } else if (arg == "--name") {
      if (value.empty()) usageError("--name must not be empty");
      options.name = value;
    } else if (arg == "--instance") {
      if (value.empty()) usageError("--instance must not be empty");
      options.instance = value;
    } else if (arg == "--threads") {
      if (!parseNumber(std::string_view(value), options.threads) || options.threads > 256) {
        usageError("--threads: '" + value + "' is not a thread count (0-256)");
      }
    } else if (arg == "--tls-cert") {
      if (value.empty()) usageError("--tls-cert must not be empty");
      options.tls_cert = value;
    } else if (arg == "--tls-key") {
      if (value.empty()) usageError("--tls-key must not be empty");
      options.tls_key = value;
    } else {
      usageError("unknown argument '" + arg + "'");
    }
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    usageError("--tls-cert and --tls-key go together");
  }
  if (options.threads == 0) options.threads = std::max(1u, std::thread::hardware_concurrency());
  if (options.instance.empty()) options.instance = options.name + "-" + std::to_string(getpid());
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parseOptions(argc, argv);

  ServerInfo info;
  info.name = options.name;
  info.instance = options.instance;
  info.json_prefix = "{\"service\":";
  appendJsonString(info.json_prefix, info.name);
  info.json_prefix += ",\"instance\":";
  appendJsonString(info.json_prefix, info.instance);
  const bool tls = !options.tls_cert.empty();
  info.json_prefix += tls ? ",\"tls\":true" : ",\"tls\":false";

  std::optional<ssl::context> tls_context;
  if (tls) {
    tls_context.emplace(ssl::context::tls_server);
    if (const auto error = configureTls(*tls_context, options)) {
      std::fprintf(stderr, "echo-backend: %s\n", error->c_str());
      return 1;
    }
  }

  error_code ec;
  const auto address = net::ip::make_address(options.bind, ec);
  if (ec) usageError("--bind: '" + options.bind + "' is not an IP address");

  // Concurrency hint 1: each io_context is run by exactly one thread.
  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<net::io_context*> workers;
  for (unsigned i = 0; i < options.threads; ++i) {
    contexts.push_back(std::make_unique<net::io_context>(1));
    workers.push_back(contexts.back().get());
  }
  net::io_context& main_ioc = *contexts.front();

  auto listener =
      std::make_shared<Listener>(main_ioc, workers, info, tls_context ? &*tls_context : nullptr);
  try {
    listener->listen(tcp::endpoint(address, options.port));
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "echo-backend: cannot listen on %s:%u: %s\n", options.bind.c_str(),
                 options.port, e.code().message().c_str());
    return 1;
  }
  const tcp::endpoint local = listener->localEndpoint();
  const std::string shown = local.address().is_v6() ? "[" + local.address().to_string() + "]"
                                                    : local.address().to_string();
  // Tests and bench/run.sh read the port from this line, so it is printed exactly once and
  // flushed before anything else could buffer it.
  std::printf("echo-backend listening on %s:%u\n", shown.c_str(), local.port());
  std::fflush(stdout);
  listener->doAccept();

  // Keep every worker's run() alive while it has no connection yet.
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (auto* ioc : workers) guards.push_back(net::make_work_guard(*ioc));

  std::optional<net::signal_set> signals(std::in_place, main_ioc, SIGINT, SIGTERM);
  signals->async_wait([&](error_code, int) {
    listener->stop();
    for (auto* ioc : workers) ioc->stop();
  });

  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers.size(); ++i) {
    threads.emplace_back([ioc = workers[i]] { ioc->run(); });
  }
  main_ioc.run();
  for (auto& t : threads) t.join();

  // I/O objects go before their io_context, and the first context before the others: its
  // pending accept may hold a socket of another context.
  guards.clear();
  signals.reset();
  listener.reset();
  for (auto& ioc : contexts) ioc.reset();
  return 0;
}
