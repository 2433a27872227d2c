#pragma once
// A small HTTPS client for the Kubernetes API on Beast + OpenSSL: GET/LIST returning parsed
// JSON, and WATCH streaming newline-delimited events as they arrive (never buffering the whole
// body). One connection per request: the controller makes a handful of long-lived watches and
// an occasional LIST, so pooling would buy nothing.
// Threading: every method and every callback runs on the io_context given at construction
// (the control-plane thread). Lifetime: the client must outlive its requests' callbacks; a
// Request handle cancels its request (the done callback is then not called).
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "controller/k8s/kubeconfig.h"

namespace boost::asio {
class io_context;
}

namespace atrium::controller::k8s {

struct ApiResponse {
  unsigned status = 0;  // HTTP status; 0 when the request failed before a response arrived
  std::string error;    // transport or parse failure, empty when a response was read
  nlohmann::json body;  // parsed body (for errors, the API's Status object when it sent one)

  bool ok() const { return error.empty() && status >= 200 && status < 300; }
  // "HTTP 404: the server could not find the requested resource" or the transport error.
  std::string describe() const;
};

class ApiRequest {
 public:
  virtual ~ApiRequest() = default;
  // Stops the request; its callbacks are not called afterwards.
  virtual void cancel() = 0;
};

struct ApiTimeouts {
  std::chrono::milliseconds connect{10'000};  // resolve + TCP + TLS handshake
  std::chrono::milliseconds read{60'000};     // whole response of a GET
};

class ApiClient {
 public:
  using Timeouts = ApiTimeouts;
  using ResponseHandler = std::function<void(ApiResponse)>;
  using EventHandler = std::function<void(nlohmann::json event)>;

  // Throws std::runtime_error when the TLS material (CA, client cert/key) is unusable.
  ApiClient(boost::asio::io_context& io, ClusterConfig config, Timeouts timeouts = Timeouts());
  ~ApiClient();

  // GET path_and_query (relative to the server's base path).
  std::shared_ptr<ApiRequest> get(const std::string& path_and_query, ResponseHandler done);
  // One page of a LIST: limit and the previous page's continue token (empty for the first).
  std::shared_ptr<ApiRequest> list(const std::string& path, unsigned limit,
                                   const std::string& continue_token, ResponseHandler done);
  // A WATCH: on_event gets each JSON line as it arrives; on_done gets the end of the stream
  // (status 200 and no error for a clean end, the HTTP error status with its Status body, or a
  // transport error). `idle_timeout` bounds the silence between two chunks.
  std::shared_ptr<ApiRequest> watch(const std::string& path_and_query, EventHandler on_event,
                                    ResponseHandler on_done,
                                    std::chrono::milliseconds idle_timeout);

  // A write: POST (create), PUT (replace) or a JSON merge patch of `body` to `path`. The
  // response carries the object as stored, or the API's Status on failure.
  enum class Write { Create, Replace, MergePatch };
  std::shared_ptr<ApiRequest> write(Write method, const std::string& path,
                                    const nlohmann::json& body, ResponseHandler done);

  const ClusterConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a query parameter value (continue tokens are base64 with '+', '/', '=').
std::string encodeQueryValue(const std::string& value);

}  // namespace atrium::controller::k8s
