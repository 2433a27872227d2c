#pragma once
// A non-blocking Redis client bound to one io_context: global rate limits, quotas and usage
// counters make one round trip per decision on the worker that handles the request, so nothing
// here may block or hop threads. One TCP connection per client; commands are pipelined on it and
// replies are matched in order (Redis answers in order on a connection).
//
// Threading: every member function is called on the executor's thread (or, for the constructor
// and destructor, while that io_context is not running). Callbacks run on that thread too.
// Lifetime: the connection state is shared with in-flight handlers, so destroying the client
// while operations are outstanding, after the io_context stopped, or after it was destroyed is
// safe. Outstanding operations complete with operation_aborted when the client stops.
#include <boost/system/error_code.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/io_types.h"
#include "proxy/redis/redis_reply.h"
#include "proxy/redis/redis_url.h"

namespace atrium::proxy::redis {

struct RedisClientOptions {
  // Bounds resolve + connect + the AUTH/SELECT/PING handshake of one attempt.
  std::chrono::milliseconds connect_timeout{500};
  // A caller waits at most this long; a reply later than 4x this marks the connection broken.
  std::chrono::milliseconds command_timeout{100};
  // Reconnect delays double from min to max, with jitter so replicas do not reconnect in step.
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{2000};
};

// The outcome of one command. `ec` is set when no reply is available: not_connected (the client
// is down), timed_out, operation_aborted (stopped) or the connection's I/O error. An error reply
// from Redis is a reply (`ec` empty, reply.type Error).
struct RedisResult {
  boost::system::error_code ec;
  RedisReply reply;

  bool ok() const { return !ec && !reply.isError(); }
};

// A Lua script sent by SHA1 (EVALSHA), with its text kept for the first EVAL after Redis
// forgot it (restart, failover, SCRIPT FLUSH).
struct RedisScript {
  std::string text;
  std::string sha1;  // lowercase hex, as Redis prints it

  static RedisScript make(std::string text);
};

class RedisClient {
 public:
  using Options = RedisClientOptions;
  using Result = RedisResult;
  using Callback = std::function<void(const Result&)>;

  RedisClient(Executor ex, RedisUrl url, Options opts = {});
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Starts connecting; from then on the client reconnects by itself until stop(). Call once.
  void start();
  // Closes the connection and cancels timers; no callback of onStateChange/onLatency/onError
  // runs afterwards. Outstanding commands complete with operation_aborted.
  void stop();

  // True once connected, authenticated, on the right db and answering PING. Readable from any
  // thread (the admin readiness check).
  bool up() const;
  // The last connection or handshake failure, for logs (never contains the password).
  const std::string& lastError() const;

  // Called with true when the client becomes up and false when it goes down (not on stop()).
  void onStateChange(std::function<void(bool up)> callback);
  // Called with the seconds each command waited, when it is answered or times out (not when
  // it fails with the connection).
  void onLatency(std::function<void(double seconds)> callback);
  // Called once per failure: "connect" (an attempt failed), "timeout" (a command timed out),
  // "reply" (Redis answered with an error), "io" (an established connection broke).
  void onError(std::function<void(std::string_view kind)> callback);

  // Sends one command. While down it completes at once with not_connected, without queueing:
  // callers fall back (fail open or closed) instead of piling up behind a dead server.
  Task<Result> command(std::vector<std::string> args);
  // The same with a callback; pass an empty function to fire and forget.
  void command(std::vector<std::string> args, Callback done);

  // EVALSHA, and EVAL once if Redis answers NOSCRIPT. `script` must stay alive until the
  // operation completes (scripts are built once and kept by their owner).
  Task<Result> eval(const RedisScript& script, std::vector<std::string> keys,
                    std::vector<std::string> args);
  void eval(const RedisScript& script, std::vector<std::string> keys, std::vector<std::string> args,
            Callback done);

 private:
  struct State;  // the connection state, shared with in-flight handlers
  std::shared_ptr<State> state_;
};

}  // namespace atrium::proxy::redis
