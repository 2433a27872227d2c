#include "controller/k8s/api_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <stdexcept>

namespace atrium::controller::k8s {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr uint64_t kMaxListBody = 512ull * 1024 * 1024;  // a LIST page of big objects
constexpr size_t kMaxWatchLine = 64ull * 1024 * 1024;    // one event (one object) at most

bool isIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

std::string encodeQueryValue(const std::string& value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string ApiResponse::describe() const {
  if (!error.empty()) return error;
  std::string text = "HTTP " + std::to_string(status);
  if (body.is_object() && body.contains("message") && body["message"].is_string()) {
    text += ": " + body["message"].get<std::string>();
  }
  return text;
}

struct ApiClient::Impl {
  net::io_context& io;
  ClusterConfig config;
  Timeouts timeouts;
  ssl::context tls{ssl::context::tls_client};

  Impl(net::io_context& io_in, ClusterConfig config_in, Timeouts timeouts_in)
      : io(io_in), config(std::move(config_in)), timeouts(timeouts_in) {
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    if (config.insecure_skip_tls_verify) {
      tls.set_verify_mode(ssl::verify_none);
    } else {
      // Verification stops a man in the middle from reading the token and feeding us routes.
      tls.set_verify_mode(ssl::verify_peer);
      if (config.ca_pem.empty()) {
        tls.set_default_verify_paths(ec);
      } else {
        tls.add_certificate_authority(net::buffer(config.ca_pem), ec);
        if (ec) throw std::runtime_error("API server CA: not a usable PEM certificate");
      }
    }
    if (!config.client_cert_pem.empty()) {
      tls.use_certificate_chain(net::buffer(config.client_cert_pem), ec);
      if (ec) throw std::runtime_error("client certificate: not a usable PEM certificate");
      tls.use_private_key(net::buffer(config.client_key_pem), ssl::context::pem, ec);
      if (ec) throw std::runtime_error("client key: not a usable PEM private key");
    }
  }

  std::string target(const std::string& path_and_query) const {
    return config.base_path + path_and_query;
  }
};

namespace {

// One request on its own connection: resolve → connect → TLS handshake → write → read.
// GETs read the whole body; watches read chunks and cut them into lines as they come.
class Exchange : public ApiRequest, public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(net::io_context& io, ssl::context& tls, const ClusterConfig& config, std::string target,
           ApiClient::Timeouts timeouts)
      : resolver_(io),
        stream_(io, tls),
        config_(config),
        target_(std::move(target)),
        timeouts_(timeouts) {}

  void startGet(ApiClient::ResponseHandler done) {
    done_ = std::move(done);
    begin();
  }

  void startWrite(http::verb method, std::string content_type, std::string body,
                  ApiClient::ResponseHandler done) {
    method_ = method;
    content_type_ = std::move(content_type);
    request_.body() = std::move(body);
    done_ = std::move(done);
    begin();
  }

  void startWatch(ApiClient::EventHandler on_event, ApiClient::ResponseHandler done,
                  std::chrono::milliseconds idle) {
    on_event_ = std::move(on_event);
    done_ = std::move(done);
    watch_ = true;
    idle_ = idle;
    begin();
  }

  void cancel() override {
    if (cancelled_) return;
    cancelled_ = true;
    on_event_ = nullptr;
    done_ = nullptr;
    resolver_.cancel();
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().cancel(ec);
    beast::get_lowest_layer(stream_).close();
  }

 private:
  void begin() {
    // SNI and name checks: hostnames go in SNI and are matched against the certificate's
    // DNS names; IP literals are matched against its IP SANs (SNI must not carry an IP).
    SSL* ssl_handle = stream_.native_handle();
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
    if (isIpLiteral(config_.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, config_.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_handle, config_.host.c_str());
      X509_VERIFY_PARAM_set1_host(param, config_.host.c_str(), 0);
    }
    resolver_.async_resolve(
        config_.host, std::to_string(config_.port),
        [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
          self->onResolve(ec, std::move(results));
        });
  }

  void onResolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return fail("resolving " + config_.host + ": " + ec.message());
    beast::get_lowest_layer(stream_).expires_after(timeouts_.connect);
    beast::get_lowest_layer(stream_).async_connect(
        results, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
          self->onConnect(ec);
        });
  }

  void onConnect(beast::error_code ec) {
    if (ec) return fail("connecting to " + endpointText() + ": " + ec.message());
    beast::get_lowest_layer(stream_).expires_after(timeouts_.connect);
    stream_.async_handshake(
        ssl::stream_base::client,
        [self = shared_from_this()](beast::error_code ec) { self->onHandshake(ec); });
  }

  void onHandshake(beast::error_code ec) {
    if (ec) return fail("TLS handshake with " + endpointText() + ": " + ec.message());
    request_.method(method_);
    request_.target(target_);
    request_.version(11);
    request_.set(http::field::host, hostHeader());
    request_.set(http::field::accept, "application/json");
    request_.set(http::field::user_agent, "atrium");
    request_.set(http::field::connection, "close");
    std::string token = config_.bearerToken();
    if (!token.empty()) request_.set(http::field::authorization, "Bearer " + token);
    if (method_ != http::verb::get) {
      request_.set(http::field::content_type, content_type_);
      request_.prepare_payload();
    }
    beast::get_lowest_layer(stream_).expires_after(timeouts_.read);
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->onWrite(ec);
    });
  }

  void onWrite(beast::error_code ec) {
    if (ec) return fail("sending to " + endpointText() + ": " + ec.message());
    if (!watch_) {
      whole_.body_limit(kMaxListBody);
      http::async_read(
          stream_, buffer_, whole_,
          [self = shared_from_this()](beast::error_code ec, size_t) { self->onWholeResponse(ec); });
      return;
    }
    streamed_.body_limit(boost::none);  // a watch is endless by design; lines are bounded below
    beast::get_lowest_layer(stream_).expires_after(idle_);
    http::async_read_header(
        stream_, buffer_, streamed_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onWatchHeader(ec); });
  }

  void onWholeResponse(beast::error_code ec) {
    if (ec) return fail("reading from " + endpointText() + ": " + ec.message());
    ApiResponse response;
    response.status = whole_.get().result_int();
    response.body = nlohmann::json::parse(whole_.get().body(), nullptr, false);
    if (response.body.is_discarded()) {
      response.body = nullptr;
      if (response.status >= 200 && response.status < 300) response.error = "invalid JSON";
    }
    finish(std::move(response));
  }

  void onWatchHeader(beast::error_code ec) {
    if (ec) return fail("reading from " + endpointText() + ": " + ec.message());
    status_ = streamed_.get().result_int();
    readChunk();
  }

  void readChunk() {
    streamed_.get().body().data = chunk_;
    streamed_.get().body().size = sizeof(chunk_);
    beast::get_lowest_layer(stream_).expires_after(idle_);
    // read_some, not read: an event must be handed on as soon as its chunk arrives, not when
    // 16 KiB have piled up.
    http::async_read_some(
        stream_, buffer_, streamed_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onChunk(ec); });
  }

  void onChunk(beast::error_code ec) {
    if (cancelled_) return;
    // need_buffer only means our chunk buffer filled up: consume it and read on.
    if (ec == http::error::need_buffer) ec = {};
    size_t got = sizeof(chunk_) - streamed_.get().body().size;
    if (status_ == 200) {
      pending_.append(chunk_, got);
      size_t start = 0;
      for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
        deliverLine(std::string_view(pending_).substr(start, nl - start));
        if (cancelled_) return;
      }
      pending_.erase(0, start);
      if (pending_.size() > kMaxWatchLine) return fail("watch event larger than 64 MiB");
    } else {
      error_body_.append(chunk_, got);  // the Status object explaining the failure
    }
    if (ec) {
      return fail("reading watch from " + endpointText() + ": " + ec.message());
    }
    if (streamed_.is_done()) {
      ApiResponse response;
      response.status = status_;
      if (status_ == 200 && !pending_.empty()) deliverLine(pending_);
      if (cancelled_) return;
      if (status_ != 200) {
        response.body = nlohmann::json::parse(error_body_, nullptr, false);
        if (response.body.is_discarded()) response.body = nullptr;
      }
      return finish(std::move(response));
    }
    readChunk();
  }

  void deliverLine(std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) return;
    auto event = nlohmann::json::parse(line, nullptr, false);
    if (event.is_discarded() || !event.is_object())
      return fail("watch sent a line that is not JSON");
    if (on_event_) on_event_(std::move(event));
  }

  void fail(std::string error) {
    ApiResponse response;
    response.status = status_;
    response.error = std::move(error);
    finish(std::move(response));
  }

  void finish(ApiResponse response) {
    if (cancelled_) return;
    cancelled_ = true;
    auto done = std::move(done_);
    on_event_ = nullptr;
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
    if (done) done(std::move(response));
  }

  std::string endpointText() const { return config_.host + ":" + std::to_string(config_.port); }
  std::string hostHeader() const {
    std::string host =
        config_.host.find(':') != std::string::npos ? "[" + config_.host + "]" : config_.host;
    return config_.port == 443 ? host : host + ":" + std::to_string(config_.port);
  }

  tcp::resolver resolver_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  const ClusterConfig& config_;
  std::string target_;
  ApiClient::Timeouts timeouts_;
  std::chrono::milliseconds idle_{0};
  bool watch_ = false;
  bool cancelled_ = false;
  unsigned status_ = 0;
  beast::flat_buffer buffer_;
  http::verb method_ = http::verb::get;
  std::string content_type_;
  http::request<http::string_body> request_;
  http::response_parser<http::string_body> whole_;
  http::response_parser<http::buffer_body> streamed_;
  char chunk_[16 * 1024];
  std::string pending_;
  std::string error_body_;
  ApiClient::EventHandler on_event_;
  ApiClient::ResponseHandler done_;
};

}  // namespace

ApiClient::ApiClient(net::io_context& io, ClusterConfig config, Timeouts timeouts)
    : impl_(std::make_unique<Impl>(io, std::move(config), timeouts)) {}

ApiClient::~ApiClient() = default;

const ClusterConfig& ApiClient::config() const { return impl_->config; }

std::shared_ptr<ApiRequest> ApiClient::get(const std::string& path_and_query,
                                           ResponseHandler done) {
  auto exchange = std::make_shared<Exchange>(impl_->io, impl_->tls, impl_->config,
                                             impl_->target(path_and_query), impl_->timeouts);
  exchange->startGet(std::move(done));
  return exchange;
}

std::shared_ptr<ApiRequest> ApiClient::write(Write method, const std::string& path,
                                             const nlohmann::json& body, ResponseHandler done) {
  auto exchange = std::make_shared<Exchange>(impl_->io, impl_->tls, impl_->config,
                                             impl_->target(path), impl_->timeouts);
  http::verb verb = method == Write::Create    ? http::verb::post
                    : method == Write::Replace ? http::verb::put
                                               : http::verb::patch;
  exchange->startWrite(verb,
                       method == Write::MergePatch ? "application/merge-patch+json"
                                                   : "application/json",
                       body.dump(), std::move(done));
  return exchange;
}

std::shared_ptr<ApiRequest> ApiClient::list(const std::string& path, unsigned limit,
                                            const std::string& continue_token,
                                            ResponseHandler done) {
  std::string query =
      path + (path.find('?') == std::string::npos ? "?" : "&") + "limit=" + std::to_string(limit);
  if (!continue_token.empty()) query += "&continue=" + encodeQueryValue(continue_token);
  return get(query, std::move(done));
}

std::shared_ptr<ApiRequest> ApiClient::watch(const std::string& path_and_query,
                                             EventHandler on_event, ResponseHandler on_done,
                                             std::chrono::milliseconds idle_timeout) {
  auto exchange = std::make_shared<Exchange>(impl_->io, impl_->tls, impl_->config,
                                             impl_->target(path_and_query), impl_->timeouts);
  exchange->startWatch(std::move(on_event), std::move(on_done), idle_timeout);
  return exchange;
}

}  // namespace atrium::controller::k8s
