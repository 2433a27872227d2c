#include "proxy/observability/access_log.h"

#include <fcntl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "proxy/http/error_reply.h"

namespace atrium::proxy::observability {

std::shared_ptr<AccessLogSink> AccessLogSink::open(const std::string& spec) {
  if (spec == "off") return nullptr;
  if (spec == "stdout" || spec.empty()) {
    return std::shared_ptr<AccessLogSink>(new AccessLogSink(STDOUT_FILENO, false));
  }
  int fd = ::open(spec.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    throw std::runtime_error("cannot open access log " + spec + ": " + std::strerror(errno));
  }
  return std::shared_ptr<AccessLogSink>(new AccessLogSink(fd, true));
}

AccessLogSink::~AccessLogSink() {
  if (owned_) ::close(fd_);
}

void AccessLogSink::write(std::string_view data) const {
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // a full disk or closed pipe must not take the proxy down
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void AccessLogBuffer::append(const AccessLogEntry& e) {
  if (!sink_) return;
  auto& b = buffer_;
  auto str = [&b](const char* key, std::string_view value) {
    b += ",\"";
    b += key;
    b += "\":\"";
    http::appendJsonEscaped(b, value);
    b += '"';
  };
  const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(e.time);
  fmt::format_to(std::back_inserter(b), "{{\"time\":\"{:%Y-%m-%dT%H:%M:%S}.{:03d}Z\"", ms,
                 static_cast<int>(ms.time_since_epoch().count() % 1000));
  str("requestId", e.request_id);
  str("clientIp", e.client_ip);
  str("method", e.method);
  str("host", e.host);
  str("path", e.path);
  fmt::format_to(std::back_inserter(b), ",\"status\":{},\"bytes\":{},\"durationMs\":{:.3f}", e.status,
                 e.bytes, e.duration_ms);
  str("upstream", e.upstream);
  if (e.upstream_status) {
    fmt::format_to(std::back_inserter(b), ",\"upstreamStatus\":{},\"upstreamMs\":{:.3f}",
                   e.upstream_status, e.upstream_ms);
  }
  str("route", e.route);
  if (!e.consumer.empty()) str("consumer", e.consumer);
  if (!e.cache.empty()) str("cache", e.cache);
  b += "}\n";
  if (b.size() >= 32 * 1024) flush();
}

void AccessLogBuffer::flush() {
  if (!sink_ || buffer_.empty()) return;
  sink_->write(buffer_);
  buffer_.clear();
}

}  // namespace atrium::proxy::observability
