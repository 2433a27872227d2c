#include "proxy/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/basic_resolver.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <deque>
#include <mutex>
#include <random>

namespace atrium::proxy::redis {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Timer = net::basic_waitable_timer<Clock, net::wait_traits<Clock>, Executor>;
using Resolver = net::ip::basic_resolver<tcp, Executor>;
using ErrorCode = boost::system::error_code;

namespace detail {

// Something holding Asio I/O objects of one io_context that must give them up when that
// context shuts down.
class IoOwner {
 public:
  virtual void releaseIoObjects(std::vector<std::shared_ptr<void>>& graveyard) = 0;

 protected:
  ~IoOwner() = default;
};

// Destroying a socket or timer after its io_context is undefined behaviour, yet a client may
// outlive its io_context (an owner torn down in the other order). An io_context shuts its
// services down newest first and then destroys them newest first; this service is registered
// after the socket, timer and resolver services, so on shutdown it adopts the clients' I/O
// objects and destroys them in its destructor, while those services still exist.
class ContextGuard final : public net::execution_context::service {
 public:
  using key_type = ContextGuard;
  static inline net::execution_context::id id;

  explicit ContextGuard(net::execution_context& ctx) : service(ctx) {}
  ~ContextGuard() override { graveyard_.clear(); }

  void add(std::weak_ptr<IoOwner> owner) {
    std::lock_guard lock(mu_);
    std::erase_if(owners_, [](const auto& o) { return o.expired(); });
    owners_.push_back(std::move(owner));
  }

 private:
  void shutdown() override {
    std::vector<std::weak_ptr<IoOwner>> owners;
    {
      std::lock_guard lock(mu_);
      owners.swap(owners_);
    }
    for (auto& weak : owners) {
      if (auto owner = weak.lock()) owner->releaseIoObjects(graveyard_);
    }
  }

  std::mutex mu_;
  std::vector<std::weak_ptr<IoOwner>> owners_;
  std::vector<std::shared_ptr<void>> graveyard_;
};

}  // namespace detail

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable_t<Executor>{});
// Commands that overrun their timeout this many times over mean the connection is wedged
// (server stalled, half-open TCP): reconnecting is better than waiting forever.
constexpr int kBrokenAfterTimeouts = 4;
constexpr size_t kKeepBufferCapacity = 1 << 20;

// A one-shot, move-only, type-erased completion handler (std::function needs copyable
// handlers, and a coroutine's handler is move-only). Completing always posts, so a callback
// that issues another command never re-enters the reply loop.
class Completion {
 public:
  Completion() = default;
  template <class Handler>
  explicit Completion(Handler handler)
      : impl_(std::make_unique<Impl<Handler>>(std::move(handler))) {}

  explicit operator bool() const { return impl_ != nullptr; }

  void post(const Executor& ex, RedisResult result) {
    auto impl = std::move(impl_);
    if (impl) impl->post(ex, std::move(result));
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void post(const Executor& ex, RedisResult&& result) = 0;
  };
  template <class Handler>
  struct Impl final : Base {
    explicit Impl(Handler h) : handler(std::move(h)) {}
    void post(const Executor& ex, RedisResult&& result) override {
      net::post(ex, net::append(std::move(handler), std::move(result)));
    }
    Handler handler;
  };
  std::unique_ptr<Base> impl_;
};

// What a reply is for: a caller's command, the EVALSHA that may need an EVAL, or a handshake step.
enum class Role : uint8_t { Command, ScriptProbe, Auth, Select, Ping };

struct Pending {
  Completion done;  // empty for handshake steps and fire-and-forget commands
  Clock::time_point sent;
  Clock::time_point deadline;
  Role role = Role::Command;
  const RedisScript* script = nullptr;  // ScriptProbe: the script to EVAL on NOSCRIPT
  std::vector<std::string> retry_argv;  // ScriptProbe: its EVALSHA argv, reused for EVAL
};

// One TCP connection attempt and everything tied to it. Each attempt gets a fresh one, so a late
// completion from an old connection only ever touches that old connection.
struct Connection {
  enum class Phase { Connecting, Handshaking, Up, Closed };

  explicit Connection(const Executor& ex) : socket(ex), reader(redisReaderCreate()) {}
  ~Connection() {
    if (reader != nullptr) redisReaderFree(reader);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Phase phase = Phase::Connecting;
  bool became_up = false;
  bool connect_timed_out = false;
  Socket socket;
  redisReader* reader;          // hiredis parses RESP; it never touches the socket
  std::deque<Pending> pending;  // sent or queued commands, in wire order
  size_t expired = 0;           // leading `pending` entries whose callers already got timed_out
  std::string out;              // encoded commands waiting for the write in flight
  std::string writing;          // the buffer of the one async_write in flight
  bool write_in_flight = false;
  std::array<char, 16 * 1024> in;
};

void appendHeader(std::string& out, char kind, size_t n) {
  std::array<char, 24> buf;
  buf[0] = kind;
  auto end = std::to_chars(buf.data() + 1, buf.data() + buf.size() - 2, n).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out.append(buf.data(), end);
}

// RESP is simple enough to write directly into the output buffer: no per-command allocation.
void appendCommand(std::string& out, const std::vector<std::string>& argv) {
  appendHeader(out, '*', argv.size());
  for (const auto& arg : argv) {
    appendHeader(out, '$', arg.size());
    out.append(arg);
    out.append("\r\n");
  }
}

RedisReply convert(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::String;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::Status;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::Error;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::Integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::Array;
      out.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(convert(*r.element[i]));
      break;
    default:
      out.type = RedisReply::Type::Nil;
  }
  return out;
}

bool isNoScript(const RedisReply& reply) {
  return reply.isError() && std::string_view(reply.str).starts_with("NOSCRIPT");
}

const char* handshakeStep(Role role) {
  switch (role) {
    case Role::Auth:
      return "AUTH";
    case Role::Select:
      return "SELECT";
    default:
      return "PING";
  }
}

}  // namespace

struct RedisClient::State final : detail::IoOwner, std::enable_shared_from_this<State> {
  using Phase = Connection::Phase;

  State(Executor executor, RedisUrl redis_url, Options options)
      : ex(executor),
        url(std::move(redis_url)),
        opts(options),
        command_timer(std::make_unique<Timer>(ex)),
        connect_timer(std::make_unique<Timer>(ex)),
        resolver(std::make_unique<Resolver>(ex)),
        rng(std::random_device{}()) {
    // Registers the socket service before the ContextGuard (see there); timers and the
    // resolver registered theirs above.
    Socket registers_socket_service(ex);
  }

  // --- lifecycle -------------------------------------------------------------------------------

  void start() {
    if (started || stopped) return;
    started = true;
    net::co_spawn(ex, run(shared_from_this()), net::detached);
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    is_up = false;
    if (context_gone) return;
    if (conn) breakConnection(*conn, net::error::operation_aborted, "io", "stopped");
    resolver->cancel();
    connect_timer->cancel();
    command_timer->cancel();
    ++timer_seq;
  }

  void releaseIoObjects(std::vector<std::shared_ptr<void>>& graveyard) override {
    context_gone = true;
    stopped = true;
    is_up = false;
    graveyard.push_back(std::shared_ptr<Timer>(std::move(command_timer)));
    graveyard.push_back(std::shared_ptr<Timer>(std::move(connect_timer)));
    graveyard.push_back(std::shared_ptr<Resolver>(std::move(resolver)));
    if (conn) graveyard.push_back(std::move(conn));
  }

  // Connect, serve until the connection breaks, back off, repeat, until stopped.
  static Task<void> run(std::shared_ptr<State> self) {
    State& s = *self;
    unsigned failures = 0;
    while (!s.stopped) {
      auto c = std::make_shared<Connection>(s.ex);
      s.conn = c;
      co_await s.serve(c);
      if (s.conn == c) s.conn.reset();
      if (s.stopped) break;
      failures = c->became_up ? 0 : failures + 1;
      s.connect_timer->expires_after(s.backoff(failures));
      co_await s.connect_timer->async_wait(kNoThrow);
    }
  }

  // Capped exponential backoff; the delay is drawn from [base/2, base] so a fleet of workers
  // does not reconnect in lockstep after a Redis restart.
  Clock::duration backoff(unsigned failures) {
    auto base = opts.reconnect_min;
    for (unsigned i = 1; i < failures && base < opts.reconnect_max; ++i) base *= 2;
    base = std::min(base, opts.reconnect_max);
    auto half = std::max<int64_t>(base.count() / 2, 1);
    std::uniform_int_distribution<int64_t> jitter(0, half);
    return std::chrono::milliseconds(half + jitter(rng));
  }

  Task<void> serve(std::shared_ptr<Connection> c) {
    auto attempt_deadline = Clock::now() + opts.connect_timeout;

    // 1. Resolve and connect; a guard closes the socket if that takes too long.
    connect_timer->expires_at(attempt_deadline);
    connect_timer->async_wait([self = shared_from_this(), c](ErrorCode ec) {
      if (ec || c->phase != Phase::Connecting) return;
      c->connect_timed_out = true;
      self->resolver->cancel();
      ErrorCode ignored;
      c->socket.close(ignored);
    });
    ErrorCode ec = co_await connectSocket(*c);
    if (c->phase == Phase::Closed) co_return;  // stopped meanwhile
    connect_timer->cancel();
    if (ec || c->reader == nullptr) {
      c->phase = Phase::Closed;
      last_error = "connect to " + describe(url) + ": " +
                   (c->connect_timed_out ? std::string("timed out") : ec.message());
      countError("connect");
      co_return;
    }
    ErrorCode ignored;
    c->socket.set_option(tcp::no_delay(true), ignored);

    // 2. The handshake, pipelined in one write; the PING reply makes the client up.
    c->phase = Phase::Handshaking;
    if (!url.password.empty()) {
      std::vector<std::string> auth{"AUTH"};
      if (!url.username.empty()) auth.push_back(url.username);
      auth.push_back(url.password);
      enqueue(*c, std::move(auth), Role::Auth, attempt_deadline, {}, nullptr);
    }
    if (url.db != 0) {
      enqueue(*c, {"SELECT", std::to_string(url.db)}, Role::Select, attempt_deadline, {}, nullptr);
    }
    enqueue(*c, {"PING"}, Role::Ping, attempt_deadline, {}, nullptr);
    flush(c);

    // 3. Read and dispatch replies until the connection breaks or the client stops.
    while (c->phase != Phase::Closed) {
      auto [read_ec, n] = co_await c->socket.async_read_some(net::buffer(c->in), kNoThrow);
      if (c->phase == Phase::Closed) break;
      if (read_ec) {
        breakConnection(*c, read_ec, "io", "read from " + describe(url) + ": " + read_ec.message());
        break;
      }
      if (redisReaderFeed(c->reader, c->in.data(), n) != REDIS_OK) {
        protocolError(*c);
        break;
      }
      while (c->phase != Phase::Closed) {
        void* raw = nullptr;
        if (redisReaderGetReply(c->reader, &raw) != REDIS_OK) {
          protocolError(*c);
          break;
        }
        if (raw == nullptr) break;  // need more bytes
        auto* parsed = static_cast<redisReply*>(raw);
        RedisReply reply = convert(*parsed);
        freeReplyObject(parsed);
        if (c->pending.empty()) {
          protocolError(*c);  // a reply nobody asked for: the stream is out of step
          break;
        }
        onReply(c, std::move(reply));
      }
      flush(c);  // EVALs issued for NOSCRIPT replies
    }
  }

  Task<ErrorCode> connectSocket(Connection& c) {
    ErrorCode ec;
    auto address = net::ip::make_address(url.host, ec);
    if (!ec) {
      auto [connect_ec] = co_await c.socket.async_connect({address, url.port}, kNoThrow);
      co_return connect_ec;
    }
    // Names go through Asio's resolver (getaddrinfo on Asio's own thread, not this worker's).
    auto [resolve_ec, endpoints] =
        co_await resolver->async_resolve(url.host, std::to_string(url.port), kNoThrow);
    if (resolve_ec) co_return resolve_ec;
    if (c.phase == Phase::Closed || c.connect_timed_out) co_return net::error::operation_aborted;
    auto [connect_ec, endpoint] = co_await net::async_connect(c.socket, endpoints, kNoThrow);
    co_return connect_ec;
  }

  // --- commands --------------------------------------------------------------------------------

  void submit(std::vector<std::string>&& argv, Role role, const RedisScript* script,
              Completion done) {
    if (stopped || !conn || conn->phase != Phase::Up) {
      if (!context_gone) done.post(ex, {net::error::not_connected, {}});
      return;
    }
    if (argv.empty()) {
      done.post(ex, {net::error::invalid_argument, {}});
      return;
    }
    enqueue(*conn, std::move(argv), role, Clock::now() + opts.command_timeout, std::move(done),
            script);
    flush(conn);
  }

  void enqueue(Connection& c, std::vector<std::string>&& argv, Role role,
               Clock::time_point deadline, Completion done, const RedisScript* script) {
    appendCommand(c.out, argv);
    auto& p = c.pending.emplace_back();
    p.done = std::move(done);
    p.sent = Clock::now();
    p.deadline = deadline;
    p.role = role;
    if (role == Role::ScriptProbe) {
      p.script = script;
      p.retry_argv = std::move(argv);
    }
    scheduleTimeoutCheck(deadline);
  }

  // Coalesces: commands queued while a write is in flight go out together in the next one.
  void flush(const std::shared_ptr<Connection>& c) {
    if (c->write_in_flight || c->out.empty() || c->phase == Phase::Closed) return;
    c->writing.swap(c->out);
    c->write_in_flight = true;
    net::async_write(c->socket, net::buffer(c->writing),
                     [self = shared_from_this(), c](ErrorCode ec, size_t) {
                       c->write_in_flight = false;
                       c->writing.clear();
                       if (c->writing.capacity() > kKeepBufferCapacity) c->writing.shrink_to_fit();
                       if (c->phase == Phase::Closed) return;
                       if (ec) {
                         self->breakConnection(*c, ec, "io", "write: " + ec.message());
                         return;
                       }
                       self->flush(c);
                     });
  }

  void onReply(const std::shared_ptr<Connection>& c, RedisReply&& reply) {
    Pending p = std::move(c->pending.front());
    c->pending.pop_front();
    bool expired = c->expired > 0;
    if (expired) --c->expired;

    switch (p.role) {
      case Role::Auth:
      case Role::Select:
      case Role::Ping:
        if (reply.isError()) {
          breakConnection(*c, net::error::access_denied, "connect",
                          std::string(handshakeStep(p.role)) + " on " + describe(url) +
                              " failed: " + reply.str);
        } else if (p.role == Role::Ping) {
          becomeUp(*c);
        }
        return;
      case Role::ScriptProbe:
        // Redis lost the script (restart, failover, SCRIPT FLUSH): send it once in full; that
        // also caches it, so the next EVALSHA hits.
        if (!expired && isNoScript(reply)) {
          p.retry_argv[0] = "EVAL";
          p.retry_argv[1] = p.script->text;
          enqueue(*c, std::move(p.retry_argv), Role::Command, Clock::now() + opts.command_timeout,
                  std::move(p.done), nullptr);
          return;
        }
        break;
      case Role::Command:
        break;
    }
    if (expired) return;  // its caller already got timed_out; dropping it keeps replies aligned
    observeLatency(Clock::now() - p.sent);
    if (reply.isError()) countError("reply");
    p.done.post(ex, {ErrorCode{}, std::move(reply)});
  }

  // --- timeouts: one timer per client, aimed at the oldest command still awaited ----------------

  void scheduleTimeoutCheck(Clock::time_point when) {
    if (timer_armed && command_timer->expiry() <= when) return;
    command_timer->expires_at(when);
    timer_armed = true;
    command_timer->async_wait([self = shared_from_this(), seq = ++timer_seq](ErrorCode) {
      if (seq != self->timer_seq) return;  // re-aimed or stopped since
      self->timer_armed = false;
      if (!self->stopped) self->checkTimeouts();
    });
  }

  void checkTimeouts() {
    auto c = conn;
    if (!c || c->phase == Phase::Closed || c->phase == Phase::Connecting) return;
    auto now = Clock::now();
    // Deadlines grow along the FIFO, so expired entries are always a prefix of it.
    while (c->expired < c->pending.size()) {
      Pending& p = c->pending[c->expired];
      if (p.deadline > now) break;
      ++c->expired;
      if (p.role == Role::Auth || p.role == Role::Select || p.role == Role::Ping) {
        breakConnection(*c, net::error::timed_out, "connect",
                        "handshake with " + describe(url) + " timed out");
        return;
      }
      // The entry stays queued: its late reply must still be consumed to keep replies aligned.
      p.done.post(ex, {net::error::timed_out, {}});
      p.retry_argv = {};
      auto waited = now - p.sent;
      countError("timeout");
      observeLatency(waited);
      if (c->phase == Phase::Closed) return;  // a callback stopped the client
    }
    if (c->pending.empty()) return;
    auto broken_at = c->pending.front().deadline + kBrokenAfterTimeouts * opts.command_timeout;
    if (now >= broken_at) {
      breakConnection(
          *c, net::error::timed_out, "io",
          "no reply from " + describe(url) + " for " +
              std::to_string((kBrokenAfterTimeouts + 1) * opts.command_timeout.count()) + " ms");
      return;
    }
    auto next = broken_at;
    if (c->expired < c->pending.size()) next = std::min(next, c->pending[c->expired].deadline);
    scheduleTimeoutCheck(next);
  }

  // --- state -----------------------------------------------------------------------------------

  void becomeUp(Connection& c) {
    c.phase = Phase::Up;
    c.became_up = true;
    is_up = true;
    notifyState(true);
  }

  // Closes the connection and fails everything still awaited on it; the run loop reconnects.
  void breakConnection(Connection& c, ErrorCode ec, std::string_view kind, std::string why) {
    if (c.phase == Phase::Closed) return;
    bool was_up = c.phase == Phase::Up;
    c.phase = Phase::Closed;
    ErrorCode ignored;
    c.socket.close(ignored);
    auto pending = std::move(c.pending);
    auto expired = c.expired;
    c.pending.clear();
    c.expired = 0;
    if (!stopped) {
      last_error = std::move(why);
      countError(was_up ? kind : std::string_view("connect"));
    }
    for (size_t i = expired; i < pending.size(); ++i) pending[i].done.post(ex, {ec, {}});
    if (was_up) {
      is_up = false;
      notifyState(false);
    }
  }

  void protocolError(Connection& c) {
    breakConnection(c, make_error_code(boost::system::errc::protocol_error), "io",
                    "protocol error from " + describe(url));
  }

  void countError(std::string_view kind) {
    if (!stopped && on_error) on_error(kind);
  }
  void observeLatency(Clock::duration d) {
    if (!stopped && on_latency) on_latency(std::chrono::duration<double>(d).count());
  }
  void notifyState(bool up) {
    if (stopped || !on_state) return;
    auto callback = on_state;  // the callback may replace itself
    callback(up);
  }

  Executor ex;
  RedisUrl url;
  Options opts;
  std::unique_ptr<Timer> command_timer;
  std::unique_ptr<Timer> connect_timer;  // connect deadline, then reconnect backoff
  std::unique_ptr<Resolver> resolver;
  std::shared_ptr<Connection> conn;  // the current attempt, in any phase
  std::atomic<bool> is_up{false};
  bool started = false;
  bool stopped = false;
  bool context_gone = false;  // the io_context shut down: no I/O object is left to touch
  bool timer_armed = false;
  uint64_t timer_seq = 0;
  std::string last_error;
  std::minstd_rand rng;
  std::function<void(bool)> on_state;
  std::function<void(double)> on_latency;
  std::function<void(std::string_view)> on_error;
};

// --- RedisScript -------------------------------------------------------------------------------

RedisScript RedisScript::make(std::string text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return RedisScript{std::move(text), std::move(hex)};
}

// --- RedisClient -------------------------------------------------------------------------------

RedisClient::RedisClient(Executor ex, RedisUrl url, Options opts)
    : state_(std::make_shared<State>(ex, std::move(url), opts)) {
  auto& ctx = net::query(ex, net::execution::context);
  net::use_service<detail::ContextGuard>(static_cast<net::execution_context&>(ctx)).add(state_);
}

RedisClient::~RedisClient() { state_->stop(); }

void RedisClient::start() { state_->start(); }
void RedisClient::stop() { state_->stop(); }
bool RedisClient::up() const { return state_->is_up.load(std::memory_order_relaxed); }
const std::string& RedisClient::lastError() const { return state_->last_error; }

void RedisClient::onStateChange(std::function<void(bool up)> callback) {
  state_->on_state = std::move(callback);
}
void RedisClient::onLatency(std::function<void(double seconds)> callback) {
  state_->on_latency = std::move(callback);
}
void RedisClient::onError(std::function<void(std::string_view kind)> callback) {
  state_->on_error = std::move(callback);
}

Task<RedisResult> RedisClient::command(std::vector<std::string> args) {
  return net::async_initiate<const net::use_awaitable_t<Executor>&, void(RedisResult)>(
      [state = state_](auto handler, std::vector<std::string> argv) {
        state->submit(std::move(argv), Role::Command, nullptr, Completion(std::move(handler)));
      },
      net::use_awaitable_t<Executor>{}, std::move(args));
}

void RedisClient::command(std::vector<std::string> args, Callback done) {
  state_->submit(std::move(args), Role::Command, nullptr,
                 done ? Completion(std::move(done)) : Completion());
}

namespace {

std::vector<std::string> evalshaArgv(const RedisScript& script, std::vector<std::string>&& keys,
                                     std::vector<std::string>&& args) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.emplace_back("EVALSHA");
  argv.push_back(script.sha1);
  argv.push_back(std::to_string(keys.size()));
  std::move(keys.begin(), keys.end(), std::back_inserter(argv));
  std::move(args.begin(), args.end(), std::back_inserter(argv));
  return argv;
}

}  // namespace

Task<RedisResult> RedisClient::eval(const RedisScript& script, std::vector<std::string> keys,
                                    std::vector<std::string> args) {
  return net::async_initiate<const net::use_awaitable_t<Executor>&, void(RedisResult)>(
      [state = state_, &script](auto handler, std::vector<std::string> keys,
                                std::vector<std::string> args) {
        state->submit(evalshaArgv(script, std::move(keys), std::move(args)), Role::ScriptProbe,
                      &script, Completion(std::move(handler)));
      },
      net::use_awaitable_t<Executor>{}, std::move(keys), std::move(args));
}

void RedisClient::eval(const RedisScript& script, std::vector<std::string> keys,
                       std::vector<std::string> args, Callback done) {
  state_->submit(evalshaArgv(script, std::move(keys), std::move(args)), Role::ScriptProbe, &script,
                 done ? Completion(std::move(done)) : Completion());
}

}  // namespace atrium::proxy::redis
