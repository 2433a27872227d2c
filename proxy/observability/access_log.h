#pragma once
// One JSON line per request (SPEC §5.7). Each worker formats into its own buffer and writes it
// with a single write(2) when it passes 32 KiB or when the worker's flush timer fires (every
// 200 ms), so logging takes no lock and costs no syscall per request.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace atrium::proxy::observability {

struct AccessLogEntry {
  std::chrono::system_clock::time_point time;
  std::string_view request_id;
  std::string_view client_ip;
  std::string_view method;
  std::string_view host;
  std::string_view path;
  int status = 0;
  uint64_t bytes = 0;  // response body bytes sent
  double duration_ms = 0;
  std::string_view upstream;  // "10.0.0.1:8080" or ""
  int upstream_status = 0;
  double upstream_ms = 0;
  std::string_view route;  // "none" when unmatched
  std::string_view consumer;  // the authenticated APIConsumer, or ""
  std::string_view cache;     // HIT, MISS, STALE, BYPASS on routes with a cache policy, or ""
};

// The destination: stdout, a file (opened O_APPEND), or off.
class AccessLogSink {
 public:
  // `spec` is "stdout", "off" or a path. Returns nullptr for "off"; throws std::runtime_error
  // with the reason when the file cannot be opened.
  static std::shared_ptr<AccessLogSink> open(const std::string& spec);
  ~AccessLogSink();
  void write(std::string_view data) const;

 private:
  explicit AccessLogSink(int fd, bool owned) : fd_(fd), owned_(owned) {}
  int fd_;
  bool owned_;
};

// Per-worker buffer; called only on its worker's thread.
class AccessLogBuffer {
 public:
  explicit AccessLogBuffer(std::shared_ptr<AccessLogSink> sink) : sink_(std::move(sink)) {}
  bool enabled() const { return sink_ != nullptr; }
  void append(const AccessLogEntry& entry);
  void flush();

 private:
  std::shared_ptr<AccessLogSink> sink_;
  std::string buffer_;
};

}  // namespace atrium::proxy::observability
