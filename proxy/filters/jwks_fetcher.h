#pragma once
// Fetches the JWKS documents of routes' `jwt.jwksURI` off the workers: one thread with its own
// io_context does every fetch (HTTP or HTTPS, bounded in time and size). Each URI's keys are
// fetched when a configuration first uses it, every 5 minutes after, and at once — at most
// every 10 seconds — when a worker meets a token whose kid it does not know (key rotation).
// A failed fetch keeps the last good keys. Workers read the current keys lock-free.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "proxy/filters/jwt.h"

namespace boost::asio {
class io_context;
}

namespace atrium::proxy::filters {

class JwksFetcher;

class JwksSource {
 public:
  JwksSource(JwksFetcher& fetcher, std::string uri) : fetcher_(fetcher), uri_(std::move(uri)) {}
  const std::string& uri() const { return uri_; }
  // The keys as last fetched (null until the first fetch succeeded). Any thread.
  std::shared_ptr<const JwtKeySet> keys() const { return keys_.load(); }
  // Any thread: fetch again soon (rate-limited), e.g. for an unknown kid.
  void refresh();

 private:
  friend class JwksFetcher;
  JwksFetcher& fetcher_;
  std::string uri_;
  std::atomic<std::shared_ptr<const JwtKeySet>> keys_;
  std::atomic<int64_t> last_refresh_ms_{0};
};

class JwksFetcher {
 public:
  JwksFetcher();
  ~JwksFetcher();
  // The source for `uri`, shared by every route (and configuration) that names it.
  std::shared_ptr<JwksSource> source(const std::string& uri);

 private:
  friend class JwksSource;
  void fetch(std::weak_ptr<JwksSource> source);
  void schedulePeriodic(std::weak_ptr<JwksSource> source);

  std::unique_ptr<boost::asio::io_context> io_;
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<JwksSource>> sources_;
  std::thread thread_;
};

}  // namespace atrium::proxy::filters
