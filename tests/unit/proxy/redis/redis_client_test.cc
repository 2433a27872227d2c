// The data plane's Redis client against a real redis-server on loopback: pipelining keeps
// replies matched to callers, timeouts never shift that matching, and the client survives
// the server stalling, dying and coming back, without ever blocking the worker's thread.
#include "proxy/redis/redis_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <thread>

namespace atrium::proxy::redis {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Type = RedisReply::Type;

constexpr const char* kRedisServer = "/usr/bin/redis-server";

// A port nobody listens on right now: bind to port 0 and let the kernel choose.
uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// A real redis-server on 127.0.0.1, in the foreground, killed by the destructor.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra_args = {})
      : port_(freePort()), extra_args_(std::move(extra_args)) {}
  ~RedisServer() { kill(); }

  uint16_t port() const { return port_; }

  bool start() {
    // No persistence: nothing is written to disk; DEBUG SLEEP stalls the server on demand.
    std::vector<std::string> args{kRedisServer, "--port", std::to_string(port_), "--bind",
                                  "127.0.0.1"};
    for (const char* arg : {"--save", "", "--appendonly", "no", "--daemonize", "no",
                            "--enable-debug-command", "yes", "--loglevel", "warning"}) {
      args.emplace_back(arg);
    }
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      // Dies with the test process, even when a failed test crashes it.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int null_fd = open("/dev/null", O_WRONLY);
      dup2(null_fd, STDOUT_FILENO);
      dup2(null_fd, STDERR_FILENO);
      execv(kRedisServer, argv.data());
      _exit(127);
    }
    auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline) {
      if (accepts(port_)) return true;
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  uint16_t port_;
  std::vector<std::string> extra_args_;
};

// Runs the io_context on this thread until `done` holds or `limit` passes.
template <class Pred>
bool runUntil(net::io_context& ioc, Pred done, std::chrono::milliseconds limit = 3s) {
  auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    ioc.restart();
    if (ioc.run_for(5ms) == 0) std::this_thread::sleep_for(1ms);
  }
  return true;
}

void runFor(net::io_context& ioc, std::chrono::milliseconds duration) {
  auto never = [] { return false; };
  runUntil(ioc, never, duration);
}

// What a client reported through its hooks.
struct Observed {
  std::vector<bool> states;
  std::map<std::string, int, std::less<>> errors;
  int latencies = 0;

  void attach(RedisClient& client) {
    client.onStateChange([this](bool up) { states.push_back(up); });
    client.onError([this](std::string_view kind) { ++errors[std::string(kind)]; });
    client.onLatency([this](double seconds) {
      EXPECT_GE(seconds, 0.0);
      ++latencies;
    });
  }
};

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kRedisServer, X_OK) != 0) GTEST_SKIP() << kRedisServer << " is not installed";
  }

  void startServer(std::vector<std::string> extra_args = {}) {
    server_ = std::make_unique<RedisServer>(std::move(extra_args));
    ASSERT_TRUE(server_->start()) << "redis-server did not start";
  }

  RedisUrl url() const {
    RedisUrl u;
    u.host = "127.0.0.1";
    u.port = server_->port();
    return u;
  }

  static RedisClient::Options fastOptions() {
    RedisClient::Options o;
    o.connect_timeout = 500ms;
    o.command_timeout = 1000ms;
    o.reconnect_min = 20ms;
    o.reconnect_max = 200ms;
    return o;
  }

  std::unique_ptr<RedisClient> connect(RedisUrl u, RedisClient::Options o = fastOptions(),
                                       Observed* observed = nullptr) {
    auto client = std::make_unique<RedisClient>(ioc_.get_executor(), std::move(u), o);
    if (observed != nullptr) observed->attach(*client);
    client->start();
    EXPECT_TRUE(runUntil(ioc_, [&] { return client->up(); })) << client->lastError();
    return client;
  }

  // Runs one command to completion through the coroutine API.
  RedisResult run(RedisClient& client, std::vector<std::string> args) {
    auto out = std::make_shared<std::optional<RedisResult>>();
    net::co_spawn(
        ioc_.get_executor(),
        [&client, out, args = std::move(args)]() mutable -> Task<void> {
          *out = co_await client.command(std::move(args));
        },
        net::detached);
    EXPECT_TRUE(runUntil(ioc_, [&] { return out->has_value(); }));
    return out->value_or(RedisResult{net::error::would_block, {}});
  }

  RedisResult runEval(RedisClient& client, const RedisScript& script, std::vector<std::string> keys,
                      std::vector<std::string> args) {
    auto out = std::make_shared<std::optional<RedisResult>>();
    net::co_spawn(
        ioc_.get_executor(),
        [&, out, keys = std::move(keys), args = std::move(args)]() mutable -> Task<void> {
          *out = co_await client.eval(script, std::move(keys), std::move(args));
        },
        net::detached);
    EXPECT_TRUE(runUntil(ioc_, [&] { return out->has_value(); }));
    return out->value_or(RedisResult{net::error::would_block, {}});
  }

  // `calls=` of one command in INFO commandstats.
  int64_t calls(RedisClient& client, const std::string& command) {
    auto info = run(client, {"INFO", "commandstats"}).reply.str;
    auto key = "cmdstat_" + command + ":calls=";
    auto at = info.find(key);
    if (at == std::string::npos) return 0;
    return std::stoll(info.substr(at + key.size()));
  }

  net::io_context ioc_;
  std::unique_ptr<RedisServer> server_;
};

TEST_F(RedisClientTest, RoundTripsCommandsAndReplyTypes) {
  startServer();
  Observed seen;
  auto client = connect(url(), fastOptions(), &seen);
  ASSERT_TRUE(client->up());
  EXPECT_EQ(seen.states, std::vector<bool>{true});

  auto set = run(*client, {"SET", "greeting", "hello"});
  EXPECT_TRUE(set.ok());
  EXPECT_EQ(set.reply.type, Type::Status);
  EXPECT_EQ(set.reply.str, "OK");

  auto get = run(*client, {"GET", "greeting"});
  EXPECT_EQ(get.reply.type, Type::String);
  EXPECT_EQ(get.reply.str, "hello");
  EXPECT_EQ(run(*client, {"GET", "missing"}).reply.type, Type::Nil);

  for (int64_t expected = 1; expected <= 3; ++expected) {
    auto incr = run(*client, {"INCR", "counter"});
    EXPECT_EQ(incr.reply.type, Type::Integer);
    EXPECT_EQ(incr.reply.integer, expected);
  }

  // Values are binary-safe: CR, LF and NUL travel untouched.
  std::string binary("a\r\nb\0c", 6);
  run(*client, {"SET", "binary", binary});
  EXPECT_EQ(run(*client, {"GET", "binary"}).reply.str, binary);

  run(*client, {"RPUSH", "list", "x", "y"});
  auto range = run(*client, {"LRANGE", "list", "0", "-1"});
  ASSERT_EQ(range.reply.type, Type::Array);
  ASSERT_EQ(range.reply.elements.size(), 2u);
  EXPECT_EQ(range.reply.elements[0].str, "x");
  EXPECT_EQ(range.reply.elements[1].str, "y");

  // An error reply is a reply, counted as "reply".
  auto wrong = run(*client, {"INCR", "greeting"});
  EXPECT_FALSE(wrong.ec);
  EXPECT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.reply.type, Type::Error);
  EXPECT_EQ(seen.errors["reply"], 1);
  EXPECT_EQ(seen.latencies, 11);
}

TEST_F(RedisClientTest, CallbackFormAndFireAndForget) {
  startServer();
  auto client = connect(url());
  client->command({"INCR", "fire-and-forget"}, {});
  std::optional<RedisResult> got;
  client->command({"GET", "fire-and-forget"}, [&](const RedisResult& r) { got = r; });
  ASSERT_TRUE(runUntil(ioc_, [&] { return got.has_value(); }));
  EXPECT_EQ(got->reply.str, "1");
}

TEST_F(RedisClientTest, PipelinesTenThousandCommandsInOrder) {
  startServer();
  auto client = connect(url());
  constexpr int kCoroutines = 10000;
  int issued = 0, completed = 0, mismatched = 0, failed = 0;
  for (int i = 0; i < kCoroutines; ++i) {
    net::co_spawn(
        ioc_.get_executor(),
        [&]() -> Task<void> {
          // The i-th command sent must get the i-th INCR's value.
          int64_t expected = ++issued;
          // (A named vector: GCC 12 miscompiles a braced list of literals inside co_await.)
          std::vector<std::string> incr{"INCR", "pipelined"};
          auto r = co_await client->command(std::move(incr));
          if (r.ec || r.reply.type != Type::Integer)
            ++failed;
          else if (r.reply.integer != expected)
            ++mismatched;
          ++completed;
        },
        net::detached);
  }
  // The callback form interleaved with coroutines shares the same FIFO.
  std::vector<int64_t> callback_values;
  for (int i = 0; i < 1000; ++i) {
    client->command({"INCR", "callbacks"}, [&](const RedisResult& r) {
      callback_values.push_back(r.ec ? -1 : r.reply.integer);
    });
  }
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return completed == kCoroutines; }, 10s));
  ASSERT_TRUE(runUntil(ioc_, [&] { return callback_values.size() == 1000; }));
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(mismatched, 0);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(callback_values[i], i + 1);
  EXPECT_EQ(run(*client, {"GET", "pipelined"}).reply.str, std::to_string(kCoroutines));
}

TEST_F(RedisClientTest, EvalSendsTheScriptOnlyWhenRedisLacksIt) {
  startServer();
  Observed seen;
  auto client = connect(url(), fastOptions(), &seen);
  static const RedisScript script =
      RedisScript::make("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  EXPECT_EQ(script.sha1.size(), 40u);
  EXPECT_EQ(run(*client, {"SCRIPT", "EXISTS", script.sha1}).reply.elements.at(0).integer, 0);
  run(*client, {"CONFIG", "RESETSTAT"});

  // First use: EVALSHA answers NOSCRIPT, the client falls back to EVAL once.
  auto first = runEval(*client, script, {"quota"}, {"5"});
  EXPECT_TRUE(first.ok()) << first.reply.str;
  EXPECT_EQ(first.reply.integer, 5);
  EXPECT_EQ(calls(*client, "evalsha"), 1);
  EXPECT_EQ(calls(*client, "eval"), 1);
  EXPECT_EQ(run(*client, {"SCRIPT", "EXISTS", script.sha1}).reply.elements.at(0).integer, 1);

  // Cached now: EVALSHA alone.
  EXPECT_EQ(runEval(*client, script, {"quota"}, {"5"}).reply.integer, 10);
  EXPECT_EQ(calls(*client, "evalsha"), 2);
  EXPECT_EQ(calls(*client, "eval"), 1);

  // Redis forgot it (as after a restart): EVAL once more, through the callback form.
  run(*client, {"SCRIPT", "FLUSH"});
  std::optional<RedisResult> third;
  client->eval(script, {"quota"}, {"5"}, [&](const RedisResult& r) { third = r; });
  ASSERT_TRUE(runUntil(ioc_, [&] { return third.has_value(); }));
  EXPECT_EQ(third->reply.integer, 15);
  EXPECT_EQ(calls(*client, "evalsha"), 3);
  EXPECT_EQ(calls(*client, "eval"), 2);

  // NOSCRIPT is part of the protocol, not an error worth counting.
  EXPECT_EQ(seen.errors["reply"], 0);

  // A script's own error comes back as an error reply.
  static const RedisScript failing = RedisScript::make("return redis.error_reply('over quota')");
  auto err = runEval(*client, failing, {}, {});
  EXPECT_EQ(err.reply.type, Type::Error);
  EXPECT_NE(err.reply.str.find("over quota"), std::string::npos);
}

TEST_F(RedisClientTest, ScriptShaIsRedisSha1) {
  // The SHA1 Redis itself reports for this script (SCRIPT LOAD "return 1").
  EXPECT_EQ(RedisScript::make("return 1").sha1, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST_F(RedisClientTest, AuthenticatesWithPasswordAndAclUser) {
  startServer({"--requirepass", "s3cret"});
  auto u = url();
  u.password = "s3cret";
  auto client = connect(u);
  ASSERT_TRUE(client->up());
  EXPECT_TRUE(run(*client, {"SET", "k", "v"}).ok());

  ASSERT_TRUE(run(*client, {"ACL", "SETUSER", "alice", "on", ">alicepw", "~*", "+@all"}).ok());
  auto alice_url = url();
  alice_url.username = "alice";
  alice_url.password = "alicepw";
  auto alice = connect(alice_url);
  ASSERT_TRUE(alice->up());
  EXPECT_EQ(run(*alice, {"ACL", "WHOAMI"}).reply.str, "alice");
}

TEST_F(RedisClientTest, WrongPasswordNeverComesUp) {
  startServer({"--requirepass", "s3cret"});
  auto u = url();
  u.password = "guessed-pw";
  Observed seen;
  RedisClient client(ioc_.get_executor(), u, fastOptions());
  seen.attach(client);
  client.start();
  ASSERT_TRUE(runUntil(ioc_, [&] { return seen.errors["connect"] >= 2; }));  // and it retries
  EXPECT_FALSE(client.up());
  EXPECT_TRUE(seen.states.empty());
  EXPECT_NE(client.lastError().find("AUTH"), std::string::npos) << client.lastError();
  EXPECT_NE(client.lastError().find("WRONGPASS"), std::string::npos) << client.lastError();
  EXPECT_EQ(client.lastError().find("guessed-pw"), std::string::npos) << client.lastError();
  EXPECT_EQ(run(client, {"PING"}).ec, net::error::not_connected);

  // No password at all against a server that wants one fails the PING step.
  RedisClient anonymous(ioc_.get_executor(), url(), fastOptions());
  anonymous.start();
  ASSERT_TRUE(runUntil(ioc_, [&] { return !anonymous.lastError().empty(); }));
  EXPECT_NE(anonymous.lastError().find("NOAUTH"), std::string::npos) << anonymous.lastError();
  EXPECT_FALSE(anonymous.up());
}

TEST_F(RedisClientTest, SelectsTheDatabase) {
  startServer();
  auto db3_url = url();
  db3_url.db = 3;
  auto db3 = connect(db3_url);
  auto db0 = connect(url());
  EXPECT_TRUE(run(*db3, {"SET", "k", "three"}).ok());
  EXPECT_EQ(run(*db0, {"GET", "k"}).reply.type, Type::Nil);
  EXPECT_TRUE(run(*db0, {"SET", "k", "zero"}).ok());
  EXPECT_EQ(run(*db3, {"GET", "k"}).reply.str, "three");
  EXPECT_NE(run(*db3, {"CLIENT", "INFO"}).reply.str.find(" db=3 "), std::string::npos);

  // A db the server does not have fails the handshake.
  auto bad_url = url();
  bad_url.db = 99;
  RedisClient bad(ioc_.get_executor(), bad_url, fastOptions());
  bad.start();
  ASSERT_TRUE(runUntil(ioc_, [&] { return !bad.lastError().empty(); }));
  EXPECT_FALSE(bad.up());
  EXPECT_NE(bad.lastError().find("SELECT"), std::string::npos) << bad.lastError();
}

TEST_F(RedisClientTest, TimedOutCommandsKeepRepliesAligned) {
  startServer();
  auto opts = fastOptions();
  opts.command_timeout = 200ms;
  Observed seen;
  auto client = connect(url(), opts, &seen);
  auto admin = connect(url());

  // Stall the whole server for 600 ms from another connection.
  admin->command({"DEBUG", "SLEEP", "0.6"}, {});
  runFor(ioc_, 50ms);

  struct Outcome {
    RedisResult result;
    Clock::duration waited{};
    bool done = false;
  };
  Outcome first, second;
  auto send = [&](Outcome& out) {
    client->command({"INCR", "aligned"}, [&out, start = Clock::now()](const RedisResult& r) {
      out = {r, Clock::now() - start, true};
    });
  };
  send(first);
  send(second);
  ASSERT_TRUE(runUntil(ioc_, [&] { return first.done && second.done; }));
  EXPECT_EQ(first.result.ec, net::error::timed_out);
  EXPECT_EQ(second.result.ec, net::error::timed_out);
  // Within about one command_timeout, well before the server wakes up.
  EXPECT_GE(first.waited, 150ms);
  EXPECT_LT(first.waited, 550ms);
  EXPECT_EQ(seen.errors["timeout"], 2);

  // Once the server wakes, the two late replies are dropped and the next caller gets its own.
  runFor(ioc_, 600ms);
  auto third = run(*client, {"INCR", "aligned"});
  EXPECT_FALSE(third.ec) << third.ec.message();
  EXPECT_EQ(third.reply.integer, 3);
  EXPECT_EQ(run(*client, {"GET", "aligned"}).reply.str, "3");
  EXPECT_TRUE(client->up());
  EXPECT_EQ(seen.states, std::vector<bool>{true});  // never went down
}

TEST_F(RedisClientTest, AServerThatStopsAnsweringIsReconnected) {
  startServer();
  auto opts = fastOptions();
  opts.command_timeout = 100ms;
  opts.connect_timeout = 300ms;
  Observed seen;
  auto client = connect(url(), opts, &seen);
  auto admin = connect(url());

  admin->command({"DEBUG", "SLEEP", "1.2"}, {});
  runFor(ioc_, 50ms);
  std::optional<RedisResult> stuck;
  client->command({"PING"}, [&](const RedisResult& r) { stuck = r; });
  // Timed out at 100 ms; overdue by 4 x 100 ms more, the connection is declared broken.
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return !client->up(); }, 2s));
  ASSERT_TRUE(stuck.has_value());
  EXPECT_EQ(stuck->ec, net::error::timed_out);
  EXPECT_EQ(seen.states, (std::vector<bool>{true, false}));
  EXPECT_EQ(seen.errors["io"], 1);
  EXPECT_EQ(run(*client, {"PING"}).ec, net::error::not_connected);

  // When the server answers again the client is back by itself.
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return client->up(); }, 4s))
      << client->lastError();
  EXPECT_EQ(seen.states, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(run(*client, {"PING"}).reply.str, "PONG");
}

TEST_F(RedisClientTest, ServerKilledThenRestartedOnTheSamePort) {
  startServer();
  Observed seen;
  auto client = connect(url(), fastOptions(), &seen);
  ASSERT_TRUE(client->up());

  // A command in flight when the server dies fails with the connection's error, not a timeout.
  std::optional<RedisResult> in_flight;
  client->command({"BLPOP", "never", "5"}, [&](const RedisResult& r) { in_flight = r; });
  runFor(ioc_, 20ms);
  server_->kill();
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return !client->up() && in_flight.has_value(); }, 2s));
  EXPECT_TRUE(in_flight->ec);
  EXPECT_NE(in_flight->ec, net::error::timed_out);
  EXPECT_EQ(seen.states, (std::vector<bool>{true, false}));
  EXPECT_EQ(seen.errors["io"], 1);
  EXPECT_FALSE(client->lastError().empty());

  // While down, commands fail at once instead of queueing.
  auto start = Clock::now();
  EXPECT_EQ(run(*client, {"PING"}).ec, net::error::not_connected);
  EXPECT_LT(Clock::now() - start, 100ms);
  runFor(ioc_, 300ms);  // a few refused reconnects
  EXPECT_GE(seen.errors["connect"], 1);
  EXPECT_NE(client->lastError().find("refused"), std::string::npos) << client->lastError();

  ASSERT_TRUE(server_->start());
  ASSERT_TRUE(runUntil(ioc_, [&] { return client->up(); })) << client->lastError();
  EXPECT_EQ(seen.states, (std::vector<bool>{true, false, true}));
  EXPECT_TRUE(run(*client, {"SET", "k", "v"}).ok());
  EXPECT_EQ(run(*client, {"GET", "k"}).reply.str, "v");
}

TEST_F(RedisClientTest, HandshakeTimesOutAgainstASilentServer) {
  // Something that completes TCP handshakes (the kernel does, from the backlog) but never
  // speaks RESP, like a stuck proxy in front of Redis.
  net::ip::tcp::acceptor silent(ioc_, {net::ip::make_address("127.0.0.1"), 0});
  RedisUrl u;
  u.host = "127.0.0.1";
  u.port = silent.local_endpoint().port();
  auto opts = fastOptions();
  opts.connect_timeout = 100ms;
  Observed seen;
  RedisClient client(ioc_.get_executor(), u, opts);
  seen.attach(client);
  client.start();
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return seen.errors["connect"] >= 2; }, 2s));
  EXPECT_FALSE(client.up());
  EXPECT_NE(client.lastError().find("timed out"), std::string::npos) << client.lastError();
}

TEST_F(RedisClientTest, ResolvesHostNames) {
  startServer();
  auto u = url();
  u.host = "localhost";  // may resolve to ::1 first, where nothing listens
  auto client = connect(u);
  EXPECT_TRUE(client->up()) << client->lastError();
  EXPECT_EQ(run(*client, {"PING"}).reply.str, "PONG");
}

TEST_F(RedisClientTest, StopAbortsOutstandingCommands) {
  startServer();
  RedisClient idle(ioc_.get_executor(), url(), fastOptions());
  EXPECT_EQ(run(idle, {"PING"}).ec, net::error::not_connected);  // not started

  Observed seen;
  auto client = connect(url(), fastOptions(), &seen);
  std::optional<RedisResult> blocked;
  client->command({"BLPOP", "never", "5"}, [&](const RedisResult& r) { blocked = r; });
  runFor(ioc_, 20ms);
  client->stop();
  EXPECT_FALSE(client->up());
  ASSERT_TRUE(runUntil(
      ioc_, [&] { return blocked.has_value(); }, 1s));
  EXPECT_EQ(blocked->ec, net::error::operation_aborted);
  EXPECT_EQ(run(*client, {"PING"}).ec, net::error::not_connected);
  EXPECT_EQ(seen.states, std::vector<bool>{true});  // stop() is not reported as a transition
  EXPECT_TRUE(seen.errors.empty());
}

TEST_F(RedisClientTest, DestroyedWithWorkInFlight) {
  startServer();
  auto client = connect(url());
  bool called = false;
  client->command({"BLPOP", "never", "5"}, [&](const RedisResult&) { called = true; });
  runFor(ioc_, 20ms);
  client.reset();  // handlers still queued hold the state, not the client
  runFor(ioc_, 50ms);
  EXPECT_TRUE(called);
}

TEST_F(RedisClientTest, OutlivesAStoppedOrDestroyedIoContext) {
  startServer();
  for (bool destroy_context_first : {false, true}) {
    auto ioc = std::make_unique<net::io_context>();
    auto client = std::make_unique<RedisClient>(ioc->get_executor(), url(), fastOptions());
    client->start();
    ASSERT_TRUE(runUntil(*ioc, [&] { return client->up(); }));
    client->command({"BLPOP", "never", "5"}, [](const RedisResult&) {});
    client->command({"BLPOP", "never", "5"}, {});
    ioc->run_for(20ms);
    ioc->stop();
    if (destroy_context_first) {
      ioc.reset();
      client.reset();
    } else {
      client.reset();
      ioc.reset();
    }
  }
}

}  // namespace
}  // namespace atrium::proxy::redis
